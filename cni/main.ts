// Runs one CNI invocation in this process: `node cni/plugin.mjs bridge|ipam` (which turns
// on the compile cache, then loads this), with the CNI_* environment and the network config
// on stdin. The bin scripts fall back to this when no warm service answers in their network
// namespace.
import { pluginByName } from './plugins.ts'
import { runPlugin } from './protocol/dispatch.ts'
import { toCniError } from './protocol/errors.ts'
import { readBounded } from './protocol/stdin.ts'
import { LATEST_VERSION } from './protocol/version.ts'

const name = process.argv[2] ?? 'bridge'
const handlers = pluginByName(name)
if (handlers === undefined) {
  process.stderr.write(`unknown weft CNI plugin "${name}" (expected bridge or ipam)\n`)
  process.exit(2)
}
const out: string[] = []
let code: number
try {
  const stdin = process.env.CNI_COMMAND === 'VERSION' ? '' : readBounded(0)
  code = await runPlugin(handlers, { env: process.env, stdin, stdout: (s) => out.push(s) })
} catch (err) {
  out.push(JSON.stringify(toCniError(err).toJSON(LATEST_VERSION)) + '\n')
  code = 1
}
process.stdout.write(out.join(''), () => process.exit(code))
