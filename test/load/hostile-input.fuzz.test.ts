// Seeded fuzzing of what weft load reads from others: the answers of the server under load (the
// HTTP/1.1 client and its response parser), the lines load pods print (their windows and
// snapshots, with HDR histograms), a load pod's job, scenario files and result.json read back by
// `compare`. Each input is a valid one mutated; each must give a value or the input path's own
// error, never another exception, a hang or a request reported twice or not at all.
import t from 'tap'
import { createServer, type Socket } from 'node:net'
import { createHistogram, encodeHistogram, recordMicros } from '../../load/histogram.ts'
import { parseJob } from '../../load/job.ts'
import { createHttp1Client } from '../../load/protocols/http1.ts'
import { malformed, needMore, ResponseParser } from '../../load/protocols/http1-response.ts'
import { parseResult, ResultFileError } from '../../load/report/schema.ts'
import { ScenarioError, parseScenario } from '../../load/scenario/index.ts'
import { LineError, parseWorkerLine } from '../../load/worker-protocol.ts'
import { JobError } from '../../load/job.ts'
import { errorClasses, type ErrorClass, type LoadPlan, type ResolvedTarget } from '../../load/types.ts'
import { fuzzSettings, Rng } from '../helpers/fuzz.ts'
import { rolloutResult } from './fixtures/results.ts'

const settings = fuzzSettings(300, 20)
t.setTimeout(settings.long ? 0 : 120_000)

const responses = [
  'HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\n{"pod":"web-1","a":1}',
  'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;x=y\r\n world\r\n0\r\nTrailer: 1\r\n\r\n',
  'HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n',
  'HTTP/1.1 204 No Content\r\n\r\n',
  'HTTP/1.0 200 OK\r\n\r\nweb-2\n',
  'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok',
].map((r) => Buffer.from(r))

/** Feeds `input` in random pieces; what the parser says at the end. */
function parseInPieces(rng: Rng, input: Buffer): number {
  const parser = new ResponseParser(rng.chance(0.5))
  parser.reset(rng.chance(0.1))
  let at = 0
  while (at < input.length) {
    const end = Math.min(input.length, at + 1 + rng.int(input.length))
    const result = parser.feed(input, at, end)
    if (result === malformed) return malformed
    if (result !== needMore) {
      if (result < at || result > end) throw new Error(`feed returned ${result} outside ${at}..${end}`)
      if (!(parser.status >= 100 && parser.status <= 999)) throw new Error(`a complete response with status ${parser.status}`)
      if (parser.captured > 4096) throw new Error(`captured ${parser.captured} bytes`)
      return result
    }
    at = end
  }
  return needMore
}

t.test('the HTTP/1.1 response parser on mutated answers, fed in pieces', async (t) => {
  const rng = new Rng(settings.seed)
  const outcomes = { complete: 0, malformed: 0, needMore: 0 }
  for (let i = 0; i < settings.iterations * 20; i++) {
    const input = rng.chance(0.1) ? rng.bytes(rng.int(200)) : rng.mutate(rng.pick(responses), 8)
    let result: number
    try {
      result = parseInPieces(rng, input)
    } catch (err) {
      t.fail(`case ${i} (seed ${settings.seed}): ${(err as Error).message} on ${JSON.stringify(input.toString('latin1'))}`)
      return
    }
    if (result === malformed) outcomes.malformed++
    else if (result === needMore) outcomes.needMore++
    else outcomes.complete++
  }
  t.ok(outcomes.complete > 0 && outcomes.malformed > 0, `every outcome seen: ${JSON.stringify(outcomes)}`)
})

t.test('the HTTP/1.1 client against a server answering mutated responses: every request ends once', async (t) => {
  const rng = new Rng(settings.seed + 1)
  const sockets = new Set<Socket>()
  const server = createServer((socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => undefined)
    socket.on('data', () => {
      const roll = rng.int(10)
      if (roll === 0) socket.destroy()
      else if (roll === 1) return
      else socket.write(rng.mutate(rng.pick(responses), 4))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => {
    for (const s of sockets) s.destroy()
    server.close()
  })
  const port = (server.address() as { port: number }).port
  const target: ResolvedTarget = { protocol: 'http1', tls: false, endpoints: [{ host: '127.0.0.1', port }], authority: 'fuzz', insecure: false, path: '/', method: 'GET', headers: [], description: 'fuzz', spec: 'fuzz' }
  const done = new Map<number, ErrorClass | 'ok'>()
  let twice = 0
  const total = settings.iterations
  let finished: () => void = () => undefined
  const allDone = new Promise<void>((resolve) => (finished = resolve))
  const client = createHttp1Client({
    target,
    connections: 4,
    keepAlive: true,
    timeoutMs: 300,
    identifyEndpoints: true,
    sink: {
      done(token, error) {
        if (done.has(token)) twice++
        done.set(token, error ?? 'ok')
        if (done.size === total) finished()
      },
    },
  })
  for (let i = 0; i < total; i++) client.send(i)
  let timer: NodeJS.Timeout | undefined
  await Promise.race([allDone, new Promise((r) => (timer = setTimeout(r, 60_000)))])
  clearTimeout(timer)
  await client.close()
  t.equal(twice, 0, 'no request reported twice')
  t.equal(done.size, total, 'every request reported')
  const classes = new Set(done.values())
  for (const c of classes) t.ok(c === 'ok' || (errorClasses as readonly string[]).includes(c), `a known outcome: ${c}`)
})

function histogram(rng: Rng): string {
  const h = createHistogram()
  for (let i = 0; i < 20; i++) recordMicros(h, 1 + rng.int(1_000_000))
  return encodeHistogram(h)
}

t.test('load pod lines, mutated: a message or a LineError', async (t) => {
  const rng = new Rng(settings.seed + 2)
  let parsed = 0
  for (let i = 0; i < settings.iterations; i++) {
    const window = { type: 'window', second: rng.int(100), sent: 20, ok: 19, errors: { reset: 1 }, histogram: histogram(rng) }
    const valid = rng.pick([
      JSON.stringify(window),
      JSON.stringify({ type: 'done', snapshot: { startedAtMs: 1_700_000_000_000, windows: [{ ...window, type: undefined }], endpoints: { 'web-1': 19 } } }),
      JSON.stringify({ type: 'ready', generator: 'weft-load-x-1' }),
      JSON.stringify({ type: 'progress', elapsedMs: 1000, totalMs: 5000, sent: 10, done: 9, errors: 0, rate: 10, p50: 1, p99: 2 }),
    ])
    const line = rng.chance(0.2) ? valid.replace(/"[a-zA-Z]+":/, `"${rng.hostileString()}":`) : rng.mutate(Buffer.from(valid), 6).toString('latin1')
    try {
      parseWorkerLine(line)
      parsed++
    } catch (err) {
      if (!(err instanceof LineError)) {
        t.fail(`case ${i}: ${(err as Error).name}: ${(err as Error).message} on ${JSON.stringify(line.slice(0, 300))}`)
        return
      }
    }
  }
  t.pass(`${parsed} of ${settings.iterations} mutated lines still valid, every other one refused with a LineError`)
})

t.test("a load pod's job, mutated: a job or a JobError", async (t) => {
  const rng = new Rng(settings.seed + 3)
  const plan: LoadPlan = { phases: [{ name: 'p', durationMs: 1000, rate: 10 }], connections: 2, keepAlive: true, warmupMs: 0, timeoutMs: 1000, identifyEndpoints: true }
  const valid = JSON.stringify({ generator: 'weft-load-x-1', target: { protocol: 'http1', tls: false, endpoints: [{ host: '10.96.0.1', port: 80 }], authority: 'web', insecure: false, path: '/', method: 'GET', headers: [['x-a', '1']], description: 'd', spec: 'svc/web' }, plan })
  parseJob(valid)
  for (let i = 0; i < settings.iterations; i++) {
    const text = rng.mutate(Buffer.from(valid), 6).toString('latin1')
    try {
      parseJob(text)
    } catch (err) {
      if (!(err instanceof JobError)) {
        t.fail(`case ${i}: ${(err as Error).name}: ${(err as Error).message} on ${JSON.stringify(text.slice(0, 300))}`)
        return
      }
    }
  }
  t.pass('every mutated job parsed or refused with a JobError')
})

t.test('scenario files, mutated: a scenario or a ScenarioError', async (t) => {
  const rng = new Rng(settings.seed + 4)
  const valid = `target: svc/web:80
phases:
  - {name: steady, rate: 500, duration: 30s}
  - name: ramp
    rate: 500
    rateTo: 2000
    duration: 20s
actions:
  - {at: 10s, rollout: deployment/web}
  - {at: 15s, scale: {deployment: web, replicas: 8}}
  - {at: 20s, deletePods: {selector: app=web, count: 1, gracePeriodSeconds: 0}}
  - {at: 30s, drain: node-2}
  - {at: 40s, addServices: {count: 100, prefix: load-svc, port: 80}}
  - {at: 45s, setReady: {selector: app=web, count: 1, ready: false}}
`
  parseScenario(valid, 'scenario.yaml')
  for (let i = 0; i < settings.iterations; i++) {
    const text = rng.chance(0.3) ? valid.replace(/web|node-2|app=web|30s|8/, rng.hostileString()) : rng.mutate(Buffer.from(valid), 8).toString('latin1')
    try {
      parseScenario(text, 'scenario.yaml')
    } catch (err) {
      if (!(err instanceof ScenarioError)) {
        t.fail(`case ${i}: ${(err as Error).name}: ${(err as Error).message} on ${JSON.stringify(text.slice(0, 400))}`)
        return
      }
    }
  }
  t.pass('every mutated scenario parsed or refused with a ScenarioError')
})

t.test('result.json, mutated: a result or a ResultFileError', async (t) => {
  const rng = new Rng(settings.seed + 5)
  const valid = JSON.stringify(rolloutResult())
  parseResult(valid, 'result.json')
  for (let i = 0; i < settings.iterations; i++) {
    const text = rng.mutate(Buffer.from(valid), 6).toString('latin1')
    try {
      parseResult(text, 'result.json')
    } catch (err) {
      if (!(err instanceof ResultFileError)) {
        t.fail(`case ${i}: ${(err as Error).name}: ${(err as Error).message}`)
        return
      }
    }
  }
  t.pass('every mutated result parsed or refused with a ResultFileError')
})
