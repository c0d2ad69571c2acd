import t from 'tap'
import { ValueCache } from '../../src/store/value-cache.ts'
import type { KeyValue } from '../../src/store/store.ts'

const kv = (key: string, value: string, rev = 1): KeyValue => ({ key, value, createRevision: 1, modRevision: rev })

t.test('keeps the most recently written values within its bytes', async (t) => {
  const cache = new ValueCache(30)
  cache.set(kv('/a', 'x'.repeat(8))) // 10 bytes
  cache.set(kv('/b', 'y'.repeat(8)))
  cache.set(kv('/c', 'z'.repeat(8)))
  t.equal(cache.bytes, 30)
  t.equal(cache.size, 3)
  cache.set(kv('/a', 'x'.repeat(8), 2)) // rewriting /a makes it the newest
  cache.set(kv('/d', 'w'.repeat(8)))
  t.equal(cache.get('/b'), undefined, 'the least recently written goes first')
  t.equal(cache.get('/a')?.modRevision, 2)
  t.ok(cache.get('/c'))
  t.ok(cache.get('/d'))
  t.equal(cache.bytes, 30)
})

t.test('a value larger than the whole cache is not kept, and drops its stale copy', async (t) => {
  const cache = new ValueCache(20)
  cache.set(kv('/a', 'small'))
  cache.set(kv('/b', 'small'))
  cache.set(kv('/a', 'x'.repeat(40), 2))
  t.equal(cache.get('/a'), undefined, 'no stale copy of /a survives its newer, uncacheable write')
  t.ok(cache.get('/b'), 'others stay')
  t.equal(cache.bytes, 7)
})

t.test('delete and clear give the bytes back; a zero-size cache keeps nothing', async (t) => {
  const cache = new ValueCache(100)
  cache.set(kv('/a', 'one'))
  cache.set(kv('/b', 'two'))
  cache.delete('/a')
  cache.delete('/missing')
  t.equal(cache.bytes, 5)
  cache.clear()
  t.equal(cache.bytes, 0)
  t.equal(cache.size, 0)
  const none = new ValueCache(0)
  none.set(kv('/a', 'v'))
  t.equal(none.size, 0)
  t.throws(() => new ValueCache(-1), RangeError)
  t.throws(() => new ValueCache(1.5), RangeError)
})

t.test('seeded: bytes always equal the sum of what it holds, never over the bound', async (t) => {
  let seed = 1234
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31
    return seed % n
  }
  const cache = new ValueCache(500)
  const written: string[] = []
  for (let i = 0; i < 5000; i++) {
    const key = `/k${rand(60)}`
    if (rand(5) === 0) {
      cache.delete(key)
      if (written.includes(key)) written.splice(written.indexOf(key), 1)
    } else {
      cache.set(kv(key, 'v'.repeat(rand(80)), i))
      if (written.includes(key)) written.splice(written.indexOf(key), 1)
      written.push(key)
    }
    let sum = 0
    let held = 0
    for (const k of written) {
      const v = cache.get(k)
      if (v) {
        sum += v.key.length + v.value.length
        held++
      }
    }
    if (sum !== cache.bytes || held !== cache.size || cache.bytes > 500) {
      t.fail(`step ${i}: bytes ${cache.bytes} vs ${sum}, size ${cache.size} vs ${held}`)
      return
    }
    // What it holds is always the newest-written suffix of the keys.
    const heldKeys = written.filter((k) => cache.get(k) !== undefined)
    const suffix = written.slice(written.length - heldKeys.length)
    if (heldKeys.join() !== suffix.join()) {
      t.fail(`step ${i}: holds ${heldKeys.join()} but the newest are ${suffix.join()}`)
      return
    }
  }
  t.pass('5000 seeded steps')
})
