import t from 'tap'
import { compareResults, renderCompareReport } from '../../load/report/compare.ts'
import { errorClasses } from '../../load/types.ts'
import { embeddedData, markupOf, policyOf, scriptsOf, sha256Source } from './fixtures/html.ts'
import { hostileResult, hostileText, makeResult, rolloutActions, rolloutResult } from './fixtures/results.ts'

const a = rolloutResult()
const b = makeResult({
  baseMs: 4,
  endpoints: ['web-7c9f-8x2kq', 'web-7c9f-bq4lm', 'web-5d8b-q9zzt'],
  actions: [{ ...rolloutActions[0], atSecond: 22, completedSecond: 38 }],
  errors: { 33: { 'http-5xx': 12 } },
  seed: 3,
})

function lineWith(text: string, start: string): string {
  const line = text.split('\n').find((candidate) => candidate.startsWith(start))
  if (line === undefined) throw new Error(`no line starting ${JSON.stringify(start)} in:\n${text}`)
  return line
}

function columns(line: string): string[] {
  return line.trim().split(/\s{2,}/)
}

t.test('the runs, then totals, latency, errors and endpoints side by side', async (t) => {
  const text = compareResults(a, b, ['nftables.json', 'userspace.json'])
  t.ok(text.endsWith('\n'))
  t.equal(lineWith(text, 'A  '), 'A  nftables.json')
  t.equal(lineWith(text, 'B  '), 'B  userspace.json')
  t.match(text, '   svc/web.default:80 → ClusterIP 10.96.0.12:80\n   open loop at 500/s')
  t.same(columns(lineWith(text, 'Totals')), ['Totals', 'A', 'B', 'Δ', 'B/A'])
  t.same(columns(lineWith(text, '  sent ')), ['sent', '30,000', '30,005', '+5', '1.00×'])
  t.same(columns(lineWith(text, '  errors')), ['errors', '49', '12', '−37', '0.24×'])
  t.same(columns(lineWith(text, '  error rate')), ['error rate', '0.163%', '0.040%', '−0.123%', '0.24×'])
  t.same(columns(lineWith(text, '  ok per second')), ['ok per second', '499.2/s', '499.9/s', '+0.7/s', '1.00×'])
  const p50a = a.latency.percentiles[0].ms
  const p50b = b.latency.percentiles[0].ms
  t.same(columns(lineWith(text, '  p50')), ['p50', '5.01', '4.00', '−1.00', (p50b / p50a).toFixed(2) + '×'])
  t.same(columns(lineWith(text, '  p99.9 ')), ['p99.9', '851', '17.6', '−833', '0.02×'])
  t.same(columns(lineWith(text, '  max')), ['max', '905', '19.8', '−885', '0.02×'])
  t.same(columns(lineWith(text, '  reset')), ['reset', '42', '0', '−42', '0.00×'])
  t.same(columns(lineWith(text, '  http-5xx')), ['http-5xx', '0', '12', '+12', '–'], 'no ratio against zero')
  t.same(columns(lineWith(text, '  web-7c9f-hz7wd')), ['web-7c9f-hz7wd', '7,631 (25.5%)', '–'], 'an endpoint only A saw')
  t.same(columns(lineWith(text, '  web-5d8b-q9zzt')), ['web-5d8b-q9zzt', '–', '10,090 (33.6%)'], 'an endpoint only B saw')
  t.same(columns(lineWith(text, '  web-7c9f-8x2kq')), ['web-7c9f-8x2kq', '7,858 (26.2%)', '10,641 (35.5%)'], 'one both saw')
  const errorsBlock = text.slice(text.indexOf('Errors by class'), text.indexOf('Endpoints'))
  t.same(
    errorsBlock.trim().split('\n').slice(1).map((line) => columns(line)[0]),
    errorClasses.filter((name) => ['refused', 'reset', 'timeout', 'http-5xx'].includes(name)),
    'classes of either run, in class order',
  )
})

t.test('comparing a run with itself: zero deltas, ratios of one', async (t) => {
  const text = compareResults(a, a, ['a.json', 'a.json'])
  for (const label of ['  sent', '  p50', '  p99 ', '  mean']) t.same(columns(lineWith(text, label)).slice(-2), ['0', '1.00×'], label)
})

t.test('labels and names from hostile files stay plain text', async (t) => {
  const text = compareResults(hostileResult(), a, [hostileText, 'b.json'])
  t.notMatch(text, /[\u001b\u2028\u202e\r]/)
  t.match(lineWith(text, 'A  '), '\\u001b[2J')
})

t.test('the compare page: both runs on the same charts, the policy, escaped names', async (t) => {
  const html = renderCompareReport(a, b, ['nftables.json', 'userspace.json'])
  const policy = policyOf(html)
  t.same(policy.get('default-src'), ["'none'"])
  t.same(policy.get('script-src'), scriptsOf(html).filter((script) => script.attributes === '').map((script) => sha256Source(script.body)))
  t.same(embeddedData(html), { runs: [{ label: 'A: nftables.json', result: a }, { label: 'B: userspace.json', result: b }], errorClasses })
  for (const kind of ['latency', 'errors', 'spectrum', 'endpoints']) t.match(html, `<div data-chart="${kind}"></div>`)
  t.match(html, '<h1>weft load: nftables.json vs userspace.json</h1>')
  t.match(html, '<tr><td>errors</td><td class="num">49</td><td class="num">12</td><td class="num">−37</td><td class="num">0.24×</td></tr>')
  t.match(html, '<tr><td>http-5xx</td><td class="num">0</td><td class="num bad">12</td><td class="num bad">+12</td><td class="num">–</td></tr>', 'worse in B is marked')

  const hostile = renderCompareReport(hostileResult(), a, [hostileText, 'b.json'])
  const markup = markupOf(hostile)
  t.notMatch(markup, /<img|<[^>]*\sonerror\s*=|<!--/i)
  t.equal(scriptsOf(hostile).length, 3)
  t.match(markup, '&#60;/script&#62;&#60;img src=x')
})
