// Runs the CNI service on its own (tests, benchmarks, or a host without the agent):
// `node cni/service/main.ts [runDir]`. Prints "ready <dir>" once clients can reach it; stops on SIGTERM/SIGINT.
// WEFT_CNI_IO_TIMEOUT_MS overrides how long it waits on a client's stdin and stdout.
import { startCniService } from './server.ts'

const timeout = process.env.WEFT_CNI_IO_TIMEOUT_MS
if (timeout !== undefined && !/^[1-9]\d{0,8}$/.test(timeout)) {
  process.stderr.write(`weft cni service: WEFT_CNI_IO_TIMEOUT_MS must be a whole number of milliseconds, not ${JSON.stringify(timeout)}\n`)
  process.exit(2)
}
const service = await startCniService({
  runDir: process.argv[2] || process.env.WEFT_CNI_RUN_DIR || undefined,
  onError: (err) => process.stderr.write(`weft cni service: ${err.message}\n`),
  ...(timeout !== undefined ? { ioTimeoutMs: Number(timeout) } : {}),
})
process.stdout.write(`ready ${service.dir}\n`)
for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  process.once(sig, () => void service.close().then(() => process.exit(0)))
}
