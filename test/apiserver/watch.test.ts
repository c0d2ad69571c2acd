import t from 'tap'
import { adminCredentials, adminFetch, call, startTestServer } from '../helpers/apiserver.ts'

interface Event {
  type: string
  object: any
}

/** Opens a watch and collects events until `until` says stop or the stream ends. */
async function watch(url: string, path: string, until: (events: Event[]) => boolean, headers: Record<string, string> = {}): Promise<Event[]> {
  const ac = new AbortController()
  const res = await adminFetch(url + path, { signal: ac.signal, headers })
  const events: Event[] = []
  const decoder = new TextDecoder()
  let buffer = ''
  const timer = setTimeout(() => ac.abort(), 10_000)
  try {
    for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true })
      let nl: number
      while ((nl = buffer.indexOf('\n')) >= 0) {
        events.push(JSON.parse(buffer.slice(0, nl)))
        buffer = buffer.slice(nl + 1)
      }
      if (until(events)) break
    }
  } catch (err) {
    if ((err as Error).name !== 'AbortError') throw err
  } finally {
    clearTimeout(timer)
    ac.abort()
  }
  return events
}

const cm = (name: string, labels: Record<string, string> = {}) => ({ metadata: { name, labels }, data: { k: 'v' } })

t.test('watch from a resourceVersion delivers ADDED, MODIFIED, DELETED in order', async (t) => {
  const { url } = await startTestServer(t)
  const start = (await call(url, 'GET', '/api/v1/namespaces/default/configmaps')).body.metadata.resourceVersion
  const seen = watch(url, `/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=${start}`, (e) => e.length >= 3)
  const created = await call(url, 'POST', '/api/v1/namespaces/default/configmaps', cm('a'))
  await call(url, 'PATCH', '/api/v1/namespaces/default/configmaps/a', { data: { k: 'w' } }, { 'content-type': 'application/merge-patch+json' })
  await call(url, 'DELETE', '/api/v1/namespaces/default/configmaps/a')
  const events = await seen
  t.same(events.map((e) => e.type), ['ADDED', 'MODIFIED', 'DELETED'])
  t.equal(events[0].object.metadata.resourceVersion, created.body.metadata.resourceVersion)
  t.equal(events[1].object.data.k, 'w')
  const rvs = events.map((e) => Number(e.object.metadata.resourceVersion))
  t.ok(rvs[0] < rvs[1] && rvs[1] < rvs[2], 'resourceVersions increase')
})

t.test('watch without resourceVersion starts with the current state', async (t) => {
  const { url } = await startTestServer(t)
  await call(url, 'POST', '/api/v1/namespaces/default/configmaps', cm('x'))
  const events = await watch(url, '/api/v1/namespaces/default/configmaps?watch=1', (e) => e.length >= 1)
  t.equal(events[0].type, 'ADDED')
  t.equal(events[0].object.metadata.name, 'x')
})

t.test('label-selected watch turns objects leaving and entering the selection into DELETED and ADDED', async (t) => {
  const { url } = await startTestServer(t)
  await call(url, 'POST', '/api/v1/namespaces/default/configmaps', cm('s', { app: 'a' }))
  const rv = (await call(url, 'GET', '/api/v1/namespaces/default/configmaps/s')).body.metadata.resourceVersion
  const seen = watch(url, `/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=${rv}&labelSelector=app%3Da`, (e) => e.length >= 2)
  await call(url, 'PATCH', '/api/v1/namespaces/default/configmaps/s', { metadata: { labels: { app: 'b' } } }, { 'content-type': 'application/merge-patch+json' })
  await call(url, 'POST', '/api/v1/namespaces/default/configmaps', cm('other', { app: 'b' }))
  await call(url, 'PATCH', '/api/v1/namespaces/default/configmaps/s', { metadata: { labels: { app: 'a' } } }, { 'content-type': 'application/merge-patch+json' })
  const events = await seen
  t.same(events.map((e) => `${e.type} ${e.object.metadata.name}`), ['DELETED s', 'ADDED s'])
})

t.test('sendInitialEvents ends the initial state with a bookmark', async (t) => {
  const { url } = await startTestServer(t)
  await call(url, 'POST', '/api/v1/namespaces/default/configmaps', cm('i1'))
  await call(url, 'POST', '/api/v1/namespaces/default/configmaps', cm('i2'))
  const events = await watch(
    url,
    '/api/v1/namespaces/default/configmaps?watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true',
    (e) => e.some((x) => x.type === 'BOOKMARK'),
  )
  t.same(events.map((e) => e.type), ['ADDED', 'ADDED', 'BOOKMARK'])
  t.equal(events[2].object.metadata.annotations['k8s.io/initial-events-end'], 'true')
  const bad = await call(url, 'GET', '/api/v1/namespaces/default/configmaps?watch=true&sendInitialEvents=true')
  t.equal(bad.status, 422, 'without resourceVersionMatch the request is refused cleanly')
})

t.test('a watch from a compacted revision gets 410 Expired', async (t) => {
  const { url, store } = await startTestServer(t)
  const old = (await call(url, 'POST', '/api/v1/namespaces/default/configmaps', cm('c1'))).body.metadata.resourceVersion
  await call(url, 'POST', '/api/v1/namespaces/default/configmaps', cm('c2'))
  await store.compact(await store.currentRevision())
  const events = await watch(url, `/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=${old}`, (e) => e.length >= 1)
  t.equal(events[0].type, 'ERROR')
  t.equal(events[0].object.code, 410)
  t.equal(events[0].object.reason, 'Expired')
  const list = await call(url, 'GET', `/api/v1/namespaces/default/configmaps?resourceVersion=${old}&resourceVersionMatch=Exact`)
  t.equal(list.status, 410)
})

t.test('timeoutSeconds closes the stream; bookmarks when asked for', async (t) => {
  const { url } = await startTestServer(t)
  const started = Date.now()
  const events = await watch(url, '/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=1&timeoutSeconds=1', () => false)
  t.same(events, [])
  t.ok(Date.now() - started < 8000, 'stream ended by the server')
})

t.test('table watch for kubectl get -w', async (t) => {
  const { url } = await startTestServer(t)
  const seen = watch(url, '/api/v1/namespaces/default/configmaps?watch=true', (e) => e.length >= 1, {
    accept: 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json',
  })
  await call(url, 'POST', '/api/v1/namespaces/default/configmaps', cm('tbl'))
  const events = await seen
  t.equal(events[0].object.kind, 'Table')
  t.equal(events[0].object.rows[0].cells[0], 'tbl')
})

t.test('a watcher that stops reading is cut off and the server keeps serving', async (t) => {
  const { url, server } = await startTestServer(t)
  const tls = await import('node:tls')
  const { port } = new URL(url)
  const admin = await adminCredentials()
  const sock = tls.connect({ port: Number(port), host: '127.0.0.1', ca: admin.caPem, cert: admin.certPem, key: admin.keyPem, servername: 'localhost' })
  await new Promise((r) => sock.once('secureConnect', r))
  sock.write(`GET /api/v1/namespaces/default/configmaps?watch=true&resourceVersion=1 HTTP/1.1\r\nHost: x\r\n\r\n`)
  sock.pause()
  // Fill the watcher's buffer with big events it never reads.
  const big = 'x'.repeat(512 * 1024)
  for (let i = 0; i < 50; i++) {
    const res = await call(url, 'POST', '/api/v1/namespaces/default/configmaps', { metadata: { name: `big-${i}` }, data: { v: big } })
    t.equal(res.status, 201)
  }
  const closed = new Promise<boolean>((resolve) => {
    sock.once('close', () => resolve(true))
    setTimeout(() => resolve(false), 8000)
  })
  sock.resume()
  let received = 0
  sock.on('data', (d) => (received += d.length))
  t.ok(await closed, 'the slow watch was closed')
  t.ok(received < 50 * 512 * 1024, 'it did not get every event')
  t.equal((await call(url, 'GET', '/healthz')).status, 200)
  t.equal(server.metrics.watchers.get !== undefined, true)
  sock.destroy()
})

/** Opens a raw watch, waits `pauseMs` before reading, then reads until `lines` events or the stream ends. */
async function slowWatch(url: string, path: string, pauseMs: number, lines: number): Promise<{ events: Event[]; ended: boolean }> {
  const tls = await import('node:tls')
  const admin = await adminCredentials()
  const sock = tls.connect({ port: Number(new URL(url).port), host: '127.0.0.1', ca: admin.caPem, cert: admin.certPem, key: admin.keyPem, servername: 'localhost' })
  await new Promise((r) => sock.once('secureConnect', r))
  sock.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`)
  sock.pause()
  await new Promise((r) => setTimeout(r, pauseMs))
  const events: Event[] = []
  let text = ''
  let headerDone = false
  let ended = false
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, 60_000)
    sock.on('data', (d: Buffer) => {
      text += d.toString('latin1')
      if (!headerDone) {
        const at = text.indexOf('\r\n\r\n')
        if (at < 0) return
        text = text.slice(at + 4)
        headerDone = true
      }
      let nl: number
      while ((nl = text.indexOf('\n')) >= 0) {
        const line = text.slice(0, nl)
        text = text.slice(nl + 1)
        const ev = JSON.parse(line) as Event
        events.push({ type: ev.type, object: { metadata: ev.object.metadata } })
      }
      if (events.length >= lines) {
        clearTimeout(timer)
        resolve()
      }
    })
    sock.once('close', () => {
      ended = true
      clearTimeout(timer)
      resolve()
    })
    sock.resume()
  })
  sock.destroy()
  return { events, ended }
}

t.test('an initial state or a catch-up far over the slow-reader limit is streamed to a client that reads late', async (t) => {
  const { url } = await startTestServer(t, { watch: { maxBufferedBytes: 64 * 1024 } })
  const start = (await call(url, 'GET', '/api/v1/namespaces/default/configmaps')).body.metadata.resourceVersion
  const body = 'y'.repeat(10 * 1024)
  for (let i = 0; i < 200; i++) t.equal((await call(url, 'POST', '/api/v1/namespaces/default/configmaps', { metadata: { name: `c-${i}` }, data: { v: body } })).status, 201)
  const initial = await slowWatch(url, '/api/v1/namespaces/default/configmaps?watch=true', 500, 200)
  t.equal(initial.events.length, 200, '2 MB of initial events, 30 times the limit, all delivered')
  t.notOk(initial.ended, 'and the stream stays open')
  const catchUp = await slowWatch(url, `/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=${start}`, 500, 200)
  t.equal(catchUp.events.length, 200, 'a catch-up from an old revision too')
  t.same(catchUp.events.map((e) => e.object.metadata.name).slice(0, 3), ['c-0', 'c-1', 'c-2'], 'in order')
})

t.test('100 MB of initial events to one client', async (t) => {
  const { url } = await startTestServer(t)
  const mb = 'z'.repeat(1024 * 1024 - 200)
  for (let i = 0; i < 100; i++) t.equal((await call(url, 'POST', '/api/v1/namespaces/default/configmaps', { metadata: { name: `m-${i}` }, data: { v: mb } })).status, 201)
  const got = await slowWatch(url, '/api/v1/namespaces/default/configmaps?watch=true', 1000, 100)
  t.equal(got.events.length, 100)
  t.notOk(got.ended)
})

t.test('bookmarks carry the store revision; sendInitialEvents=false without a revision starts now', async (t) => {
  const { url } = await startTestServer(t, { watch: { bookmarkIntervalMs: 200 } })
  const quiet = await call(url, 'POST', '/api/v1/namespaces/default/configmaps', cm('quiet'))
  // Other resources move the store on; nothing happens to configmaps.
  let last = 0
  for (let i = 0; i < 5; i++) last = Number((await call(url, 'POST', '/api/v1/namespaces/default/secrets', { metadata: { name: `s-${i}` } })).body.metadata.resourceVersion)
  const events = await watch(url, `/api/v1/namespaces/default/configmaps?watch=true&allowWatchBookmarks=true&resourceVersion=${quiet.body.metadata.resourceVersion}`, (e) => e.some((x) => x.type === 'BOOKMARK'))
  const mark = events.find((e) => e.type === 'BOOKMARK')!
  t.ok(Number(mark.object.metadata.resourceVersion) >= last, `bookmark at ${mark.object.metadata.resourceVersion}, the store at ${last}: a resume after compaction needs no relist`)

  const fromNow = watch(url, '/api/v1/namespaces/default/configmaps?watch=true&sendInitialEvents=false&resourceVersionMatch=NotOlderThan', (e) => e.length >= 1)
  await new Promise((r) => setTimeout(r, 300))
  await call(url, 'POST', '/api/v1/namespaces/default/configmaps', cm('new'))
  const first = (await fromNow)[0]!
  t.equal(first.object.metadata.name, 'new', 'no history, no initial state: the first event is the next write')
})
