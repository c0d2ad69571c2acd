// The accuracy proof, against a server in another process on loopback:
// - a fixed 5 ms delay: the p50 weft load reports is what the server held (its own median hold)
//   plus less than the hold again, never less, and the rate the server saw is within 1% of
//   --rate. The figure, p50 within 0.3 ms of 5 ms, is taken by bench/load on a machine
//   doing nothing else (benchmarks are not timed tests): here three test files share two
//   cores, and the scheduling of the server, this process and the others has added 0.3–1.7 ms
//   to the p50 in CI runs; an error of method (a send time taken from the wrong clock, latency
//   measured from the actual send instead of the intended one under backlog) shows as more;
// - a server that stalls for 1 s once: the open-loop p99 shows the stall (coordinated omission is
//   not hidden), where a closed loop against the same server hides it.
// Bounds on a busy 2-core machine (CI runs two test files at once): the rates stay modest (≤ 2000/s,
// ~10 requests in flight); what could add to the p50 is the server being late (it reports its own
// median delay, shown in the messages) and this process being descheduled. A measurement that
// misses its bound is taken again (three attempts in all): scheduling noise spoils runs, not all.
import t from 'tap'
import { request } from 'node:http'
import { runLoad } from '../../load/engine.ts'
import { createHttp1Client } from '../../load/protocols/http1.ts'
import { toResult, type ResultMeta } from '../../load/result.ts'
import type { LoadPlan, LoadResult, ResolvedTarget } from '../../load/types.ts'
import { startProgram } from './programs/child.ts'

interface ServerStats {
  count: number
  firstArrival: number
  lastArrival: number
  medianDelayMs: number
}

function serverStats(port: number): Promise<ServerStats> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/stats', agent: false }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => (body += chunk))
      res.on('end', () => resolve(JSON.parse(body) as ServerStats))
    })
    req.on('error', reject)
    req.end()
  })
}

function target(port: number): ResolvedTarget {
  return {
    protocol: 'http1',
    tls: false,
    endpoints: [{ host: '127.0.0.1', port }],
    authority: `127.0.0.1:${port}`,
    insecure: false,
    path: '/',
    method: 'GET',
    headers: [],
    description: 'delay server',
    spec: `http://127.0.0.1:${port}/`,
  }
}

async function measure(port: number, plan: LoadPlan): Promise<LoadResult> {
  const snapshot = await runLoad({ plan, target: target(port), createClient: createHttp1Client })
  const meta: ResultMeta = {
    target: { spec: 'test', description: 'test', protocol: 'http1', tls: false, endpoints: [] },
    options: { mode: plan.phases[0].rate === undefined ? 'closed-loop' : 'open-loop', connections: plan.connections, keepAlive: true, warmupSeconds: plan.warmupMs / 1000, timeoutSeconds: plan.timeoutMs / 1000 },
    generators: [{ name: 'local' }],
    phases: [],
    actions: [],
  }
  return toResult(snapshot, meta)
}

const p = (result: LoadResult, percentile: number) => result.latency.percentiles.find((x) => x.p === percentile)!.ms

for (const rate of [200, 1000, 2000]) {
  t.test(`fixed 5 ms delay at ${rate} requests/s: p50 at least the server's hold and under twice it, rate within 1%`, async (t) => {
    const durationMs = 3000
    const holdMs = 5
    let attempt = 0
    for (;;) {
      attempt++
      const server = await startProgram(t, 'delay-server.ts', ['--delay-ms', String(holdMs)])
      const result = await measure(server.port, {
        phases: [{ name: 'steady', durationMs, rate }],
        connections: 64,
        keepAlive: true,
        warmupMs: 500,
        timeoutMs: 5000,
        identifyEndpoints: false,
      })
      const stats = await serverStats(server.port)
      server.child.kill('SIGKILL')
      const p50 = p(result, 50)
      // The server counts warm-up requests too; its rate is over the whole span it saw them in.
      const serverRate = ((stats.count - 1) * 1000) / (stats.lastArrival - stats.firstArrival)
      const rateError = Math.abs(serverRate - rate) / rate
      const okRateError = Math.abs(result.totals.okRate - rate) / rate
      const detail = `attempt ${attempt}: p50 ${p50} ms (p99 ${p(result, 99)} ms; the server's own median delay ${stats.medianDelayMs.toFixed(3)} ms), rate seen by the server ${serverRate.toFixed(2)}/s, ok rate ${result.totals.okRate}/s`
      const added = p50 - stats.medianDelayMs
      const good = result.totals.errors === 0 && result.totals.sent === (rate * durationMs) / 1000 && added < holdMs && added >= -0.05 && rateError <= 0.01 && okRateError <= 0.01
      if (!good && attempt < 3) {
        t.comment(`missed a bound, measuring again: ${detail}`)
        continue
      }
      t.equal(result.totals.errors, 0, 'no errors')
      t.equal(result.totals.sent, (rate * durationMs) / 1000, 'every scheduled request sent')
      t.ok(added < holdMs && added >= -0.05, `p50 over the server's own hold by less than the hold, never below it: ${detail}`)
      t.ok(rateError <= 0.01, `the rate the server saw within 1% of ${rate}/s: ${detail}`)
      t.ok(okRateError <= 0.01, `answers per second within 1% of ${rate}/s: ${detail}`)
      break
    }
  })
}

t.test('a 1 s stall shows in the open-loop p99 (coordinated omission not hidden); a closed loop hides it', async (t) => {
  const rate = 1000
  // The stall starts at the 2000th request: 1.5 s into the run after 0.5 s of warm-up.
  const open = await startProgram(t, 'delay-server.ts', ['--delay-ms', '1', '--stall-after', '2000', '--stall-ms', '1000'])
  const openResult = await measure(open.port, {
    phases: [{ name: 'steady', durationMs: 4000, rate }],
    connections: 2000,
    keepAlive: true,
    warmupMs: 500,
    timeoutMs: 5000,
    identifyEndpoints: false,
  })
  open.child.kill('SIGKILL')
  t.equal(openResult.totals.errors, 0)
  t.equal(openResult.totals.sent, 4000, 'the sender kept its rate through the stall')
  // ~1000 of 4000 requests were meant during the stall and waited for its end: a quarter of the
  // latencies spread over 0..1000 ms, so p99 is near 1 s and p90 several hundred ms.
  t.ok(p(openResult, 99) >= 900, `open loop p99 ${p(openResult, 99)} ms reflects the stall`)
  t.ok(p(openResult, 90) >= 400, `open loop p90 ${p(openResult, 90)} ms`)
  // The bounds below are the distribution's shape, far from the 1 s stall, not speed: three test
  // files at once on 2 cores once held the median of the requests after the stall at 108 ms.
  t.ok(p(openResult, 50) < 400, `open loop p50 ${p(openResult, 50)} ms: most requests did not wait for the stall`)
  const stalledSecond = openResult.timeline.reduce((worst, s) => (s.max > worst.max ? s : worst))
  t.ok(stalledSecond.second >= 1 && stalledSecond.second <= 2, `the stall is in second ${stalledSecond.second} of the timeline`)

  const closed = await startProgram(t, 'delay-server.ts', ['--delay-ms', '1', '--stall-after', '2000', '--stall-ms', '1000'])
  const closedResult = await measure(closed.port, {
    phases: [{ name: 'flat out', durationMs: 4000 }],
    connections: 4,
    keepAlive: true,
    warmupMs: 0,
    timeoutMs: 5000,
    identifyEndpoints: false,
  })
  closed.child.kill('SIGKILL')
  t.equal(closedResult.totals.errors, 0)
  t.ok(closedResult.totals.sent > 2000, `closed loop sent ${closedResult.totals.sent}`)
  // Only the 4 requests in flight saw the stall; the loop then simply sent less.
  t.ok(p(closedResult, 99) < 400, `closed loop p99 ${p(closedResult, 99)} ms hides the stall`)
  t.ok(closedResult.latency.max >= 900, `its max ${closedResult.latency.max} ms is the only trace`)
})
