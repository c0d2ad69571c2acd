import t from 'tap'
import { createHash } from 'node:crypto'
import { createServer, connect, type Socket } from 'node:net'
import { once } from 'node:events'
import { SPDY3_DICTIONARY } from '../../src/kubelet/streaming/spdy-dictionary.ts'
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
} from '../../src/kubelet/streaming/spdy-frames.ts'
import { encodeHeaderBlock, HeaderCompressor, HeaderDecompressor, parseHeaderBlock } from '../../src/kubelet/streaming/spdy-headers.ts'
import { SpdySession, type SpdyStream } from '../../src/kubelet/streaming/spdy-session.ts'

t.test('the SPDY/3 dictionary is the draft\'s 1423 bytes', async (t) => {
  t.equal(SPDY3_DICTIONARY.length, 1423)
  t.equal(createHash('sha256').update(SPDY3_DICTIONARY).digest('hex'), '51d27341373f923f3cd88e1eb7162aeaa3723d7585ff2399201dc06498407f02', "the bytes of Go's spdy.headerDictionary")
})

t.test('frames: every kind round-trips through the reader, split at every byte', async (t) => {
  const block = Buffer.from('not-really-compressed')
  const wire = Buffer.concat([
    encodeSynStream(1, block, { fin: true, priority: 3, associatedId: 0 }),
    encodeSynReply(1, block, true),
    encodeRstStream(3, 5),
    encodeSettings([{ flags: 1, id: 7, value: 65536 }]),
    encodePing(2),
    encodeGoAway(7, 0),
    encodeWindowUpdate(1, 1000),
    encodeData(1, Buffer.from('hello'), true),
  ])
  const expected = [
    { type: 'syn_stream', streamId: 1, associatedId: 0, priority: 3, fin: true, unidirectional: false, block },
    { type: 'syn_reply', streamId: 1, fin: true, block },
    { type: 'rst_stream', streamId: 3, status: 5 },
    { type: 'settings', clear: false, entries: [{ flags: 1, id: 7, value: 65536 }] },
    { type: 'ping', id: 2 },
    { type: 'goaway', lastGoodStreamId: 7, status: 0 },
    { type: 'window_update', streamId: 1, delta: 1000 },
    { type: 'data', streamId: 1, fin: true, data: Buffer.from('hello') },
  ]
  t.same(new FrameReader().push(wire), expected, 'in one chunk')
  const r = new FrameReader()
  const got = []
  for (const b of wire) got.push(...r.push(Buffer.from([b])))
  t.same(got, expected, 'byte by byte')
  t.equal(r.buffered, 0)
  // Wire layout of a data frame: C=0, stream id, flags, 24-bit length.
  t.same([...encodeData(5, Buffer.from('ab'), true)], [0, 0, 0, 5, 1, 0, 0, 2, 0x61, 0x62])
  t.same([...encodePing(1)], [0x80, 3, 0, 6, 0, 0, 0, 4, 0, 0, 0, 1])
})

t.test('frames: malformed or oversized frames are protocol errors, unknown control types are skipped', async (t) => {
  const bad: Array<[Buffer, RegExp]> = [
    [Buffer.from([0x80, 2, 0, 6, 0, 0, 0, 4, 0, 0, 0, 1]), /version 2 is not supported/],
    [Buffer.from([0, 0, 0, 0, 0, 0, 0, 0]), /stream 0/],
    [Buffer.from([0x80, 3, 0, 3, 0, 0, 0, 8, 0, 0, 0, 1, 0, 0, 0, 0]), /status 0/],
    [Buffer.from([0x80, 3, 0, 6, 0, 0, 0, 5, 0, 0, 0, 1, 0]), /PING frame of 5 bytes/],
    [Buffer.from([0x80, 3, 0, 7, 1, 0, 0, 8, 0, 0, 0, 1, 0, 0, 0, 0]), /GOAWAY frame has unknown flags/],
    [Buffer.from([0x80, 3, 0, 9, 0, 0, 0, 8, 0, 0, 0, 1, 0, 0, 0, 0]), /delta of 0/],
    [Buffer.from([0x80, 3, 0, 1, 0, 0xff, 0xff, 0xff]), /control frame of 16777215 bytes is over the limit/],
    [Buffer.from([0, 0, 0, 1, 0, 0xff, 0xff, 0xff]), /data frame of 16777215 bytes is over the limit/],
    [Buffer.from([0, 0, 0, 1, 4, 0, 0, 0]), /unknown flags 0x4/],
    [encodeSettings(Array.from({ length: 65 }, () => ({ flags: 0, id: 1, value: 1 }))), /65 entries is over the limit of 64/],
  ]
  for (const [wire, message] of bad) {
    let caught: unknown
    try {
      new FrameReader().push(wire)
    } catch (err) {
      caught = err
    }
    t.ok(caught instanceof SpdyProtocolError && message.test(caught.message), `${message.source}: ${String(caught)}`)
  }
  const noop = Buffer.from([0x80, 3, 0, 5, 0, 0, 0, 0])
  t.same(new FrameReader().push(Buffer.concat([noop, encodePing(4)])), [{ type: 'ping', id: 4 }], 'NOOP (gone in SPDY/3) is skipped')
  t.ok(defaultSpdyLimits.maxDataFrame >= 1 << 20)
})

t.test('header blocks: one context per direction, lower-case names, NUL-joined values, limits', async (t) => {
  const c = new HeaderCompressor()
  const d = new HeaderDecompressor()
  t.teardown(() => {
    c.close()
    d.close()
  })
  const blocks: Array<Record<string, string | string[]>> = [
    { streamtype: 'error', port: '8080', requestid: '0' },
    { streamtype: 'data', port: '8080', requestid: '0' },
    { StreamType: 'data', port: ['1', '2'] },
    {},
  ]
  const wire = await Promise.all(blocks.map((b) => c.compress(b)))
  t.ok(wire[1]!.length < wire[0]!.length, 'the second block reuses the shared context')
  t.same({ ...(await d.decompress(wire[0]!, 1)) }, { streamtype: ['error'], port: ['8080'], requestid: ['0'] })
  t.same({ ...(await d.decompress(wire[1]!, 3)) }, { streamtype: ['data'], port: ['8080'], requestid: ['0'] })
  t.same({ ...(await d.decompress(wire[2]!, 5)) }, { streamtype: ['data'], port: ['1', '2'] })
  t.same({ ...(await d.decompress(wire[3]!, 7)) }, {})
  t.throws(() => parseHeaderBlock(encodeHeaderBlock({ a: 'b' }).subarray(0, 9), 1), /ends inside a value length/)
  const upper = Buffer.concat([Buffer.from([0, 0, 0, 1, 0, 0, 0, 1]), Buffer.from('A'), Buffer.from([0, 0, 0, 0])])
  t.throws(() => parseHeaderBlock(upper, 1), /not lower case/)
  const dup = Buffer.concat([Buffer.from([0, 0, 0, 2]), ...[0, 1].map(() => Buffer.concat([Buffer.from([0, 0, 0, 1]), Buffer.from('a'), Buffer.from([0, 0, 0, 0])]))])
  t.throws(() => parseHeaderBlock(dup, 1), /repeats the header "a"/)
  t.throws(() => parseHeaderBlock(Buffer.from([0, 0, 1, 0]), 1), /256 headers, over the limit/)

  const small = new HeaderDecompressor({ ...defaultSpdyLimits, maxHeaderBlock: 1024 })
  const big = await new HeaderCompressor().compress({ x: 'y'.repeat(100_000) })
  t.ok(big.length < 1024, 'a header bomb is small on the wire')
  await t.rejects(small.decompress(big, 1), /does not decompress: over 1024 bytes/)
  await t.rejects(new HeaderDecompressor().decompress(Buffer.from('garbage!'), 1), /does not decompress/)
})

async function socketPair(): Promise<[Socket, Socket]> {
  const server = createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const port = (server.address() as { port: number }).port
  const [[a], b] = await Promise.all([once(server, 'connection') as Promise<[Socket]>, new Promise<Socket>((resolve) => { const s = connect(port, '127.0.0.1', () => resolve(s)) })])
  server.close()
  return [a, b]
}

t.test('sessions: streams, replies, data both ways with half-close, ping echo, reset, goaway', async (t) => {
  const [a, b] = await socketPair()
  const accepted: SpdyStream[] = []
  const server = new SpdySession(a, {
    role: 'server',
    onStream: (s) => {
      accepted.push(s)
      if (s.headers.refuse) return s.reset()
      s.reply({ ok: 'yes' })
      // Echo, then FIN after the client's FIN.
      s.pipe(s)
    },
  })
  const client = new SpdySession(b, { role: 'client' })
  t.teardown(() => {
    client.destroy()
    server.destroy()
  })
  const s1 = client.openStream({ Kind: 'echo' })
  const reply = once(s1, 'reply')
  const big = Buffer.alloc(3 * 1024 * 1024, 7)
  s1.end(big)
  const chunks: Buffer[] = []
  s1.on('data', (c: Buffer) => chunks.push(c))
  await once(s1, 'end')
  t.same({ ...((await reply)[0] as object) }, { ok: ['yes'] })
  t.same(Buffer.concat(chunks), big, '3 MiB echoed and both sides FINed')
  t.same(accepted[0]!.headers.kind, ['echo'], 'header names arrive lower case')
  t.equal(s1.id, 1)

  t.ok((await client.ping()) >= 0, 'the server echoes a client PING')
  t.ok((await server.ping()) >= 0, 'and the client a server PING')

  const s2 = client.openStream({ refuse: '1' })
  const [status] = (await once(s2, 'reset')) as [number]
  t.equal(status, 5, 'a refused stream is reset (CANCEL)')
  t.equal(s2.id, 3)

  const s3 = client.openStream({ kind: 'echo' })
  await once(s3, 'reply')
  s3.write('x')
  await once(s3, 'data')
  s3.reset()
  await new Promise((r) => setTimeout(r, 50))
  t.equal(server.streamCount, 0, 'a client reset removes the stream on the server')
  await new Promise((r) => setTimeout(r, 20))
  client.close()
  t.equal(await server.done, undefined, 'GOAWAY and the end of the transport end the server session cleanly')
})

t.test('sessions: a malformed frame ends the session with GOAWAY PROTOCOL_ERROR', async (t) => {
  const [a, b] = await socketPair()
  const server = new SpdySession(a, { role: 'server' })
  const got: Buffer[] = []
  b.on('data', (c: Buffer) => got.push(c))
  b.write(Buffer.from([0x80, 2, 0, 6, 0, 0, 0, 4, 0, 0, 0, 1]))
  const err = await server.done
  t.match(err?.message, /version 2/)
  await once(b, 'end')
  const frames = new FrameReader().push(Buffer.concat(got))
  t.same(frames, [{ type: 'goaway', lastGoodStreamId: 0, status: 1 }])
  b.destroy()
})

t.test('sessions: a stream whose reader is slow pauses the transport instead of buffering without bound', async (t) => {
  const [a, b] = await socketPair()
  let serverStream: SpdyStream | undefined
  const server = new SpdySession(a, { role: 'server', onStream: (s) => ((serverStream = s), s.reply()) })
  const client = new SpdySession(b, { role: 'client' })
  t.teardown(() => {
    client.destroy()
    server.destroy()
  })
  const s = client.openStream({})
  await once(s, 'reply')
  const chunk = Buffer.alloc(64 * 1024)
  let written = 0
  while (written < 64 * 1024 * 1024 && s.write(chunk)) written += chunk.length
  await new Promise((r) => setTimeout(r, 300))
  t.ok(serverStream!.readableLength <= 1024 * 1024, `the server holds ${serverStream!.readableLength} bytes for an unread stream`)
  let read = 0
  serverStream!.on('data', (c: Buffer) => (read += c.length))
  s.end()
  await once(serverStream!, 'end')
  t.ok(read > 0, 'the stream drains once read')
})
