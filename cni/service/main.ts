// Runs the CNI service on its own (tests, benchmarks, or a host without the agent):
// `node cni/service/main.ts [runDir]`. Prints "ready <dir>" once clients can reach it; stops on SIGTERM/SIGINT.
// WEFT_CNI_IO_TIMEOUT_MS overrides how long it waits on a client's stdin and stdout,
// WEFT_CNI_MAX_INFLIGHT how many requests it serves at once (more are answered "busy").
import { startCniService } from './server.ts'

function wholeNumber(name: string, what: string): number | undefined {
  const text = process.env[name]
  if (text === undefined) return undefined
  if (!/^[1-9]\d{0,8}$/.test(text)) {
    process.stderr.write(`weft cni service: ${name} must be a whole number of ${what}, not ${JSON.stringify(text)}\n`)
    process.exit(2)
  }
  return Number(text)
}

const ioTimeoutMs = wholeNumber('WEFT_CNI_IO_TIMEOUT_MS', 'milliseconds')
const maxInflight = wholeNumber('WEFT_CNI_MAX_INFLIGHT', 'requests')
const service = await startCniService({
  runDir: process.argv[2] || process.env.WEFT_CNI_RUN_DIR || undefined,
  onError: (err) => process.stderr.write(`weft cni service: ${err.message}\n`),
  ...(ioTimeoutMs !== undefined ? { ioTimeoutMs } : {}),
  ...(maxInflight !== undefined ? { maxInflight } : {}),
})
process.stdout.write(`ready ${service.dir}\n`)
for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  process.once(sig, () => void service.close().then(() => process.exit(0)))
}
