import t from 'tap'
import { Backoff, sleep } from '../../src/client/index.ts'

t.test('exponential, capped, reset', (t) => {
  const b = new Backoff({ initialMs: 100, maxMs: 1000, factor: 2, jitter: 0 })
  t.same([b.next(), b.next(), b.next(), b.next(), b.next(), b.next()], [100, 200, 400, 800, 1000, 1000])
  t.equal(b.attempts, 6)
  b.reset()
  t.equal(b.next(), 100)
  t.end()
})

t.test('jitter takes away up to its fraction, never exceeding the cap', (t) => {
  const lows = new Backoff({ initialMs: 100, maxMs: 1000, jitter: 0.5, random: () => 0.999999 })
  const highs = new Backoff({ initialMs: 100, maxMs: 1000, jitter: 0.5, random: () => 0 })
  for (let i = 0; i < 8; i++) {
    const hi = highs.next()
    const lo = lows.next()
    t.ok(lo >= hi / 2 - 1 && lo <= hi, `attempt ${i}: ${lo} within [${hi / 2}, ${hi}]`)
    t.ok(hi <= 1000)
  }
  t.end()
})

t.test('sleep resolves false when aborted and leaves no timer', async (t) => {
  t.equal(await sleep(1), true)
  const ac = new AbortController()
  const before = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length
  const p = sleep(60_000, ac.signal)
  ac.abort()
  t.equal(await p, false)
  t.equal(process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length, before)
  t.equal(await sleep(10, ac.signal), false, 'an already aborted signal answers at once')
})
