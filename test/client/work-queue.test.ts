import t from 'tap'
import { WorkQueue, ItemExponentialRateLimiter } from '../../src/client/index.ts'
import type { RateLimiter } from '../../src/client/index.ts'

t.test('dedups keys that are waiting', async (t) => {
  const q = new WorkQueue<string>()
  q.add('a')
  q.add('b')
  q.add('a')
  t.equal(q.length, 2)
  t.equal(await q.get(), 'a')
  t.equal(await q.get(), 'b')
  t.equal(q.length, 0)
  q.shutDown()
})

t.test('a key added while processing comes back after done, never to two workers', async (t) => {
  const q = new WorkQueue<string>()
  q.add('a')
  const key = await q.get()
  t.equal(key, 'a')
  t.ok(q.isProcessing('a'))
  q.add('a')
  q.add('a')
  t.equal(q.length, 0, 'not handed out while still being processed')
  const second = q.get()
  let handed: string | undefined
  void second.then((k) => (handed = k))
  await new Promise((r) => setImmediate(r))
  t.equal(handed, undefined, 'a waiting worker does not get it yet')
  q.done('a')
  t.equal(await second, 'a', 're-queued once after done')
  q.done('a')
  t.equal(q.length, 0, 'the two adds while processing made one re-queue')
  q.shutDown()
})

t.test('get waits for add; waiters are served in order', async (t) => {
  const q = new WorkQueue<number>()
  const w1 = q.get()
  const w2 = q.get()
  q.add(1)
  q.add(2)
  t.equal(await w1, 1)
  t.equal(await w2, 2)
  q.add(1)
  t.equal(q.length, 0, 'handed to no one, but 1 is still processing so it waits')
  q.done(1)
  t.equal(await q.get(), 1)
  q.shutDown()
})

t.test('shutDown releases waiters and ends get', async (t) => {
  const q = new WorkQueue<string>()
  const waiting = q.get()
  q.add('x')
  await waiting
  const next = q.get()
  q.add('y')
  q.shutDown()
  t.equal(await next, 'y')
  const after = q.get()
  t.equal(await after, undefined)
  q.add('z')
  t.equal(q.length, 0, 'adds after shutdown are dropped')
  const blocked = new WorkQueue<string>()
  const p = blocked.get()
  blocked.shutDown()
  t.equal(await p, undefined, 'a blocked get answers undefined')
})

t.test('addRateLimited backs off per key; forget resets', async (t) => {
  const delays: [string, number][] = []
  const inner = new ItemExponentialRateLimiter<string>({ baseMs: 1, maxMs: 8 })
  const limiter: RateLimiter<string> = {
    when: (k) => {
      const d = inner.when(k)
      delays.push([k, d])
      return d
    },
    forget: (k) => inner.forget(k),
    numRequeues: (k) => inner.numRequeues(k),
  }
  const q = new WorkQueue<string>({ rateLimiter: limiter })
  t.teardown(() => q.shutDown())
  for (let i = 0; i < 5; i++) {
    q.addRateLimited('a')
    t.equal(await q.get(), 'a')
    q.done('a')
  }
  q.addRateLimited('b')
  t.equal(await q.get(), 'b')
  q.done('b')
  t.same(delays.map(([, d]) => d), [1, 2, 4, 8, 8, 1], 'doubling per key, capped, independent per key')
  t.equal(q.numRequeues('a'), 5)
  q.forget('a')
  t.equal(q.numRequeues('a'), 0)
  q.addRateLimited('a')
  t.same(delays.at(-1), ['a', 1], 'after forget the backoff starts over')
  t.equal(await q.get(), 'a')
  q.done('a')
})

t.test('addAfter keeps the earliest pending delay; shutDown cancels timers', async (t) => {
  const q = new WorkQueue<string>()
  q.addAfter('a', 60_000)
  q.addAfter('a', 1)
  t.equal(await q.get(), 'a', 'the shorter delay wins')
  q.done('a')
  const before = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length
  q.addAfter('b', 60_000)
  t.equal(process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length, before + 1)
  q.shutDown()
  t.equal(process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length, before, 'no timer left behind')
})

t.test('ItemExponentialRateLimiter', (t) => {
  const r = new ItemExponentialRateLimiter<string>()
  t.same([r.when('k'), r.when('k'), r.when('k')], [5, 10, 20], 'client-go defaults: 5 ms doubling')
  for (let i = 0; i < 100; i++) r.when('k')
  t.equal(r.when('k'), 1_000_000, 'capped at 1000 s')
  t.end()
})

t.test('releaseWaiters frees waiting workers but keeps the queue', async (t) => {
  const q = new WorkQueue<string>()
  const waiting = q.get()
  q.releaseWaiters()
  t.equal(await waiting, undefined, 'a waiting get() answers undefined')
  t.notOk(q.shuttingDown)
  q.add('a')
  t.equal(q.length, 1, 'keys added afterwards wait')
  t.equal(await q.get(), 'a', 'for the next worker')
  q.done('a')
})

t.test('with a priority, higher keys first, ties in the order added', async (t) => {
  const rank: Record<string, number> = { low: 1, mid: 5, high: 10, mid2: 5 }
  const q = new WorkQueue<string>({ priority: (k) => rank[k] ?? 0 })
  for (const k of ['low', 'mid', 'high', 'mid2']) q.add(k)
  t.equal(q.length, 4)
  const order: string[] = []
  for (let i = 0; i < 4; i++) {
    const k = (await q.get())!
    order.push(k)
    q.done(k)
  }
  t.same(order, ['high', 'mid', 'mid2', 'low'])
  q.add('low')
  q.shutDown()
  t.equal(q.length, 0)
})
