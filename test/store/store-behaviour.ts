// The behaviour every Store backend must show; run by each backend's test file.
import { isStoreError } from '../../src/store/store.ts'
import type { Store, WatchEvent } from '../../src/store/store.ts'
import type { Test } from 'tap'


export interface Collector {
  events: WatchEvent[]
  errors: Error[]
  /** Resolves once an event for `key` arrived (or rejects after a few seconds). */
  until(key: string): Promise<void>
  untilError(): Promise<Error>
  cancel(): void
}

export function collect(store: Store, prefix: string, after: number): Collector {
  const events: WatchEvent[] = []
  const errors: Error[] = []
  let wake = (): void => {}
  const watch = store.watch(prefix, after, {
    onEvent: (ev) => {
      events.push(ev)
      wake()
    },
    onError: (err) => {
      errors.push(err)
      wake()
    },
  })
  const wait = (done: () => boolean, what: string): Promise<void> =>
    new Promise((resolve, reject) => {
      if (done()) return resolve()
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}; got ${JSON.stringify(events.map((e) => e.key))} ${errors.map((e) => e.message)}`)), 8000)
      const previous = wake
      wake = () => {
        previous()
        if (done()) {
          clearTimeout(timer)
          resolve()
        }
      }
    })
  return {
    events,
    errors,
    until: (key) => wait(() => events.some((e) => e.key === key) || errors.length > 0, `an event for ${key}`),
    untilError: async () => {
      await wait(() => errors.length > 0, 'an error')
      return errors[0]
    },
    cancel: () => watch.cancel(),
  }
}

function summary(events: WatchEvent[]): string[] {
  return events.map((e) => `${e.type} ${e.key} ${e.value ?? ''}`.trim())
}

export async function runStoreSuite(t: Test, name: string, open: () => Promise<Store>): Promise<void> {
  const fresh = async (t: Test): Promise<Store> => {
    const store = await open()
    t.teardown(() => store.close())
    return store
  }

  await t.test(`${name}: create, get, duplicate create`, async (t) => {
    const s = await fresh(t)
    t.equal(await s.get('/a/x'), undefined, 'missing key reads as undefined')
    const kv = await s.create('/a/x', '{"v":1}')
    t.equal(kv.key, '/a/x')
    t.equal(kv.value, '{"v":1}')
    t.equal(kv.createRevision, kv.modRevision, 'a create sets both revisions')
    t.same(await s.get('/a/x'), kv, 'get returns what create returned')
    t.equal(await s.currentRevision(), kv.modRevision)
    await t.rejects(s.create('/a/x', 'other'), { code: 'KeyExists' }, 'duplicate create fails')
    t.equal((await s.get('/a/x'))?.value, '{"v":1}', 'duplicate create changed nothing')
    t.equal(await s.currentRevision(), kv.modRevision, 'a failed create uses no revision')
  })

  await t.test(`${name}: compare-and-swap update`, async (t) => {
    const s = await fresh(t)
    const v1 = await s.create('/a/x', 'one')
    const v2 = await s.update('/a/x', 'two', v1.modRevision)
    t.equal(v2.value, 'two')
    t.equal(v2.createRevision, v1.createRevision, 'update keeps createRevision')
    t.ok(v2.modRevision > v1.modRevision, 'update moves modRevision')
    t.same(await s.get('/a/x'), v2)
    try {
      await s.update('/a/x', 'stale', v1.modRevision)
      t.ok(false, 'stale update must fail')
    } catch (err) {
      t.ok(isStoreError(err, 'Conflict'), 'stale update is a Conflict')
      t.same(isStoreError(err) ? err.current : undefined, v2, 'the conflict carries the current value')
    }
    await t.rejects(s.update('/a/missing', 'x', v2.modRevision), { code: 'KeyNotFound' }, 'update of a missing key')
    t.equal((await s.get('/a/x'))?.value, 'two')
  })

  await t.test(`${name}: delete with and without precondition`, async (t) => {
    const s = await fresh(t)
    const a = await s.create('/a/x', 'ax')
    const b = await s.create('/a/y', 'ay')
    const gone = await s.delete('/a/x')
    t.equal(gone.value, 'ax', 'delete returns the last value')
    t.equal(gone.createRevision, a.createRevision)
    t.ok(gone.modRevision > b.modRevision, 'modRevision is the deletion revision')
    t.equal(gone.modRevision, await s.currentRevision())
    t.equal(await s.get('/a/x'), undefined)
    await t.rejects(s.delete('/a/x'), { code: 'KeyNotFound' }, 'deleting a missing key')
    try {
      await s.delete('/a/y', b.modRevision - 1)
      t.ok(false, 'delete with a stale revision must fail')
    } catch (err) {
      t.ok(isStoreError(err, 'Conflict'), 'stale delete is a Conflict')
      t.same(isStoreError(err) ? err.current : undefined, b)
    }
    t.ok(await s.get('/a/y'), 'the key survived the failed delete')
    const y = await s.delete('/a/y', b.modRevision)
    t.equal(y.value, 'ay')
    t.equal(await s.get('/a/y'), undefined)
    await t.rejects(s.delete('/a/y', b.modRevision), { code: 'KeyNotFound' })
    // A key re-created after deletion starts a new life.
    const again = await s.create('/a/x', 'new')
    t.ok(again.createRevision > gone.modRevision)
  })

  await t.test(`${name}: revisions strictly increase across keys`, async (t) => {
    const s = await fresh(t)
    const start = await s.currentRevision()
    const revs: number[] = []
    for (let i = 0; i < 10; i++) revs.push((await s.create(`/r/${i}`, 'v')).modRevision)
    revs.push((await s.update('/r/3', 'w', revs[3])).modRevision)
    revs.push((await s.delete('/r/5')).modRevision)
    t.ok(revs[0] > start)
    t.ok(revs.every((r, i) => i === 0 || r > revs[i - 1]), `strictly increasing: ${revs}`)
    t.equal(await s.currentRevision(), revs[revs.length - 1])
    const concurrent = await Promise.all(Array.from({ length: 20 }, (_, i) => s.create(`/c/${i}`, 'v')))
    t.equal(new Set(concurrent.map((kv) => kv.modRevision)).size, 20, 'concurrent writes get distinct revisions')
  })

  await t.test(`${name}: list with prefix, limit, startAfter`, async (t) => {
    const s = await fresh(t)
    const keys = ['/p/b', '/p/a', '/p/c/1', '/p/c/2', '/p/d', '/p/B', '/p/é', '/q/a', '/pa']
    for (const k of keys) await s.create(k, `v${k}`)
    const all = await s.list('/p/')
    t.same(all.items.map((kv) => kv.key), ['/p/B', '/p/a', '/p/b', '/p/c/1', '/p/c/2', '/p/d', '/p/é'], 'byte order, prefix only')
    t.equal(all.more, false)
    t.equal(all.revision, await s.currentRevision())
    t.equal(all.items[1].value, 'v/p/a')
    t.equal(await s.count('/p/'), 7)
    t.equal(await s.count('/p/c/'), 2)
    t.equal(await s.count('/nothing/'), 0)
    const page1 = await s.list('/p/', { limit: 3, countRemaining: true })
    t.same(page1.items.map((kv) => kv.key), ['/p/B', '/p/a', '/p/b'])
    t.equal(page1.more, true)
    t.equal(page1.remaining, 4)
    const uncounted = await s.list('/p/', { limit: 3 })
    t.ok(uncounted.remaining === undefined || uncounted.remaining === 4, 'not asked for: left out, or right')
    const page2 = await s.list('/p/', { limit: 3, startAfter: '/p/b', countRemaining: true })
    t.same(page2.items.map((kv) => kv.key), ['/p/c/1', '/p/c/2', '/p/d'])
    t.equal(page2.remaining, 1)
    const page3 = await s.list('/p/', { limit: 3, startAfter: '/p/d' })
    t.same(page3.items.map((kv) => kv.key), ['/p/é'])
    t.equal(page3.more, false)
    const sub = await s.list('/p/c/')
    t.same(sub.items.map((kv) => kv.key), ['/p/c/1', '/p/c/2'])
    t.same((await s.list('', {})).items.length, keys.length, 'empty prefix lists everything')
  })

  await t.test(`${name}: list as of a past revision`, async (t) => {
    const s = await fresh(t)
    const a = await s.create('/h/a', 'a1')
    await s.create('/h/b', 'b1')
    await s.create('/h/c', 'c1')
    const then = await s.currentRevision()
    await s.update('/h/a', 'a2', a.modRevision)
    await s.delete('/h/b')
    await s.create('/h/d', 'd1')
    const past = await s.list('/h/', { revision: then })
    t.equal(past.revision, then)
    t.same(past.items.map((kv) => `${kv.key}=${kv.value}`), ['/h/a=a1', '/h/b=b1', '/h/c=c1'])
    t.equal(past.items[0].modRevision, a.modRevision, 'past items carry their revision then')
    const pastPage = await s.list('/h/', { revision: then, limit: 1, startAfter: '/h/a' })
    t.same(pastPage.items.map((kv) => kv.key), ['/h/b'])
    t.equal(pastPage.more, true)
    t.ok(pastPage.remaining === undefined || pastPage.remaining === 1, 'what is left is right when it is told')
    // Page through the past, one key at a time: in key order, the deleted key as it was, the later one absent.
    const paged: string[] = []
    let after: string | undefined
    for (;;) {
      const page = await s.list('/h/', { revision: then, limit: 1, startAfter: after })
      paged.push(...page.items.map((kv) => `${kv.key}=${kv.value}`))
      if (!page.more) break
      after = page.items[page.items.length - 1]!.key
    }
    t.same(paged, ['/h/a=a1', '/h/b=b1', '/h/c=c1'])
    const now = await s.list('/h/')
    t.same(now.items.map((kv) => `${kv.key}=${kv.value}`), ['/h/a=a2', '/h/c=c1', '/h/d=d1'])
  })

  await t.test(`${name}: watch replays from a past revision then continues live`, async (t) => {
    const s = await fresh(t)
    const start = await s.currentRevision()
    const a = await s.create('/w/a', 'a1')
    await s.create('/w/b', 'b1')
    await s.update('/w/a', 'a2', a.modRevision)
    const w = collect(s, '/w/', start)
    t.teardown(() => w.cancel())
    await w.until('/w/a')
    await s.delete('/w/b')
    await s.create('/w/c', 'c1')
    for (let i = 0; i < 20; i++) await s.create(`/w/n${i}`, 'n')
    await s.create('/w/zz-end', 'end')
    await w.until('/w/zz-end')
    t.same(summary(w.events), [
      'put /w/a a1', 'put /w/b b1', 'put /w/a a2', 'delete /w/b', 'put /w/c c1',
      ...Array.from({ length: 20 }, (_, i) => `put /w/n${i} n`), 'put /w/zz-end end',
    ], 'every write once, in order')
    const revs = w.events.map((e) => e.revision)
    t.ok(revs.every((r, i) => i === 0 || r > revs[i - 1]), 'revisions increase')
    t.same(w.errors, [])
    // Starting in the middle of history replays only what came after.
    const mid = collect(s, '/w/', a.modRevision + 1)
    t.teardown(() => mid.cancel())
    await mid.until('/w/zz-end')
    t.same(summary(mid.events).slice(0, 2), ['put /w/a a2', 'delete /w/b'])
    t.equal(mid.events.length, w.events.length - 2)
  })

  await t.test(`${name}: watch filters by prefix`, async (t) => {
    const s = await fresh(t)
    const start = await s.currentRevision()
    const w = collect(s, '/f/pods/', start)
    t.teardown(() => w.cancel())
    await s.create('/f/pods/a', '1')
    await s.create('/f/podsx', '2')
    await s.create('/f/services/a', '3')
    await s.create('/f/pods/b', '4')
    await s.create('/f/pods/zz-end', '5')
    await w.until('/f/pods/zz-end')
    t.same(w.events.map((e) => e.key), ['/f/pods/a', '/f/pods/b', '/f/pods/zz-end'])
  })

  await t.test(`${name}: events carry createRevision and prevValue`, async (t) => {
    const s = await fresh(t)
    const start = await s.currentRevision()
    const w = collect(s, '/e/', start)
    t.teardown(() => w.cancel())
    const created = await s.create('/e/k', 'v1')
    const updated = await s.update('/e/k', 'v2', created.modRevision)
    const deleted = await s.delete('/e/k')
    await s.create('/e/zz-end', 'x')
    await w.until('/e/zz-end')
    const [c, u, d] = w.events
    t.same(c, { type: 'put', key: '/e/k', revision: created.modRevision, createRevision: created.modRevision, value: 'v1' }, 'a create: createRevision == revision')
    t.match(u, { type: 'put', key: '/e/k', revision: updated.modRevision, createRevision: created.modRevision, value: 'v2', prevValue: 'v1' }, 'an update carries the previous value')
    t.ok(u.createRevision < u.revision, 'an update is told apart by createRevision < revision')
    t.match(d, { type: 'delete', key: '/e/k', revision: deleted.modRevision, createRevision: created.modRevision, prevValue: 'v2' }, 'a delete carries the last value')
    t.equal(d.value, undefined)
  })

  await t.test(`${name}: cancel stops delivery`, async (t) => {
    const s = await fresh(t)
    const start = await s.currentRevision()
    const cancelled = collect(s, '/x/', start)
    const witness = collect(s, '/x/', start)
    t.teardown(() => witness.cancel())
    await s.create('/x/1', '1')
    await cancelled.until('/x/1')
    cancelled.cancel()
    await s.create('/x/2', '2')
    await s.create('/x/3', '3')
    await witness.until('/x/3')
    await new Promise((resolve) => setTimeout(resolve, 50))
    t.same(cancelled.events.map((e) => e.key), ['/x/1'], 'nothing after cancel')
    t.same(cancelled.errors, [], 'cancel is not an error')
    t.same(witness.events.map((e) => e.key), ['/x/1', '/x/2', '/x/3'])
  })

  await t.test(`${name}: 100 concurrent watchers all receive every event`, async (t) => {
    const s = await fresh(t)
    const start = await s.currentRevision()
    await s.create('/m/before', '0')
    const watchers = Array.from({ length: 100 }, (_, i) => collect(s, i % 2 === 0 ? '/m/' : '', start))
    t.teardown(() => watchers.forEach((w) => w.cancel()))
    const writes = Array.from({ length: 30 }, (_, i) => `/m/k${String(i).padStart(2, '0')}`)
    for (const k of writes) await s.create(k, 'v')
    await s.create('/m/zz-end', 'end')
    await Promise.all(watchers.map((w) => w.until('/m/zz-end')))
    const expected = ['/m/before', ...writes, '/m/zz-end']
    const wrong = watchers.filter((w) => JSON.stringify(w.events.map((e) => e.key)) !== JSON.stringify(expected))
    t.equal(wrong.length, 0, 'every watcher saw every event once, in order')
    t.equal(watchers.reduce((n, w) => n + w.errors.length, 0), 0)
  })

  await t.test(`${name}: compaction`, async (t) => {
    const s = await fresh(t)
    const old = await s.create('/z/old', 'kept')
    const k = await s.create('/z/k', 'k1')
    const k2 = await s.update('/z/k', 'k2', k.modRevision)
    const gone = await s.create('/z/gone', 'g')
    await s.delete('/z/gone', gone.modRevision)
    const k3 = await s.update('/z/k', 'k3', k2.modRevision)
    await s.compact(k3.modRevision)
    t.ok((await s.compactedRevision()) >= k3.modRevision, 'compactedRevision reports the compaction')
    try {
      await s.list('/z/', { revision: k.modRevision })
      t.ok(false, 'listing below the compacted revision must fail')
    } catch (err) {
      t.ok(isStoreError(err, 'Compacted'), 'list below the compacted revision is Compacted')
      t.ok(isStoreError(err) && (err.compactRevision ?? 0) >= k3.modRevision, 'the error names the compacted revision')
    }
    const w = collect(s, '/z/', old.modRevision)
    const err = await w.untilError()
    t.ok(isStoreError(err, 'Compacted'), 'watch from below the compacted revision is Compacted')
    t.same(w.events, [], 'and delivers nothing')
    const at = await s.list('/z/', { revision: k3.modRevision })
    t.same(at.items.map((kv) => `${kv.key}=${kv.value}`), ['/z/k=k3', '/z/old=kept'], 'state at the compacted revision is intact')
    const live = collect(s, '/z/', k3.modRevision)
    t.teardown(() => live.cancel())
    await s.create('/z/zz-end', 'x')
    await live.until('/z/zz-end')
    t.same(live.events.map((e) => e.key), ['/z/zz-end'], 'watching from the compacted revision works')
    await s.compact(k.modRevision)
    t.ok((await s.compactedRevision()) >= k3.modRevision, 'compaction never goes backwards')
  })
}
