// Seeded fuzz of the protobuf decoder: random bytes, random well-formed field soups and
// mutations of real kubectl bodies and of fully populated objects of every kind in the
// table. decodeProtobufObject never throws anything but ProtobufError and never hangs; what
// it decodes is plain JSON that encodes and decodes back to itself.
// `npm run fuzz -- test/api/protobuf/decode.fuzz.test.ts --iterations N --seed S` runs it longer.
import t from 'tap'
import { isDeepStrictEqual } from 'node:util'
import { decodeProtobufObject, ProtobufError } from '../../../src/api/protobuf/index.ts'
import { kubernetesSchema } from '../../../src/api/protobuf/schema.ts'
import type { FieldSpec } from '../../../src/api/protobuf/types.ts'
import { fuzzSettings, Rng } from '../../helpers/fuzz.ts'
import { encodeObject, lengthDelimited, protobufKinds, sampleOf, tag, varint } from '../../helpers/protobuf.ts'
import { kubectlBodies } from '../../helpers/protobuf-kubectl-bodies.ts'

const settings = fuzzSettings(20_000)
t.setTimeout(settings.long ? 0 : 120_000)
const rng = new Rng(settings.seed)

const kinds = protobufKinds()
const seeds: Buffer[] = [
  ...Object.values(kubectlBodies).map((hex) => Buffer.from(hex, 'hex')),
  ...kinds.map((k) => encodeObject({ apiVersion: k.apiVersion, kind: k.kind, ...(sampleOf(k.message, 3) as object) })),
  ...kinds.map((k) => encodeObject({ apiVersion: k.apiVersion, kind: k.kind, ...(sampleOf(k.message, 2) as object) }, { goZeros: true })),
]
const magic = Buffer.from('k8s\0', 'latin1')

/** Random fields of random wire types, sometimes nested, with field numbers the schema uses. */
function soup(depth: number): Buffer {
  const parts: Buffer[] = []
  const n = rng.int(8)
  for (let i = 0; i < n; i++) {
    const field = rng.chance(0.9) ? 1 + rng.int(17) : rng.int(1 << 29)
    switch (rng.int(6)) {
      case 0:
        parts.push(tag(field, 0), varint(rng.chance(0.5) ? rng.int(300) : BigInt.asUintN(64, BigInt(Math.floor(rng.next() * 2 ** 64)))))
        break
      case 1:
        parts.push(lengthDelimited(field, depth > 0 && rng.chance(0.6) ? soup(depth - 1) : rng.hostileString()))
        break
      case 2:
        parts.push(tag(field, rng.pick([1, 5])), rng.bytes(rng.pick([4, 8])))
        break
      case 3:
        parts.push(tag(field, rng.int(8)), rng.bytes(rng.int(4)))
        break
      default:
        parts.push(lengthDelimited(field, depth > 0 ? soup(depth - 1) : rng.bytes(rng.int(6))))
    }
  }
  return Buffer.concat(parts)
}

/** Fields of message `name` as its schema has them, with hostile values and now and then a wrong wire type. */
function guided(name: string, depth: number): Buffer {
  const fields = Object.entries(kubernetesSchema[name].fields)
  const parts: Buffer[] = []
  const n = rng.int(6)
  for (let i = 0; i < n && fields.length > 0; i++) {
    const [number, f] = rng.pick(fields)
    parts.push(guidedField(Number(number), f, depth))
  }
  if (rng.chance(0.1)) parts.push(soup(1))
  return Buffer.concat(parts)
}

function guidedValue(field: number, f: FieldSpec, depth: number): Buffer {
  if (rng.chance(0.03)) return Buffer.concat([tag(field, rng.int(8)), rng.bytes(rng.int(9))])
  if (typeof f.type === 'object') return lengthDelimited(field, depth > 0 ? guided(f.type.message, depth - 1) : Buffer.alloc(0))
  switch (f.type) {
    case 'string':
    case 'bytes':
      return lengthDelimited(field, rng.chance(0.2) ? rng.bytes(rng.int(8)) : Buffer.from(rng.hostileString()))
    default: {
      const value = rng.pick([0n, 1n, -1n, 2n ** 31n, -(2n ** 31n) - 1n, 2n ** 53n, -(2n ** 53n), 253402300800n, -62135596801n, 1_000_000_000n, BigInt(rng.int(2 ** 31))])
      return Buffer.concat([tag(field, 0), varint(value)])
    }
  }
}

function guidedField(field: number, f: FieldSpec, depth: number): Buffer {
  if (!f.map) return guidedValue(field, f, depth)
  const key = rng.chance(0.2) ? lengthDelimited(1, rng.pick(['__proto__', 'constructor', '', 'toString'])) : lengthDelimited(1, rng.hostileString())
  return lengthDelimited(field, Buffer.concat([key, guidedValue(2, { ...f, map: false }, depth)]))
}

function envelopeOf(raw?: Buffer, k = rng.pick(kinds)): Buffer {
  raw ??= guided(k.message, 5)
  const typeMeta = Buffer.concat([lengthDelimited(1, k.apiVersion), lengthDelimited(2, k.kind)])
  return Buffer.concat([magic, lengthDelimited(1, typeMeta), lengthDelimited(2, raw)])
}

function input(): Buffer {
  switch (rng.int(6)) {
    case 0:
      return rng.chance(0.5) ? Buffer.concat([magic, rng.bytes(rng.int(64))]) : rng.bytes(rng.int(64))
    case 1:
      return envelopeOf(soup(4))
    case 2:
      return envelopeOf()
    default:
      return rng.mutate(rng.pick(seeds), 8)
  }
}

t.test('decodes or refuses with a ProtobufError, in bounded time, to JSON that round-trips', async (t) => {
  let decoded = 0
  let refused = 0
  for (let i = 0; i < settings.iterations; i++) {
    const data = input()
    const started = performance.now()
    let obj: Record<string, unknown> | undefined
    try {
      obj = decodeProtobufObject(data)
      decoded++
    } catch (err) {
      if (!(err instanceof ProtobufError)) {
        t.fail(`case ${i} (seed ${settings.seed}) threw ${(err as Error)?.name}: ${(err as Error)?.message}; input ${data.toString('hex')}`)
        return
      }
      refused++
    }
    const ms = performance.now() - started
    if (ms > 5000) t.fail(`case ${i} (seed ${settings.seed}) took ${Math.round(ms)} ms; input ${data.toString('hex')}`)
    if (obj) {
      const json = JSON.parse(JSON.stringify(obj)) as Record<string, unknown>
      const again = decodeProtobufObject(encodeObject(json))
      if (!isDeepStrictEqual(again, json)) {
        t.fail(`case ${i} (seed ${settings.seed}) does not round-trip: ${JSON.stringify(json).slice(0, 500)} vs ${JSON.stringify(again).slice(0, 500)}`)
        return
      }
    }
  }
  t.ok(decoded > settings.iterations / 20, `some inputs decode (${decoded})`)
  t.ok(refused > settings.iterations / 20, `some inputs are refused (${refused})`)
})

t.test('the largest bodies: a full 3 MiB of fields decodes, one byte more is refused', async (t) => {
  const labels: Buffer[] = []
  let size = 0
  while (size < 3 * 1024 * 1024 - 200) {
    const entry = lengthDelimited(11, Buffer.concat([lengthDelimited(1, `k${labels.length}`), lengthDelimited(2, 'v')]))
    labels.push(entry)
    size += entry.length
  }
  // Field 1 is ObjectMeta in an object (a list's is ListMeta, without labels).
  const body = envelopeOf(lengthDelimited(1, Buffer.concat(labels)), kinds.find((k) => k.kind === 'ConfigMap'))
  t.ok(body.length <= 3 * 1024 * 1024)
  const obj = decodeProtobufObject(body) as { metadata: { labels: Record<string, string> } }
  t.equal(Object.keys(obj.metadata.labels).length, labels.length)
  t.throws(() => decodeProtobufObject(Buffer.concat([body, Buffer.alloc(3 * 1024 * 1024 + 1 - body.length)])), /more than the 3145728-byte limit/)
})
