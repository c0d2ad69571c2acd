import t from 'tap'
import { SyncLoop, type SyncLoopOptions } from '../../src/util/sync-loop.ts'
import { logger } from '../../src/util/log.ts'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

function loop(t: { teardown(fn: () => unknown): void }, over: Partial<SyncLoopOptions> & { outcomes?: boolean[]; syncMs?: number } = {}) {
  const calls: { at: number; full: boolean }[] = []
  let fullNext = true
  const outcomes = [...(over.outcomes ?? [])]
  const l = new SyncLoop({
    minSyncMs: 0,
    fullSyncMs: 60_000,
    what: 'test',
    log: logger('test'),
    fullDue: () => void (fullNext = true),
    sync: async () => {
      const full = fullNext
      calls.push({ at: Date.now(), full })
      await sleep(over.syncMs ?? 0)
      const ok = outcomes.length ? outcomes.shift()! : true
      if (ok) fullNext = false
      return { ok, full }
    },
    ...over,
  })
  t.teardown(() => l.stop())
  return { l, calls }
}

const until = async (what: string, check: () => boolean, ms = 3000) => {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(5)) if (check()) return
  throw new Error(`timed out waiting for ${what}`)
}

t.test('no sync before start; the first is full; a change syncs at once', async (t) => {
  const { l, calls } = loop(t)
  l.changed()
  await sleep(30)
  t.equal(calls.length, 0, 'changes before start only wait')
  t.notOk(l.health().healthy)
  t.equal(l.health().reason, 'not synced yet')
  await l.start()
  t.same(calls.map((c) => c.full), [true])
  t.ok(l.health().healthy)
  l.changed()
  await until('the second sync', () => calls.length === 2)
  t.equal(calls[1].full, false)
})

t.test('changes during a sync go together in one more sync, and keep their own waiting time', async (t) => {
  const { l, calls } = loop(t, { syncMs: 80, healthTimeoutMs: 50 })
  await l.start()
  l.changed()
  await sleep(10)
  for (let i = 0; i < 5; i++) l.changed()
  await until('two more syncs', () => calls.length >= 3)
  await sleep(150)
  t.equal(calls.length, 3, 'five changes during the second sync made one third sync')
  const { l: slow } = loop(t, { syncMs: 120, healthTimeoutMs: 60 })
  await slow.start()
  slow.changed()
  await sleep(10)
  slow.changed()
  await sleep(130)
  t.notOk(slow.health().healthy, 'a change that came during a sync and waits past the timeout is unhealthy')
  await until('healthy again once synced', () => slow.health().healthy)
  t.pass('once synced it is healthy again')
})

t.test('at most one sync per minSyncMs', async (t) => {
  const { l, calls } = loop(t, { minSyncMs: 100 })
  await l.start()
  for (let i = 0; i < 4; i++) {
    l.changed()
    await sleep(30)
  }
  await until('a second sync', () => calls.length >= 2)
  await sleep(250)
  for (let i = 1; i < calls.length; i++) t.ok(calls[i].at - calls[i - 1].at >= 95, 'syncs at least minSyncMs apart')
  t.ok(calls.length <= 3, `changes were batched (${calls.length} syncs)`)
})

t.test('a failed sync is retried with backoff; failures show in health', async (t) => {
  const { l, calls } = loop(t, { outcomes: [true, false, false, true], retry: { initialMs: 40, maxMs: 1000 } })
  await l.start()
  l.changed()
  await until('the failed sync', () => calls.length === 2)
  await sleep(5)
  t.equal(l.failures, 1)
  await until('the retries', () => calls.length === 4, 2000)
  t.ok(calls[2].at - calls[1].at >= 35, 'the first retry waits the initial backoff')
  t.ok(calls[3].at - calls[2].at >= 75, 'the second waits twice as long')
  await sleep(5)
  t.equal(l.failures, 0)
  t.ok(l.health().healthy)
})

t.test('the periodic full sync, and health when full syncs stop succeeding', async (t) => {
  const { l, calls } = loop(t, { fullSyncMs: 60, healthTimeoutMs: 40, outcomes: [true, true, false, false, false, false, false, false, false, false], retry: { initialMs: 1000, maxMs: 1000 } })
  await l.start()
  await until('a periodic full sync', () => calls.length >= 2)
  t.equal(calls[1].full, true)
  await until('a failing periodic sync', () => calls.length >= 3)
  await sleep(120)
  t.notOk(l.health().healthy, 'full syncs failing past fullSyncMs + timeout')
  t.match(l.health().reason, /failed/)
})
