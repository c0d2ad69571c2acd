// A load pod's input checked strictly: its job (WEFT_LOAD_JOB) and the line protocol both ways.
import t from 'tap'
import { parseJob, validatePlan, validateTarget, type LoadJob } from '../../load/job.ts'
import { formatLine, parseControlLine, parseWorkerLine } from '../../load/worker-protocol.ts'
import { createHistogram, encodeHistogram, recordMs } from '../../load/histogram.ts'

function histogramOf(...ms: number[]): string {
  const h = createHistogram()
  for (const v of ms) recordMs(h, v)
  return encodeHistogram(h)
}

const target = {
  protocol: 'http1',
  tls: false,
  endpoints: [{ host: '10.96.0.12', port: 80, label: 'ClusterIP' }],
  authority: 'echo.default.svc',
  insecure: false,
  path: '/',
  method: 'GET',
  headers: [['x-run', 'a']],
  description: 'svc/echo.default:80 → ClusterIP 10.96.0.12:80',
  spec: 'svc/echo',
}
const plan = { phases: [{ name: 'main', durationMs: 5000, rate: 100 }], connections: 8, keepAlive: true, warmupMs: 0, timeoutMs: 2000, identifyEndpoints: true }
const job: LoadJob = { generator: 'weft-load-ab12cd34-1', target: target as LoadJob['target'], plan }

function withField(path: string[], value: unknown): string {
  const copy = JSON.parse(JSON.stringify(job))
  let at = copy
  for (const key of path.slice(0, -1)) at = at[key]
  if (value === undefined) delete at[path.at(-1)!]
  else at[path.at(-1)!] = value
  return JSON.stringify(copy)
}

t.test('a valid job comes back as it went in', async (t) => {
  t.same(parseJob(JSON.stringify(job)), job)
  const ramp = { ...plan, phases: [{ name: 'up', durationMs: 1000, rate: 10, rateTo: 50 }, { name: 'flat', durationMs: 1000, rate: 50 }], requests: 90 }
  t.same(validatePlan(ramp), ramp)
  const closed = { ...plan, phases: [{ name: 'max', durationMs: 1000 }] }
  t.same(validatePlan(closed), closed)
  const dns = { ...target, protocol: 'dns', path: '', dns: { name: 'kubernetes.default.svc.cluster.local', type: 'A' } }
  t.same(validateTarget(dns), dns)
  const tls = { ...target, tls: true, servername: 'echo.default.svc', body: 'eyJhIjoxfQ==', endpoints: [{ host: 'fd00::5', port: 443 }, { host: 'web.example.test', port: 8443 }] }
  t.same(validateTarget(tls), tls)
})

t.test('every bad field is named', async (t) => {
  const cases: Array<[string | undefined, RegExp]> = [
    [undefined, /no job: the environment variable WEFT_LOAD_JOB is empty/],
    ['', /no job/],
    ['{', /the job is not JSON/],
    ['[]', /^job: expected an object/],
    [withField(['extra'], 1), /^job\.extra: unknown field/],
    [withField(['generator'], 'Bad Name'), /^job\.generator: "Bad Name" is not valid/],
    [withField(['target', 'protocol'], 'ftp'), /target\.protocol: "ftp" is not one of/],
    [withField(['target', 'endpoints'], []), /target\.endpoints: expected 1 to 10000 entries, got 0/],
    [withField(['target', 'endpoints', '0', 'port'], 0), /target\.endpoints\[0\]\.port: 0 is outside 1\.\.65535/],
    [withField(['target', 'endpoints', '0', 'port'], 80.5), /expected an integer/],
    [withField(['target', 'endpoints', '0', 'host'], 'bad host'), /target\.endpoints\[0\]\.host: "bad host" is neither an IP address nor a host name/],
    [withField(['target', 'endpoints', '0', 'label'], 'a\nb'), /label: .* is not valid/],
    [withField(['target', 'method'], 'GET /'), /target\.method/],
    [withField(['target', 'path'], 'no-slash'), /target\.path/],
    [withField(['target', 'headers'], [['x', 'a\r\nInjected: 1']]), /headers\[0\]: the header value has a line break/],
    [withField(['target', 'headers'], [['x']]), /headers\[0\]: expected \[name, value\]/],
    [withField(['target', 'body'], 'not base64!'), /target\.body/],
    [withField(['target', 'tls'], 'yes'), /target\.tls: expected true or false/],
    [withField(['target', 'protocol'], 'dns'), /target\.dns: a DNS target needs its question/],
    [withField(['target', 'dns'], { name: 'a', type: 'XX' }), /target\.dns\.type: "XX" is not one of/],
    [withField(['target', 'udpPayloadBytes'], 70000), /udpPayloadBytes: 70000 is outside 1\.\.65507/],
    [withField(['plan', 'phases'], []), /plan\.phases: expected 1 to 1000 entries/],
    [withField(['plan', 'phases'], [{ name: 'a', durationMs: 1000, rate: 5 }, { name: 'b', durationMs: 1000 }]), /either every phase has a rate/],
    [withField(['plan', 'phases'], [{ name: 'a', durationMs: 1000 }, { name: 'b', durationMs: 1000 }]), /exactly one phase/],
    [withField(['plan', 'phases'], [{ name: 'a', durationMs: 1000, rate: -1 }]), /rate: -1 is outside/],
    [withField(['plan', 'phases'], [{ name: 'a', durationMs: 1000, rateTo: 5 }]), /a ramp needs a rate/],
    [withField(['plan', 'phases'], [{ name: 'a', durationMs: 0, rate: 1 }]), /durationMs: 0 is outside/],
    [withField(['plan', 'connections'], 0), /plan\.connections: 0 is outside 1\.\.100000/],
    [withField(['plan', 'timeoutMs'], Infinity), /plan\.timeoutMs: expected a number/],
    [withField(['plan', 'requests'], 0), /plan\.requests: 0 is outside/],
    [withField(['plan', 'keepAlive'], undefined), /plan\.keepAlive: expected true or false/],
    ['x'.repeat(1024 * 1024 + 1), /larger than 1048576 bytes/],
  ]
  for (const [text, message] of cases) t.throws(() => parseJob(text), { name: 'JobError', code: 'InvalidJob', message }, String(message))
})

t.test('control lines: start and stop only, strictly', async (t) => {
  t.same(parseControlLine('{"type":"start","atMs":1700000000000}'), { type: 'start', atMs: 1700000000000 })
  t.same(parseControlLine('{"type":"stop"}'), { type: 'stop' })
  t.equal(formatLine({ type: 'start', atMs: 5 }), '{"type":"start","atMs":5}\n')
  const bad: Array<[string, RegExp]> = [
    ['start', /not JSON/],
    ['{"atMs":1}', /no "type"/],
    ['{"type":"go"}', /unknown message type "go"/],
    ['{"type":"start"}', /start\.atMs: expected a number/],
    ['{"type":"start","atMs":1.5}', /epoch milliseconds/],
    ['{"type":"start","atMs":1,"x":2}', /unknown field "x"/],
    ['{"type":"stop","now":true}', /unknown field "now"/],
    [`{"type":"stop","pad":"${'x'.repeat(2000)}"}`, /longer than 1024 bytes/],
  ]
  for (const [line, message] of bad) t.throws(() => parseControlLine(line), { name: 'LineError', message }, line.slice(0, 40))
})

t.test('worker lines: every message type, checked field by field', async (t) => {
  const window = { second: 3, sent: 10, ok: 9, errors: { timeout: 1 }, histogram: histogramOf(1, 1, 1, 2, 2, 2, 3, 3, 4, 2000) }
  t.same(parseWorkerLine('{"type":"ready","generator":"g1"}'), { type: 'ready', generator: 'g1' })
  t.same(parseWorkerLine('{"type":"heartbeat"}'), { type: 'heartbeat' })
  t.same(parseWorkerLine(JSON.stringify({ type: 'window', ...window })), { type: 'window', ...window })
  const progress = { elapsedMs: 1000, sent: 10, done: 9, errors: 0, rate: 9, p50: 1.5, p99: 4 }
  t.same(parseWorkerLine(JSON.stringify({ type: 'progress', ...progress })), { type: 'progress', ...progress, totalMs: undefined })
  const snapshot = { startedAtMs: 1700000000000, windows: [window], endpoints: { 'echo-1': 5, 'echo-2': 4 } }
  t.same(parseWorkerLine(JSON.stringify({ type: 'done', snapshot: { ...snapshot, durationMs: 1000 } })), { type: 'done', snapshot: { ...snapshot, durationMs: 1000 } })
  t.same(parseWorkerLine(JSON.stringify({ type: 'done', snapshot })), { type: 'done', snapshot })
  t.same(parseWorkerLine(JSON.stringify({ type: 'done', snapshot, stopped: true })), { type: 'done', snapshot, stopped: true })
  t.same(parseWorkerLine('{"type":"error","message":"boom"}'), { type: 'error', message: 'boom' })
  const bad: Array<[object, RegExp]> = [
    [{ type: 'window', ...window, second: -1 }, /second must be an integer/],
    [{ type: 'window', ...window, errors: { nope: 1 } }, /unknown error class "nope"/],
    [{ type: 'window', ...window, errors: { reset: 1.5 } }, /errors\.reset must be a count/],
    [{ type: 'window', ...window, histogram: 'not base64!' }, /histogram/],
    [{ type: 'window', ...window, histogram: histogramOf(1, 2) }, /the histogram holds 2 latencies but 10 requests ended/],
    [{ type: 'done', snapshot: { ...snapshot, endpoints: { a: -1 } } }, /endpoints\["a"\] must be a count/],
    [{ type: 'done', snapshot: { ...snapshot, windows: {} } }, /windows must be a list/],
    [{ type: 'done', snapshot: { ...snapshot, startedAtMs: 'x' } }, /startedAtMs must be epoch milliseconds/],
    [{ type: 'done', snapshot: { ...snapshot, windows: [window, window] } }, /second 3 appears twice/],
    [{ type: 'done', snapshot, stopped: 'yes' }, /done\.stopped: expected true or false/],
    [{ type: 'progress', ...progress, rate: null }, /progress\.rate/],
    [{ type: 'ready', generator: 5 }, /ready\.generator/],
    [{ type: 'error' }, /error\.message: expected text/],
    [{ type: 'hello' }, /unknown message type "hello"/],
  ]
  for (const [message, expected] of bad) t.throws(() => parseWorkerLine(JSON.stringify(message)), { name: 'LineError', message: expected }, JSON.stringify(message).slice(0, 60))
})
