// `node --import` this file: at exit, prints every module URL the process resolved as one JSON
// line on stderr (`{"modules":[…]}`), so a test can tell what a command loaded.
import { registerHooks } from 'node:module'

const loaded = new Set<string>()
registerHooks({
  resolve(specifier, context, nextResolve) {
    const result = nextResolve(specifier, context)
    loaded.add(result.url)
    return result
  },
})
process.on('exit', () => process.stderr.write(`${JSON.stringify({ modules: [...loaded] })}\n`))
