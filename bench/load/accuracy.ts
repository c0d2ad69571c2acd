// The accuracy figures on this machine, for `weft load` itself (the command): against a
// server in its own process that answers every request after 5 ms to the tenth of a millisecond
// (test/load/programs/delay-server.ts), open loop at a few rates: the p50 weft load reports
// against 5 ms (target: within 0.3 ms) and the rate the server saw against --rate (within 1%).
// test/load/accuracy.test.ts checks the same with bounds a busy CI machine keeps; this is where
// the strict figure is taken, on a machine doing nothing else.
import { readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import type { LoadResult } from '../../load/types.ts'
import type { Cleanup } from '../lib/cleanup.ts'
import { sleep } from '../lib/clock.ts'
import { startProcess } from '../lib/process.ts'
import { timedRun } from '../lib/timed-run.ts'

const NODE = resolve(import.meta.dirname, '../../node_modules/.bin/node')
const DELAY_SERVER = resolve(import.meta.dirname, '../../test/load/programs/delay-server.ts')

export interface AccuracyRun {
  rate: number
  p50: number
  serverMedianDelay: number
  serverRate: number
}

async function serverPort(logFile: string): Promise<number> {
  for (let waited = 0; waited < 10_000; waited += 50) {
    const first = readFileSync(logFile, 'utf8').split('\n')[0] ?? ''
    if (/^\d+$/.test(first.trim())) return Number(first)
    await sleep(50)
  }
  throw new Error(`the delay server printed no port: ${readFileSync(logFile, 'utf8').slice(-500)}`)
}

export async function accuracyRun(cleanup: Cleanup, weft: string, dir: string, rate: number, seconds: number): Promise<AccuracyRun> {
  const label = `accuracy-${rate}`
  const server = startProcess(cleanup, NODE, ['--disable-warning=ExperimentalWarning', DELAY_SERVER, '--delay-ms', '5'], { logFile: join(dir, `${label}-server.out`) })
  try {
    const port = await serverPort(server.logFile)
    const resultDir = join(dir, label)
    await timedRun(cleanup, weft, ['load', `http://127.0.0.1:${port}/`, '--rate', String(rate), '--duration', `${seconds}s`, '--warmup', '500ms', '--no-endpoints', '--progress', 'none', '--out', resultDir], join(dir, `${label}.out`))
    const result = JSON.parse(readFileSync(join(resultDir, 'result.json'), 'utf8')) as LoadResult
    if (result.totals.errors > 0) throw new Error(`weft load saw errors against the delay server (see ${resultDir})`)
    const stats = (await (await fetch(`http://127.0.0.1:${port}/stats`)).json()) as { count: number; firstArrival: number; lastArrival: number; medianDelayMs: number }
    return {
      rate,
      p50: result.latency.percentiles.find((p) => p.p === 50)?.ms ?? NaN,
      serverMedianDelay: stats.medianDelayMs,
      // It counts the warm-up too: its rate is over the whole span it saw requests in.
      serverRate: ((stats.count - 1) * 1000) / (stats.lastArrival - stats.firstArrival),
    }
  } finally {
    await server.stop(1000)
  }
}
