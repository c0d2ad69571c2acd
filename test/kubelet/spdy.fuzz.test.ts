// Seeded hostile byte streams through the SPDY frame reader and header decompressor, and
// through a server session: only SpdyProtocolError comes out, limits hold, the session
// ends cleanly (never an exception, never a hang). Most session cases first open a stream
// with a valid SYN_STREAM, so the hostile bytes after it hit the stream paths.
import t from 'tap'
import { createServer, connect, type Socket } from 'node:net'
import { once } from 'node:events'
import {
  encodeData,
  encodeGoAway,
  encodeHeaders,
  encodePing,
  encodeRstStream,
  encodeSettings,
  encodeSynReply,
  encodeSynStream,
  encodeWindowUpdate,
  FrameReader,
  SpdyProtocolError,
  defaultSpdyLimits,
  type SpdyLimits,
} from '../../src/kubelet/streaming/spdy-frames.ts'
import { HeaderCompressor, HeaderDecompressor } from '../../src/kubelet/streaming/spdy-headers.ts'
import { SpdySession, type SpdyStream } from '../../src/kubelet/streaming/spdy-session.ts'
import { Rng, fuzzSettings } from '../helpers/fuzz.ts'

const limits: SpdyLimits = { ...defaultSpdyLimits, maxDataFrame: 64 * 1024, maxControlFrame: 8 * 1024, maxHeaderBlock: 8 * 1024, maxHeaders: 16 }

async function synStream(rng: Rng, c: HeaderCompressor, id: number): Promise<Buffer> {
  return encodeSynStream(id, await c.compress({ streamtype: rng.pick(['data', 'error']), port: String(rng.int(70000)), requestid: String(rng.int(9)) }), { fin: rng.chance(0.2) })
}

async function validStream(rng: Rng, c: HeaderCompressor): Promise<Buffer> {
  const parts: Buffer[] = []
  let id = 1
  for (let n = 1 + rng.int(6); n > 0; n--) {
    switch (rng.int(8)) {
      case 0:
        parts.push(await synStream(rng, c, id))
        id += 2
        break
      case 1:
        parts.push(encodeData(1 + 2 * rng.int(4), rng.bytes(rng.int(64)), rng.chance(0.3)))
        break
      case 2:
        parts.push(encodeSynReply(1 + rng.int(9), await c.compress({ a: rng.hostileString().toLowerCase() })))
        break
      case 3:
        parts.push(encodeRstStream(1 + rng.int(9), 1 + rng.int(11)))
        break
      case 4:
        parts.push(encodeSettings([{ flags: rng.int(3), id: rng.int(9), value: rng.int(1 << 30) }]))
        break
      case 5:
        parts.push(encodePing(rng.int(1 << 30)))
        break
      case 6:
        parts.push(encodeWindowUpdate(rng.int(9), 1 + rng.int(1 << 20)))
        break
      default:
        parts.push(encodeGoAway(rng.int(9), rng.int(3)))
    }
  }
  return Buffer.concat(parts)
}

/** Frames after stream 1 was opened, mostly on the streams open so far. */
async function followUp(rng: Rng, c: HeaderCompressor): Promise<Buffer> {
  const parts: Buffer[] = []
  const open = [1]
  for (let n = 1 + rng.int(8); n > 0; n--) {
    const id = rng.chance(0.9) ? rng.pick(open) : 1 + rng.int(12)
    switch (rng.int(10)) {
      case 0:
        open.push(open.at(-1)! + 2)
        parts.push(await synStream(rng, c, open.at(-1)!))
        break
      case 1:
      case 2:
      case 3:
        parts.push(encodeData(id, rng.bytes(rng.int(256)), rng.chance(0.2)))
        break
      case 4:
        parts.push(encodeWindowUpdate(id, 1 + rng.int(1 << 20)))
        break
      case 5:
        parts.push(encodeRstStream(id, 1 + rng.int(11)))
        break
      case 6:
        parts.push(encodeHeaders(id, await c.compress({ a: rng.hostileString().toLowerCase() }), rng.chance(0.3)))
        break
      case 7:
        parts.push(encodePing(rng.int(1 << 30)))
        break
      case 8:
        parts.push(encodeSettings([{ flags: rng.int(3), id: rng.int(9), value: rng.int(1 << 30) }]))
        break
      default:
        parts.push(encodeGoAway(rng.int(9), rng.int(3)))
    }
  }
  return Buffer.concat(parts)
}

t.test('seeded hostile bytes through the frame reader and the header decompressor', async (t) => {
  const { seed, iterations } = fuzzSettings(3000)
  const rng = new Rng(seed)
  let frames = 0
  for (let i = 0; i < iterations; i++) {
    const c = new HeaderCompressor()
    const d = new HeaderDecompressor(limits)
    const wire = rng.chance(0.1) ? rng.bytes(rng.int(200)) : rng.mutate(await validStream(rng, c))
    const reader = new FrameReader(limits)
    try {
      let at = 0
      while (at < wire.length) {
        const step = 1 + rng.int(64)
        for (const f of reader.push(wire.subarray(at, at + step))) {
          frames++
          if (f.type === 'data' && f.data.length > limits.maxDataFrame) throw new Error('a data frame over the limit came out')
          if ('block' in f) {
            const h = await d.decompress(f.block, f.streamId)
            if (Object.keys(h).length > limits.maxHeaders) throw new Error('too many headers came out')
          }
        }
        at += step
      }
      if (reader.buffered > limits.maxDataFrame + 8) throw new Error(`the reader holds ${reader.buffered} bytes`)
    } catch (err) {
      if (!(err instanceof SpdyProtocolError)) {
        t.fail(`case ${i} (seed ${seed}): ${err instanceof Error ? err.stack : String(err)}`)
        return
      }
    } finally {
      c.close()
      d.close()
    }
  }
  t.ok(frames > iterations / 2, `${frames} frames decoded from ${iterations} cases`)
})

/** Where the last whole, well-formed frame of `wire` ends (what the session's reader takes before it errs or waits). */
function wholeFrames(wire: Buffer): number {
  const reader = new FrameReader(limits)
  let end = 0
  try {
    for (let at = 0; at < wire.length; at++) {
      reader.push(wire.subarray(at, at + 1))
      end = at + 1 - reader.buffered
    }
  } catch {
    // end stays at the last frame before the malformed one
  }
  return end
}

/** Odd (client) PING ids the session echoes once it has handled everything before them. */
const BARRIERS = [0x7ffffff1, 0x7ffffff3]

interface SessionCase {
  /** A valid SYN_STREAM, then a PING barrier, before `rest`; none: `rest` is sent and ended at once. */
  opening: Buffer | undefined
  rest: Buffer
  /** With an opening: the bytes of `rest` sent before the second barrier (whole frames). */
  whole: number
  /** What onStream does with the n-th stream. */
  answers: number[]
}

async function sessionCase(rng: Rng): Promise<SessionCase> {
  const c = new HeaderCompressor()
  try {
    const answers = Array.from({ length: 16 }, () => rng.int(5))
    if (rng.chance(0.3)) return { opening: undefined, rest: rng.mutate(await validStream(rng, c), 3), whole: 0, answers }
    // One context compresses the opening and what follows, as a real peer does.
    const opening = await synStream(rng, c, 1)
    const follow = await followUp(rng, c)
    const rest = rng.chance(0.2) ? follow : rng.mutate(follow, 3)
    return { opening, rest, whole: wholeFrames(rest), answers }
  } finally {
    c.close()
  }
}

function answer(s: SpdyStream, how: number): void {
  s.on('error', () => undefined)
  switch (how) {
    case 0:
      return s.reset()
    case 1:
      s.reply()
      s.resume()
      return
    case 2:
      s.reply({}, true)
      s.resume()
      return
    case 3:
      s.reply()
      s.resume()
      s.end()
      return
    default:
      s.reply()
      s.pipe(s)
  }
}

t.test('seeded hostile bytes into a server session: it ends, never throws', async (t) => {
  const { seed, iterations } = fuzzSettings(150)
  const rng = new Rng(seed + 1)
  const server = createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => server.close())
  const port = (server.address() as { port: number }).port
  let reached = 0
  let withData = 0
  for (let i = 0; i < iterations; i++) {
    // Every draw for the case is made here, before anything is sent.
    const k = await sessionCase(rng)
    const where = `case ${i} (seed ${seed + 1})`
    let opened = 0
    let sawData = false
    const accepted = once(server, 'connection') as Promise<[Socket]>
    const client = connect(port, '127.0.0.1')
    client.on('error', () => undefined)
    const echoes = new Map<number, () => void>()
    const fromServer = new FrameReader()
    let badOutput: unknown
    client.on('data', (chunk: Buffer) => {
      try {
        for (const f of fromServer.push(chunk)) if (f.type === 'ping') echoes.get(f.id)?.()
      } catch (err) {
        badOutput ??= err
      }
    })
    const [sock] = await accepted
    const session = new SpdySession(sock, {
      role: 'server',
      limits,
      onStream: (s) => {
        s.on('data', () => (sawData = true))
        answer(s, k.answers[opened++ % k.answers.length]!)
      },
    })
    const hang = () => new Promise<Error>((r) => setTimeout(() => r(new Error('hang')), 5000).unref())
    // Sends `bytes` and a PING, and waits for its echo or the session's end (its error).
    const barrier = (bytes: Buffer, id: number): Promise<Error | undefined> => {
      const echoed = new Promise<undefined>((r) => echoes.set(id, () => r(undefined)))
      client.write(Buffer.concat([bytes, encodePing(id)]))
      return Promise.race([echoed, session.done, hang()])
    }
    let err: Error | undefined
    if (k.opening) {
      err = await barrier(k.opening, BARRIERS[0]!)
      if (opened === 0) err = new Error(`a valid SYN_STREAM did not reach onStream${err ? ` (${err.message})` : ''}`)
      if (!err && !session.closed) err = await barrier(k.rest.subarray(0, k.whole), BARRIERS[1]!)
      if (!err) client.end(k.rest.subarray(k.whole))
    } else client.end(k.rest)
    if (!err) err = await Promise.race([session.done, hang()])
    client.destroy()
    session.destroy()
    if (opened > 0) reached++
    if (sawData) withData++
    if ((err && !(err instanceof SpdyProtocolError)) || badOutput) {
      t.fail(`${where}: ${err?.message ?? `the server wrote a malformed frame: ${String(badOutput)}`}`)
      return
    }
  }
  t.ok(reached >= Math.floor(iterations / 3), `${reached} of ${iterations} sessions opened a stream (${withData} carried data on one)`)
})
