// Runs one CNI invocation in this process: `node cni/main.ts bridge|ipam`, with the CNI_*
// environment and the network config on stdin. The bin scripts fall back to this when no
// warm service answers in their network namespace.
import { readFileSync } from 'node:fs'
import { pluginByName } from './plugins.ts'
import { runPlugin } from './protocol/dispatch.ts'

const name = process.argv[2] ?? 'bridge'
const handlers = pluginByName(name)
if (handlers === undefined) {
  process.stderr.write(`unknown weft CNI plugin "${name}" (expected bridge or ipam)\n`)
  process.exit(2)
}
const command = process.env.CNI_COMMAND
const stdin = command === 'VERSION' ? '' : readFileSync(0, 'utf8')
const out: string[] = []
const code = await runPlugin(handlers, { env: process.env, stdin, stdout: (s) => out.push(s) })
process.stdout.write(out.join(''), () => process.exit(code))
