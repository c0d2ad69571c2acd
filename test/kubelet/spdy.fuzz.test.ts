// Seeded hostile byte streams through the SPDY frame reader and header decompressor, and
// through a server session: only SpdyProtocolError comes out, limits hold, the session
// ends cleanly (never an exception, never a hang).
import t from 'tap'
import { createServer, connect, type Socket } from 'node:net'
import { once } from 'node:events'
import {
  encodeData,
  encodeGoAway,
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
import { SpdySession } from '../../src/kubelet/streaming/spdy-session.ts'
import { Rng, fuzzSettings } from '../helpers/fuzz.ts'

const limits: SpdyLimits = { ...defaultSpdyLimits, maxDataFrame: 64 * 1024, maxControlFrame: 8 * 1024, maxHeaderBlock: 8 * 1024, maxHeaders: 16 }

async function validStream(rng: Rng, c: HeaderCompressor): Promise<Buffer> {
  const parts: Buffer[] = []
  let id = 1
  for (let n = 1 + rng.int(6); n > 0; n--) {
    switch (rng.int(8)) {
      case 0:
        parts.push(encodeSynStream(id, await c.compress({ streamtype: rng.pick(['data', 'error']), port: String(rng.int(70000)), requestid: String(rng.int(9)) }), { fin: rng.chance(0.2) }))
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

t.test('seeded hostile bytes into a server session: it ends, never throws', async (t) => {
  const { seed, iterations } = fuzzSettings(150)
  const rng = new Rng(seed + 1)
  const server = createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => server.close())
  const port = (server.address() as { port: number }).port
  for (let i = 0; i < iterations; i++) {
    const c = new HeaderCompressor()
    const wire = rng.mutate(await validStream(rng, c), 3)
    c.close()
    // Drawn before the session runs: how many streams it opens must not shift later cases.
    const answers = Array.from({ length: 16 }, () => rng.chance(0.5))
    let opened = 0
    const accepted = once(server, 'connection') as Promise<[Socket]>
    const client = connect(port, '127.0.0.1')
    client.on('error', () => undefined)
    client.on('data', () => undefined)
    const [sock] = await accepted
    const session = new SpdySession(sock, { role: 'server', limits, onStream: (s) => (s.on('error', () => undefined), answers[opened++ % answers.length] ? s.reply() : s.reset()) })
    client.end(wire)
    const err = await Promise.race([session.done, new Promise<Error>((r) => setTimeout(() => r(new Error('hang')), 5000).unref())])
    client.destroy()
    session.destroy()
    if (err && !(err instanceof SpdyProtocolError)) {
      t.fail(`case ${i} (seed ${seed + 1}): ${err.message}`)
      return
    }
  }
  t.pass(`${iterations} sessions ended`)
})
