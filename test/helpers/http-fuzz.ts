// Hostile HTTP/1.x clients for the listener fuzz suites: random and mutated requests
// (methods, paths, framing, oversized and numerous headers, bodies), written whole, in slow
// pieces, stalled half-way, abandoned or never read, each with a bounded wait; and the batch
// runner those suites share (fuzzListener, which the h2 suite drives with cases of its own):
// the listener answers between batches, then lets go of everything, fds and memory back.
import type { Socket } from 'node:net'
import { openFdCount, Rng } from './fuzz.ts'

/** A request for `path(rng)`: mostly plausible, sometimes malformed or mutated. */
export function randomHttpRequest(rng: Rng, path: (rng: Rng) => string, host = 'weft'): Buffer {
  const method = rng.chance(0.8) ? 'GET' : rng.pick(['HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'TRACE', 'G\u0000T', 'get', 'X'.repeat(100)])
  const headers: string[] = []
  if (rng.chance(0.9)) headers.push(`Host: ${host}`)
  let body: Buffer = Buffer.alloc(0)
  if (rng.chance(0.2)) body = rng.bytes(rng.int(4096))
  switch (rng.int(8)) {
    case 0:
      headers.push(`Content-Length: ${rng.chance(0.5) ? body.length : rng.pick(['-1', '1e3', '99999999999', 'abc', `${body.length + 10}`])}`)
      break
    case 1:
      headers.push('Transfer-Encoding: chunked')
      body = Buffer.from(rng.chance(0.5) ? `${body.length.toString(16)}\r\n${body.toString('latin1')}\r\n0\r\n\r\n` : `zz\r\n${body.toString('latin1')}`, 'latin1')
      break
    case 2:
      headers.push('Connection: Upgrade', 'Upgrade: websocket')
      break
    case 3:
      headers.push('Expect: 100-continue')
      break
    case 4:
      headers.push(`X-Big: ${'b'.repeat(rng.int(40_000))}`)
      break
    case 5:
      for (let i = 0; i < rng.int(300); i++) headers.push(`X-H${i}: ${i}`)
      break
    case 6:
      headers.push(`X-Hostile: ${rng.hostileString().replace(/[\r\n]/g, '')}`, 'Connection: keep-alive')
      break
    default:
      if (body.length) headers.push(`Content-Length: ${body.length}`)
  }
  const head = `${method} ${path(rng)} HTTP/1.${rng.chance(0.9) ? 1 : 0}\r\n${headers.join('\r\n')}${headers.length ? '\r\n' : ''}\r\n`
  let bytes: Buffer = Buffer.concat([Buffer.from(head, 'latin1'), body])
  if (rng.chance(0.15)) bytes = rng.mutate(bytes)
  if (rng.chance(0.1)) bytes = Buffer.concat([bytes, Buffer.from(`GET / HTTP/1.1\r\nHost: ${host}\r\n\r\n`)])
  return bytes
}

export interface HttpOutcome {
  mode: string
  response: string
  /** The connection did not end within the bounded wait. */
  hung: boolean
  error?: string
}

/** One connection: writes the bytes (whole, in slow pieces, or stalled half-way) and reads the answer, for at most `deadlineMs`. */
export async function runHttpCase(socket: Socket, rng: Rng, bytes: Buffer, deadlineMs: number): Promise<HttpOutcome> {
  // Every draw is made here, before anything is sent: when the listener answers or closes
  // must not change the sequence a seed gives.
  const mode = rng.pick(['whole', 'whole', 'pieces', 'stall', 'abandon', 'no-read'] as const)
  const resumeMs = mode === 'no-read' ? 300 + rng.int(700) : 0
  const abandonMs = mode === 'abandon' ? rng.int(100) : 0
  const endAfterWhole = mode === 'whole' && rng.chance(0.7)
  const pieces: { from: number; to: number; pauseMs: number }[] = []
  if (mode === 'pieces' || mode === 'stall') {
    const upto = mode === 'stall' ? rng.int(bytes.length + 1) : bytes.length
    for (let at = 0; at < upto; ) {
      const n = 1 + rng.int(64)
      pieces.push({ from: at, to: Math.min(at + n, upto), pauseMs: rng.int(15) })
      at += n
    }
  }
  const chunks: Buffer[] = []
  let size = 0
  socket.on('data', (b: Buffer) => {
    if (size < 64 * 1024) chunks.push(b)
    size += b.length
  })
  const closed = new Promise<string | undefined>((resolve) => {
    socket.on('error', (err) => resolve(err.message))
    socket.on('close', () => resolve(undefined))
  })
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<'deadline'>((resolve) => (timer = setTimeout(() => resolve('deadline'), deadlineMs)))
  const send = async (): Promise<void> => {
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()).once('error', () => resolve()))
    if (socket.destroyed) return
    if (mode === 'whole' || mode === 'no-read' || mode === 'abandon') {
      socket.write(bytes)
      if (mode === 'no-read') {
        // A client that stops reading for a while (an unread stream fills the socket buffers).
        socket.pause()
        setTimeout(() => socket.resume(), resumeMs)
      }
      if (mode === 'abandon') {
        await new Promise((r) => setTimeout(r, abandonMs))
        socket.destroy()
        return
      }
      if (endAfterWhole) socket.end()
      return
    }
    // Pieces (slowly, then end) or a stall (part of the request, then nothing).
    for (const { from, to, pauseMs } of pieces) {
      if (socket.destroyed) break
      socket.write(bytes.subarray(from, to))
      await new Promise((r) => setTimeout(r, pauseMs))
    }
    if (mode === 'pieces' && !socket.destroyed) socket.end()
  }
  void send()
  const result = await Promise.race([closed, deadline])
  clearTimeout(timer)
  socket.destroy()
  return { mode, response: Buffer.concat(chunks).toString('latin1'), hung: result === 'deadline', ...(typeof result === 'string' && result !== 'deadline' ? { error: result } : {}) }
}

/**
 * What is wrong with an outcome (a hang, bytes that are not an HTTP response, a 500), or
 * undefined. `relayed` tells a response a proxy passed on from its endpoint, whose 500 is
 * not the listener's.
 */
export function httpOutcomeProblem(outcome: HttpOutcome, deadlineMs: number, relayed?: (response: string) => boolean): string | undefined {
  const status = /^HTTP\/1\.[01] (\d{3}) /.exec(outcome.response)?.[1]
  if (outcome.hung) return `connection did not end within ${deadlineMs} ms`
  if (outcome.response !== '' && status === undefined) return `not an HTTP response (${JSON.stringify(outcome.response.slice(0, 80))})`
  if (status === '500' && !relayed?.(outcome.response)) return `500 (${JSON.stringify(outcome.response.slice(0, 300))})`
  return undefined
}

export interface ListenerFuzzOptions {
  seed: number
  iterations: number
  /**
   * Case `index`, drawn from its own generator (`rng`, seeded from seed and index, so any one
   * case replays alone): called for a whole batch before any of it runs; returns how to run
   * the case, which resolves with what went wrong, or undefined.
   */
  prepare(rng: Rng, index: number): () => Promise<string | undefined>
  /** Whether the listener still answers a well-formed request. */
  alive(): Promise<boolean>
  /** True once the listener has let go of everything the cases made (connections, streams). */
  settled(): Promise<boolean> | boolean
  /** Cases run at once (default 48). */
  batch?: number
  /** What to show when descriptors stay above the baseline (the sockets still open, say). */
  diagnose?(): object
}

export interface HttpFuzzOptions extends Omit<ListenerFuzzOptions, 'prepare'> {
  /** A new connection to the listener for a case. */
  connect(rng: Rng): Socket
  /** The bytes of a case. */
  request(rng: Rng): Buffer
  /** Per-case wait (default 4 s). */
  deadlineMs?: number
  /** A response passed on from behind the listener (a proxy's endpoint): its 500 is no fault. */
  relayed?(response: string): boolean
}

interface Assert {
  fail(message: string): void
  ok(value: unknown, ...message: [message: string] | [message: string, extra: object]): void
}

/**
 * Runs the cases in concurrent batches (case i from seed*1_000_003+i, so any one replays
 * alone), checks the listener answers after each batch, then that it lets go of everything
 * and that this process's descriptors and memory are back near the baseline. Stops after
 * five failures.
 */
export async function fuzzListener(t: Assert, o: ListenerFuzzOptions): Promise<void> {
  const batch = o.batch ?? 48
  t.ok(await o.alive(), 'the listener answers before')
  const fdBefore = openFdCount()
  const rssBefore = process.memoryUsage().rss
  let failures = 0
  for (let start = 0; start < o.iterations && failures < 5; start += batch) {
    const cases = Array.from({ length: Math.min(batch, o.iterations - start) }, (_, i) => o.prepare(new Rng(o.seed * 1_000_003 + start + i), start + i))
    const problems = await Promise.all(cases.map((run) => run()))
    for (const problem of problems) {
      if (problem === undefined) continue
      failures++
      t.fail(problem)
    }
    if (!(await o.alive())) {
      failures++
      t.fail(`the listener stopped answering after case ${start + cases.length - 1}`)
    }
  }
  t.ok(failures === 0, 'every case ended in time, without a fault')
  // Connections and streams wind down within the listener's own timeouts.
  const until = Date.now() + 5000
  while (Date.now() < until && (!(await o.settled()) || openFdCount() > fdBefore)) await new Promise((r) => setTimeout(r, 50))
  t.ok(await o.settled(), 'the listener let go of every connection')
  const fdAfter = openFdCount()
  t.ok(fdAfter <= fdBefore, `file descriptors back to the baseline (${fdAfter} now, ${fdBefore} before)`, fdAfter > fdBefore && o.diagnose ? o.diagnose() : {})
  t.ok(process.memoryUsage().rss - rssBefore < 300 * 1024 * 1024, 'memory stays sane')
  t.ok(await o.alive(), 'the listener still answers')
}

/**
 * fuzzListener with HTTP/1.x cases: each written by runHttpCase (whole, in pieces, stalled,
 * abandoned or not read) and checked by httpOutcomeProblem. Resolves with how many answers
 * of each status came back.
 */
export async function fuzzHttpListener(t: Assert, o: HttpFuzzOptions): Promise<{ statuses: Record<string, number> }> {
  const deadlineMs = o.deadlineMs ?? 4000
  const statuses: Record<string, number> = {}
  await fuzzListener(t, {
    ...o,
    prepare: (rng, index) => {
      const bytes = o.request(rng)
      return async () => {
        const outcome = await runHttpCase(o.connect(rng), rng, bytes, deadlineMs)
        const status = /^HTTP\/1\.[01] (\d{3}) /.exec(outcome.response)?.[1]
        if (status !== undefined) statuses[status] = (statuses[status] ?? 0) + 1
        const problem = httpOutcomeProblem(outcome, deadlineMs, o.relayed)
        return problem === undefined ? undefined : `${problem}: case ${index} (seed ${o.seed}, ${outcome.mode}): ${JSON.stringify(bytes.subarray(0, 200).toString('latin1'))}`
      }
    },
  })
  return { statuses }
}
