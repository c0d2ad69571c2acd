// Runs `weft up|down|lab` the way src/cli/main.ts does, for the lab tests (independent of
// main.ts's dispatch table). Usage: node test/lab/weft-cli.ts up|down|lab ARGS…
import { runDown, runLab, runUp } from '../../src/cli/lab.ts'

const commands: Record<string, (argv: string[]) => Promise<void>> = { up: runUp, down: runDown, lab: runLab }
const [name, ...rest] = process.argv.slice(2)
const command = commands[name ?? '']
if (!command) {
  process.stderr.write(`weft-cli: unknown command "${name}"\n`)
  process.exit(2)
}
try {
  await command(rest)
} catch (err) {
  process.stderr.write(`weft ${name}: ${err instanceof Error ? err.message : String(err)}\n`)
  process.exit(1)
}
