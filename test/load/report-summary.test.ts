import t from 'tap'
import { errorBursts, errorsDuring } from '../../load/report/error-bursts.ts'
import { formatCount, formatMs, formatPercent, formatSeconds, percentileLabel, terminalSafe, textBar } from '../../load/report/format.ts'
import { formatSummary } from '../../load/report/summary.ts'
import { closedDnsResult, hostileResult, makeResult, rolloutResult } from './fixtures/results.ts'

function lineWith(text: string, needle: string): string {
  const line = text.split('\n').find((candidate) => candidate.includes(needle))
  if (line === undefined) throw new Error(`no line with ${JSON.stringify(needle)} in:\n${text}`)
  return line
}

t.test('numbers as the summary shows them', async (t) => {
  t.equal(formatCount(1234567), '1,234,567')
  t.equal(formatCount(999), '999')
  t.equal(formatCount(-1234.5, 1), '-1,234.5')
  t.equal(formatMs(0.9124), '0.912')
  t.equal(formatMs(5.0123), '5.01')
  t.equal(formatMs(12.34), '12.3')
  t.equal(formatMs(1002.4), '1,002')
  t.equal(formatPercent(0.0015), '0.150%')
  t.equal(formatPercent(0.25), '25.0%')
  t.equal(formatPercent(1), '100%')
  t.equal(formatPercent(0), '0%')
  t.equal(formatPercent(0.000001), '<0.001%')
  t.equal(formatSeconds(45), '45 s')
  t.equal(formatSeconds(0.2), '0.2 s')
  t.equal(formatSeconds(200), '3 min 20 s')
  t.equal(formatSeconds(3900), '1 h 5 min')
  t.equal(percentileLabel(99.9), 'p99.9')
  t.equal(percentileLabel(50), 'p50')
  t.equal(percentileLabel(100), 'max')
  t.equal(textBar(0.5, 4), '██')
  t.equal(textBar(1 / 16, 4), '▎')
  t.equal(textBar(2, 3), '███')
  t.equal(terminalSafe('a\u001b[2Jb\nc\u202e\u2028'), 'a\\u001b[2Jb\\u000ac\\u202e\\u2028')
})

t.test('error bursts: runs of seconds with errors, tied to the actions then', async (t) => {
  const result = rolloutResult()
  const bursts = errorBursts(result)
  t.equal(bursts.length, 2)
  t.match(bursts[0], { firstSecond: 30, lastSecond: 31, errors: 45, classes: [{ class: 'reset', count: 42 }, { class: 'refused', count: 3 }] })
  t.same(bursts[0].during.map((action) => action.name), ['rollout deployment/web'])
  t.equal(bursts[0].after, undefined)
  t.match(bursts[1], { firstSecond: 51, lastSecond: 51, errors: 4, during: [] })
  t.equal(bursts[1].after?.name, 'delete pod web-7c9f-8x2kq')
  const rollout = errorsDuring(result, result.actions[0])
  t.equal(rollout.errors, 45)
  t.equal(rollout.sent, result.timeline.filter((entry) => entry.second >= 20 && entry.second <= 41).reduce((sum, entry) => sum + entry.sent, 0))
  t.equal(errorsDuring(result, result.actions[1]).errors, 0)
})

t.test('an action that never completed spans to the end of the run', async (t) => {
  const result = makeResult({
    seconds: 30,
    actions: [{ name: 'drain node-2', kind: 'drain', atSecond: 10, ok: false, message: 'timed out waiting for eviction' }],
    errors: { 25: { timeout: 7 } },
  })
  const [burst] = errorBursts(result)
  t.same(burst.during.map((action) => action.name), ['drain node-2'])
  const text = formatSummary(result)
  t.match(lineWith(text, 'drain node-2  FAILED'), /10 s → \(not completed\)\s+drain node-2  FAILED, 7 errors during it \(7 timeout\)/)
  t.match(text, 'errors at 25 s: 7 timeout, during drain node-2')
})

t.test('the rollout summary: key lines', async (t) => {
  const result = rolloutResult()
  const text = formatSummary(result)
  t.ok(text.endsWith('\n'))
  t.notMatch(text, /\u001b/, 'no escape sequences')
  t.equal(lineWith(text, 'Target'), 'Target     svc/web.default:80 → ClusterIP 10.96.0.12:80')
  t.equal(lineWith(text, 'Protocol'), 'Protocol   HTTP/1.1, keep-alive, 1 address (10.96.0.12:80)')
  t.equal(lineWith(text, 'Load'), 'Load       open loop at 500/s, up to 64 connections, 60 s after 5 s warm-up, timeout 10 s')
  t.equal(lineWith(text, 'From'), 'From       2 generators: weft-load-0 on node-1, weft-load-1 on node-2')
  const { totals } = result
  t.equal(lineWith(text, 'Requests'), `Requests   sent 30,000   ok ${formatCount(totals.ok)}   errors ${totals.errors} (${formatPercent(totals.errorRate)})`)
  t.equal(totals.sent, 30_000)
  t.equal(totals.errors, 49)
  t.match(lineWith(text, 'Rate'), /sent 500\/s {3}ok 499\.2\/s {3}target 500\/s \(100% achieved\)/)
  t.match(lineWith(text, '  reset'), /^ {2}reset +42 +85\.7%$/)
  t.match(lineWith(text, '  refused'), /^ {2}refused +3 +6\.1%$/)
  for (const entry of result.latency.percentiles) {
    t.match(lineWith(text, `  ${percentileLabel(entry.p)} `), new RegExp(`^  ${percentileLabel(entry.p).replace('.', '\\.')} +${formatMs(entry.ms).replace('.', '\\.')}$`))
  }
  t.match(lineWith(text, 'Latency'), /^Latency    ms, 30,000 requests: min [\d.]+, mean [\d.]+, stddev [\d.]+, max [\d,.]+$/)
  t.match(lineWith(text, 'Endpoints'), 'Endpoints  4 answered')
  for (const endpoint of result.endpoints) {
    t.match(lineWith(text, endpoint.name), new RegExp(`^  ${endpoint.name}  ${formatCount(endpoint.requests)} +${formatPercent(endpoint.share).replace('.', '\\.')}  █{4,5}[▏▎▍▌▋▊▉]?$`))
  }
  t.match(lineWith(text, '20 s → 41 s'), /^ {2}20 s → 41 s \(21 s\) +rollout deployment\/web +ok, 45 errors during it \(42 reset, 3 refused\)$/)
  t.match(text, 'deployment/web rolled out: 4 of 4 replicas updated')
  t.match(lineWith(text, 'delete pod web-7c9f-8x2kq  ok'), /50\.2 s → 50\.4 s \(0\.2 s\)\s+delete pod web-7c9f-8x2kq  ok, no errors during it/)
  t.equal(lineWith(text, 'errors at 30'), '  errors at 30–31 s: 42 reset, 3 refused, during rollout deployment/web')
  t.equal(lineWith(text, 'errors at 51'), '  errors at 51 s: 4 timeout, 0.6 s after delete pod web-7c9f-8x2kq ended')
})

t.test('a closed-loop run with no endpoints, errors or actions', async (t) => {
  const text = formatSummary(closedDnsResult())
  t.equal(lineWith(text, 'Target'), 'Target     dns://10.96.0.10/web.default.svc.cluster.local?type=A (DNS 10.96.0.10:53, A web.default.svc.cluster.local)')
  t.equal(lineWith(text, 'Load'), 'Load       closed loop, 32 in flight, 10 s, timeout 10 s')
  t.equal(lineWith(text, 'Errors'), 'Errors     none')
  t.match(lineWith(text, 'Rate'), /^Rate {7}sent [\d,]+\/s {3}ok [\d,]+\/s$/, 'no target rate in closed loop')
  t.match(lineWith(text, 'Endpoints'), 'not identified')
  t.equal(lineWith(text, 'Timeline'), 'Timeline   no second had errors')
  t.notMatch(text, 'Actions')
  t.match(lineWith(text, '  p50'), /^ {2}p50 +0\.\d{3}$/)
})

t.test('phases, many endpoints and many bursts are summed up, not listed forever', async (t) => {
  const errors: Record<number, { reset: number }> = {}
  for (let second = 0; second < 100; second += 2) errors[second] = { reset: 1 }
  const result = makeResult({ seconds: 100, rate: 100, endpoints: Array.from({ length: 30 }, (_, i) => `pod-${i}`), errors, samplesPerSecond: 20 })
  result.phases = [
    { name: 'ramp', startSecond: 0, durationSeconds: 40, rate: 10, rateTo: 100 },
    { name: 'steady', startSecond: 40, durationSeconds: 60, rate: 100 },
  ]
  const text = formatSummary(result)
  t.equal(lineWith(text, 'Phases'), 'Phases     ramp 0 s–40 s 10/s → 100/s; steady 40 s–100 s 100/s')
  t.equal(text.split('\n').filter((line) => /^ {2}pod-\d+ /.test(line)).length, 20)
  t.match(text, /… and 10 more with [\d,]+ requests/)
  t.match(lineWith(text, 'Timeline'), '50 stretches of seconds with errors')
  t.equal(text.split('\n').filter((line) => line.startsWith('  errors at ')).length, 20)
  t.match(text, '… and 30 more stretches with 30 errors')
})

t.test('hostile names cannot put escape sequences or line breaks on the terminal', async (t) => {
  const text = formatSummary(hostileResult())
  t.notMatch(text, /[\u001b\u2028\u202e]/)
  t.match(text, '\\u001b[2J')
  const lines = text.split('\n')
  t.ok(lines.every((line) => !line.includes('\r')))
  t.ok(lines.filter((line) => line.includes('<img')).every((line) => line.length < 400), 'long names are cut')
})
