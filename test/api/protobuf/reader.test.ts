import t from 'tap'
import { maxProtobufBytes, ProtobufError, ProtoReader } from '../../../src/api/protobuf/reader.ts'
import { varint } from '../../helpers/protobuf.ts'

const reader = (...bytes: number[]) => new ProtoReader(Uint8Array.from(bytes))

t.test('reads varints up to 64 bits', async (t) => {
  for (const v of [0n, 1n, 127n, 128n, 300n, 2n ** 32n - 1n, 2n ** 32n, 2n ** 53n + 1n, 2n ** 63n, 2n ** 64n - 1n]) {
    t.equal(new ProtoReader(varint(v)).varint(), v, String(v))
  }
  t.equal(reader(0x80, 0x00).varint(), 0n, 'a zero-padded varint is still valid protobuf')
})

t.test('refuses malformed varints', async (t) => {
  t.throws(() => reader().varint(), { name: 'ProtobufError', message: /truncated varint at byte 0/ })
  t.throws(() => reader(0x80, 0x80).varint(), /truncated varint/)
  t.throws(() => reader(...Array(10).fill(0x80), 0x01).varint(), /over-long varint/)
  t.throws(() => reader(...Array(9).fill(0xff), 0x02).varint(), /overflows 64 bits/)
})

t.test('tags: field number and wire type, never field 0 or a 33-bit tag', async (t) => {
  t.same(reader(0x0a).tag(), { field: 1, wireType: 2 })
  t.same(new ProtoReader(varint(536870911 * 8 + 5)).tag(), { field: 536870911, wireType: 5 })
  t.throws(() => reader(0x02).tag(), /field number 0/)
  t.throws(() => new ProtoReader(varint(2n ** 33n)).tag(), /tag at byte 0 is out of range/)
})

t.test('length-delimited runs stay inside their data', async (t) => {
  t.same([...reader(0x03, 1, 2, 3).bytes()], [1, 2, 3])
  t.throws(() => reader(0x05, 1, 2).bytes(), /length 5 at byte 0 runs past the end of its data \(2 bytes left\)/)
  t.throws(() => new ProtoReader(varint(maxProtobufBytes + 1)).bytes(), /beyond the 3145728-byte limit/)
  t.throws(() => new ProtoReader(varint(2n ** 62n)).bytes(), /beyond the 3145728-byte limit/)
  const nested = new ProtoReader(Uint8Array.from([9, 9, 0x02, 0x08, 0x96, 7]), 2, 6)
  const inner = nested.message()
  t.equal(inner.offset, 3, 'a nested reader keeps absolute offsets')
  t.equal(inner.tag().field, 1)
  t.throws(() => inner.varint(), /truncated varint at byte 5/, 'the nested reader stops at its own end')
})

t.test('skips every wire type Kubernetes uses, and refuses groups and invalid types', async (t) => {
  const r = reader(0x96, 0x01, 1, 2, 3, 4, 5, 6, 7, 8, 0x02, 9, 9, 1, 2, 3, 4)
  r.skip(0)
  r.skip(1)
  r.skip(2)
  r.skip(5)
  t.ok(r.done)
  t.throws(() => reader(1, 2, 3).skip(1), /truncated 64-bit value/)
  t.throws(() => reader(1, 2).skip(5), /truncated 32-bit value/)
  t.throws(() => reader().skip(3), /groups/)
  t.throws(() => reader().skip(4), /groups/)
  t.throws(() => reader().skip(6), /invalid wire type 6/)
  t.throws(() => reader().skip(7), /invalid wire type 7/)
})

t.test('refuses data beyond the body limit', async (t) => {
  t.throws(() => new ProtoReader(new Uint8Array(maxProtobufBytes + 1)), /more than the 3145728-byte limit/)
})

t.test('errors are ProtobufError (an Error) and name their path once', async (t) => {
  const err = new ProtobufError('bad').at('spec.verb').at('spec')
  t.ok(err instanceof Error)
  t.equal(err.message, 'bad (at spec.verb)')
  t.equal(err.path, 'spec.verb')
})
