// DNS-over-TCP framing: messages come out whole however the stream is cut, and a message
// trickled in byte by byte costs about its own size in copying, not its size squared.
import t from 'tap'
import { frame, FrameReader } from '../../dns/tcp-frames.ts'

/** Feeds one chunk and returns every whole message it completed. */
function feed(reader: FrameReader, chunk: Buffer): Buffer[] {
  const out: Buffer[] = []
  reader.push(chunk)
  for (let m = reader.next(); m !== undefined; m = reader.next()) out.push(Buffer.from(m))
  return out
}

const messages = [Buffer.from('first message'), Buffer.alloc(0), Buffer.alloc(300, 7), Buffer.from([1]), Buffer.alloc(70, 9)]
const stream = Buffer.concat(messages.map(frame))

t.test('frame: a two-byte big-endian length, then the message', async (t) => {
  t.same([...frame(Buffer.from([0xaa, 0xbb]))], [0, 2, 0xaa, 0xbb])
  t.equal(frame(Buffer.alloc(300)).readUInt16BE(0), 300)
})

t.test('one chunk holding every message', async (t) => {
  t.same(feed(new FrameReader(), stream), messages)
})

t.test('cut at every position: the same messages', async (t) => {
  for (let cut = 0; cut <= stream.length; cut++) {
    const reader = new FrameReader()
    const got = [...feed(reader, stream.subarray(0, cut)), ...feed(reader, stream.subarray(cut))]
    if (got.length !== messages.length || got.some((m, i) => !m.equals(messages[i]))) {
      t.fail(`cut at ${cut}: ${got.length} messages`)
      return
    }
  }
  t.pass('every cut')
})

t.test('byte by byte: the same messages, each when its last byte arrives', async (t) => {
  const reader = new FrameReader()
  const got: Buffer[] = []
  for (let i = 0; i < stream.length; i++) {
    const done = feed(reader, stream.subarray(i, i + 1))
    got.push(...done)
  }
  t.same(got, messages)
})

t.test('nothing comes out before the message is whole; next() leaves the rest for later', async (t) => {
  const reader = new FrameReader()
  reader.push(Buffer.from([0, 5, 1, 2]))
  t.equal(reader.next(), undefined)
  reader.push(Buffer.concat([Buffer.from([3, 4, 5]), frame(Buffer.from([6]))]))
  t.same([...reader.next()!], [1, 2, 3, 4, 5])
  t.same([...reader.next()!], [6])
  t.equal(reader.next(), undefined)
})

t.test('a 65,535-byte message trickled one byte at a time is copied about once, not quadratically', async (t) => {
  const big = Buffer.alloc(65535, 0x61)
  const framed = frame(big)
  let copied = 0
  const concat = Buffer.concat
  const copy = Buffer.prototype.copy
  const set = Uint8Array.prototype.set
  Buffer.concat = function (list: readonly Uint8Array[], total?: number) {
    const out = concat(list, total)
    copied += out.length
    return out
  } as typeof Buffer.concat
  Buffer.prototype.copy = function (this: Buffer, target: Uint8Array, targetStart?: number, sourceStart?: number, sourceEnd?: number) {
    const n = copy.call(this, target, targetStart, sourceStart, sourceEnd)
    copied += n
    return n
  }
  Uint8Array.prototype.set = function (this: Uint8Array, array: ArrayLike<number>, offset?: number) {
    copied += array.length
    return set.call(this, array, offset)
  }
  const reader = new FrameReader()
  const got: Buffer[] = []
  try {
    for (let i = 0; i < framed.length; i++) {
      reader.push(framed.subarray(i, i + 1))
      const m = reader.next()
      if (m) got.push(m)
    }
  } finally {
    Buffer.concat = concat
    Buffer.prototype.copy = copy
    Uint8Array.prototype.set = set
  }
  t.equal(got.length, 1)
  t.ok(got[0].equals(big))
  t.ok(copied <= 2 * framed.length, `${copied} bytes copied for a ${framed.length}-byte frame`)
})
