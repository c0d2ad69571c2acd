import t from 'tap'
import { LineSplitter, decodeWatchStream, parseWatchEvent } from '../../src/client/index.ts'
import type { WatchEvent } from '../../src/client/index.ts'
import { ApiError } from '../../src/util/errors.ts'

const events = [
  { type: 'ADDED', object: { metadata: { name: 'a', resourceVersion: '1', annotations: { note: 'héllo wörld ✓ 𝄞' } } } },
  { type: 'MODIFIED', object: { metadata: { name: 'a', resourceVersion: '2' } } },
  { type: 'BOOKMARK', object: { metadata: { resourceVersion: '5' } } },
  { type: 'DELETED', object: { metadata: { name: 'a', resourceVersion: '6' } } },
]
const wire = Buffer.from(events.map((e) => JSON.stringify(e) + '\n').join(''))

async function* chunks(parts: Uint8Array[]): AsyncGenerator<Uint8Array> {
  for (const p of parts) yield p
}

async function collect(parts: Uint8Array[]): Promise<WatchEvent[]> {
  const out: WatchEvent[] = []
  for await (const ev of decodeWatchStream(chunks(parts))) out.push(ev)
  return out
}

t.test('every split point, including inside multi-byte characters', async (t) => {
  let bad = 0
  for (let i = 1; i < wire.length; i++) {
    const got = await collect([wire.subarray(0, i), wire.subarray(i)])
    if (JSON.stringify(got) !== JSON.stringify(events)) bad++
  }
  t.equal(bad, 0, 'the same events whichever byte the chunk boundary falls on')
})

t.test('one byte per chunk, and all events in one chunk', async (t) => {
  const bytes: Uint8Array[] = []
  for (let i = 0; i < wire.length; i++) bytes.push(wire.subarray(i, i + 1))
  t.same(await collect(bytes), events)
  t.same(await collect([wire]), events)
})

t.test('a last line without newline, blank lines and CRLF', async (t) => {
  const text = '\n' + JSON.stringify(events[0]) + '\r\n\n  \n' + JSON.stringify(events[1])
  t.same(await collect([Buffer.from(text)]), events.slice(0, 2))
})

t.test('LineSplitter keeps whole lines', (t) => {
  const lines: string[] = []
  const s = new LineSplitter()
  s.push(Buffer.from('ab'), (l) => lines.push(l))
  s.push(Buffer.from('c\nde'), (l) => lines.push(l))
  s.push(new Uint8Array(Buffer.from('f\ng\n')), (l) => lines.push(l))
  s.end((l) => lines.push(l))
  t.same(lines, ['abc', 'def', 'g'])
  t.end()
})

t.test('ERROR event throws its Status as ApiError after earlier events', async (t) => {
  const status = { kind: 'Status', apiVersion: 'v1', status: 'Failure', code: 410, reason: 'Expired', message: 'too old resource version: 1 (7)' }
  const text = JSON.stringify(events[0]) + '\n' + JSON.stringify({ type: 'ERROR', object: status }) + '\n' + JSON.stringify(events[1]) + '\n'
  const got: WatchEvent[] = []
  const err = await (async () => {
    for await (const ev of decodeWatchStream(chunks([Buffer.from(text)]))) got.push(ev)
  })().catch((e: unknown) => e)
  t.same(got, [events[0]], 'events before the error are delivered')
  t.ok(err instanceof ApiError)
  t.match(err, { code: 410, reason: 'Expired', message: 'too old resource version: 1 (7)' })
})

t.test('malformed lines are errors', (t) => {
  t.throws(() => parseWatchEvent('{"type":"ADDED"'), /not JSON/)
  t.throws(() => parseWatchEvent('{"type":"SOMETHING","object":{}}'), /unknown event type/)
  t.throws(() => parseWatchEvent('{"type":"ADDED"}'), /without an object/)
  t.throws(() => parseWatchEvent('[1]'), /unknown event type/)
  t.end()
})
