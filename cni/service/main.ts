// Runs the CNI service on its own (tests, benchmarks, or a host without the agent):
// `node cni/service/main.ts [runDir]`. Prints "ready <dir>" once clients can reach it; stops on SIGTERM/SIGINT.
import { startCniService } from './server.ts'

const service = await startCniService({
  runDir: process.argv[2] || process.env.WEFT_CNI_RUN_DIR || undefined,
  onError: (err) => process.stderr.write(`weft cni service: ${err.message}\n`),
})
process.stdout.write(`ready ${service.dir}\n`)
for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  process.once(sig, () => void service.close().then(() => process.exit(0)))
}
