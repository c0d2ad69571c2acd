// The etcd store against a real etcd that misbehaves: TLS with client certificates, a
// frozen etcd (answers nothing: every call meets its deadline, /readyz fails in 2 s), a
// killed and restarted etcd (watches resume with what they missed), and a watch stream that
// goes silent while etcd moves on (half-open: replaced, nothing lost).
import t from 'tap'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, connect, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { openEtcdStore } from '../../src/store/etcd.ts'
import { isStoreError, type WatchEvent } from '../../src/store/store.ts'
import { call, startTestServer } from '../helpers/apiserver.ts'
import { etcdTlsFiles, startEtcd } from '../helpers/etcd.ts'

const dir = mkdtempSync(join(tmpdir(), 'weft-etcd-faults-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))

function collect(store: Awaited<ReturnType<typeof openEtcdStore>>, prefix: string, after: number) {
  const events: WatchEvent[] = []
  const errors: Error[] = []
  const w = store.watch(prefix, after, { onEvent: (e) => events.push(e), onError: (e) => errors.push(e) })
  return { events, errors, cancel: () => w.cancel() }
}

async function until(what: string, cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`)
    await sleep(20)
  }
}

t.test('TLS with a client certificate; without one etcd refuses', async (t) => {
  const tls = await etcdTlsFiles(dir)
  const etcd = await startEtcd(t, { tls })
  const store = await openEtcdStore({ endpoints: [etcd.endpoint], prefix: '/tls', tls: etcd.client })
  t.teardown(() => store.close())
  const kv = await store.create('/a', 'over TLS')
  t.equal((await store.get('/a'))?.value, 'over TLS')
  const w = collect(store, '/', kv.modRevision)
  await store.create('/b', 'watched')
  await until('the watched write', () => w.events.length === 1)
  w.cancel()
  await t.rejects(openEtcdStore({ endpoints: [etcd.endpoint], prefix: '/tls', tls: { caPem: etcd.client!.caPem }, requestTimeoutMs: 3000 }), /unreachable|certificate|handshake|socket/i, 'no client certificate: refused')
  await t.rejects(openEtcdStore({ endpoints: ['http://127.0.0.1:1'], tls: etcd.client }), /is not an https:\/\/ endpoint/)
})

t.test('a frozen etcd: calls meet their deadline, /readyz fails within 2 s, all recovers', async (t) => {
  const etcd = await startEtcd(t)
  const store = await openEtcdStore({ endpoints: [etcd.endpoint], prefix: '/frozen', requestTimeoutMs: 1000 })
  const server = await startTestServer(t, { store })
  t.teardown(() => store.close())
  t.equal((await call(server.url, 'GET', '/readyz')).status, 200)
  etcd.freeze()
  let started = Date.now()
  await t.rejects(store.get('/x'), /no answer within 1000 ms/)
  t.ok(Date.now() - started < 3000, `a read gave up after ${Date.now() - started} ms`)
  started = Date.now()
  const ready = await call(server.url, 'GET', '/readyz?verbose')
  const took = Date.now() - started
  t.equal(ready.status, 500)
  t.match(ready.body, /\[-\]etcd failed: .*no answer within \d+ ms/)
  t.ok(took < 2800, `/readyz answered in ${took} ms`)
  const write = await call(server.url, 'POST', '/api/v1/namespaces/default/configmaps', { metadata: { name: 'frozen' } })
  t.ok(write.status >= 500, `a write fails (${write.status}) rather than hangs`)
  etcd.thaw()
  let status = 0
  for (let i = 0; i < 50 && status !== 200; i++) {
    status = (await call(server.url, 'GET', '/readyz')).status
    if (status !== 200) await sleep(100)
  }
  t.equal(status, 200, 'ready again once etcd answers')
  t.equal((await call(server.url, 'POST', '/api/v1/namespaces/default/configmaps', { metadata: { name: 'thawed' } })).status, 201)
})

t.test('etcd killed and restarted: watches resume and miss nothing', async (t) => {
  const etcd = await startEtcd(t)
  const store = await openEtcdStore({ endpoints: [etcd.endpoint], prefix: '/restart', requestTimeoutMs: 2000, reconnectTimeoutMs: 20_000 })
  t.teardown(() => store.close())
  const first = await store.create('/k/1', 'one')
  const w = collect(store, '/k/', first.modRevision - 1)
  await until('the first event', () => w.events.length === 1)
  await etcd.restart()
  await store.create('/k/2', 'two')
  await store.create('/k/3', 'three')
  await until('events after the restart', () => w.events.length === 3, 15_000)
  t.same(w.events.map((e) => e.key), ['/k/1', '/k/2', '/k/3'])
  t.same(w.errors, [])
  w.cancel()
})

/** A TCP relay to etcd that can silence the watch streams open now (etcd's bytes stop reaching them) while other connections go on. */
async function relay(target: string): Promise<{ endpoint: string; silenceWatches(): void; close(): Promise<void> }> {
  const { port } = new URL(target)
  const conns = new Set<{ client: Socket; upstream: Socket; watch: boolean }>()
  const server = createServer((client) => {
    const upstream = connect(Number(port), '127.0.0.1')
    const c = { client, upstream, watch: false }
    conns.add(c)
    let first = true
    client.on('data', (d: Buffer) => {
      if (first) c.watch = d.toString('latin1').startsWith('POST /v3/watch')
      first = false
      upstream.write(d)
    })
    upstream.on('data', (d: Buffer) => {
      if (!(c as { silenced?: boolean }).silenced) client.write(d)
    })
    const end = () => {
      client.destroy()
      upstream.destroy()
      conns.delete(c)
    }
    client.on('close', end).on('error', end)
    upstream.on('close', end).on('error', end)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address() as { port: number }
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    silenceWatches: () => {
      for (const c of conns) if (c.watch) (c as { silenced?: boolean }).silenced = true
    },
    close: async () => {
      for (const c of conns) {
        c.client.destroy()
        c.upstream.destroy()
      }
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

t.test('a watch stream that goes silent while etcd moves on is replaced, and nothing is lost', async (t) => {
  const etcd = await startEtcd(t)
  const r = await relay(etcd.endpoint)
  t.teardown(() => r.close())
  const store = await openEtcdStore({ endpoints: [r.endpoint], prefix: '/halfopen', watchLagCheckMs: 300 })
  t.teardown(() => store.close())
  const first = await store.create('/w/1', 'one')
  const w = collect(store, '/w/', first.modRevision - 1)
  await until('the first event', () => w.events.length === 1)
  r.silenceWatches()
  const started = Date.now()
  await store.create('/w/2', 'two')
  await until('the write seen through a new stream', () => w.events.length === 2, 10_000)
  t.equal(w.events[1]!.key, '/w/2')
  t.ok(Date.now() - started < 3000, `detected and replaced in ${Date.now() - started} ms (checks every 300 ms)`)
  t.notOk(w.errors.some((e) => isStoreError(e)), 'the watcher never saw an error')
  w.cancel()
})

t.test("etcd's progress notifications move a quiet watch's progress on (bookmarks can carry it)", async (t) => {
  const etcd = await startEtcd(t, { extraArgs: ['--experimental-watch-progress-notify-interval', '300ms'] })
  const store = await openEtcdStore({ endpoints: [etcd.endpoint], prefix: '/quiet' })
  const other = await openEtcdStore({ endpoints: [etcd.endpoint], prefix: '/busy' })
  t.teardown(async () => {
    await store.close()
    await other.close()
  })
  const start = await store.create('/k', 'v')
  const events: WatchEvent[] = []
  const w = store.watch('/', start.modRevision, { onEvent: (e) => events.push(e), onError: () => undefined })
  t.teardown(() => w.cancel())
  // Writes under another prefix move etcd's revision on; this store's range sees no event.
  let last = 0
  for (let i = 0; i < 5; i++) last = (await other.create(`/x/${i}`, 'y')).modRevision
  await until('the quiet watch to learn of the newer revision', () => (w.progress?.() ?? 0) >= last, 10_000)
  t.same(events, [], 'no event was delivered for it')
  t.ok((w.progress?.() ?? 0) >= last, `progress ${w.progress?.()} reached the other prefix's revision ${last}`)
})
