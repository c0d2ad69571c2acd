// Runs the CNI service on its own (tests, benchmarks, or a host without the agent):
// `node cni/service/main.ts [runDir]`. Prints "ready <dir>" once clients can reach it; stops on SIGTERM/SIGINT.
// WEFT_CNI_IO_TIMEOUT_MS overrides how long it waits on a client's stdin and stdout,
// WEFT_CNI_MAX_INFLIGHT how many requests it serves at once (more are answered "busy").
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Spawner, useSpawner } from '../../src/netlink/index.ts'
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
// As in the node agent: the commands the plugins run (nft among them) are started by a small
// helper rather than by forking this process.
const jobs = mkdtempSync(join(tmpdir(), 'weft-cni-jobs-'))
const spawner = new Spawner(jobs)
useSpawner(spawner)
const service = await startCniService({
  runDir: process.argv[2] || process.env.WEFT_CNI_RUN_DIR || undefined,
  onError: (err) => process.stderr.write(`weft cni service: ${err.message}\n`),
  ...(ioTimeoutMs !== undefined ? { ioTimeoutMs } : {}),
  ...(maxInflight !== undefined ? { maxInflight } : {}),
})
process.stdout.write(`ready ${service.dir}\n`)
for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  process.once(sig, () =>
    void service.close().then(() => {
      spawner.close()
      rmSync(jobs, { recursive: true, force: true })
      process.exit(0)
    }),
  )
}
