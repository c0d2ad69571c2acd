import t from 'tap'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { V1Node, V1Pod } from '@kubernetes/client-node'
import { RestClient } from '../../src/client/index.ts'
import type { WatchEvent } from '../../src/client/index.ts'
import { ApiError, isAlreadyExists, isConflict, isExpired, isNotFound } from '../../src/util/errors.ts'
import { FakeApi } from './fake-api.ts'
import { deployments, nodes, pod, pods } from './helpers.ts'

async function setup(t: { teardown(fn: () => unknown): void }): Promise<{ fake: FakeApi; client: RestClient }> {
  const fake = await FakeApi.listen()
  const client = new RestClient({ server: fake.url }, { userAgent: 'weft-test/1' })
  t.teardown(async () => {
    await client.destroy()
    await fake.close()
  })
  return { fake, client }
}

t.test('CRUD request shapes', async (t) => {
  const { fake, client } = await setup(t)

  const created = await client.create<V1Pod>(pods, pod('a'), { fieldManager: 'tester', dryRun: false })
  let req = fake.requests.at(-1)!
  t.equal(req.method, 'POST')
  t.equal(req.path, '/api/v1/namespaces/default/pods')
  t.equal(req.query.get('fieldManager'), 'tester')
  t.equal(req.headers['content-type'], 'application/json')
  t.equal(req.headers['user-agent'], 'weft-test/1')
  t.equal(req.headers.accept, 'application/json')
  t.equal(JSON.parse(req.body).metadata.name, 'a')
  t.ok(created.metadata?.resourceVersion, 'server-set resourceVersion comes back')

  const got = await client.get<V1Pod>(pods, 'a', 'default')
  t.equal(fake.requests.at(-1)!.path, '/api/v1/namespaces/default/pods/a')
  t.equal(got.metadata?.uid, created.metadata?.uid)

  got.metadata!.labels = { app: 'a', tier: 'web' }
  const updated = await client.update(pods, got, { dryRun: true })
  req = fake.requests.at(-1)!
  t.equal(req.method, 'PUT')
  t.equal(req.path, '/api/v1/namespaces/default/pods/a')
  t.equal(req.query.get('dryRun'), 'All')
  t.equal(updated.metadata?.labels?.tier, 'web')

  await client.updateStatus(pods, { ...updated, status: { phase: 'Running' } })
  t.equal(fake.requests.at(-1)!.path, '/api/v1/namespaces/default/pods/a/status')

  const cases = [
    ['merge', 'application/merge-patch+json'],
    ['json', 'application/json-patch+json'],
    ['strategic', 'application/strategic-merge-patch+json'],
    ['apply', 'application/apply-patch+yaml'],
  ] as const
  for (const [type, contentType] of cases) {
    await client.patch(pods, 'a', 'default', { metadata: { annotations: { [type]: 'yes' } } }, type, { fieldManager: 'fm', force: true })
    req = fake.requests.at(-1)!
    t.equal(req.method, 'PATCH')
    t.equal(req.headers['content-type'], contentType, `${type} patch content type`)
    t.equal(req.query.get('fieldManager'), 'fm')
    t.equal(req.query.get('force'), type === 'apply' ? 'true' : null, `force only with apply (${type})`)
  }
  t.same((await client.get<V1Pod>(pods, 'a', 'default')).metadata?.annotations, { merge: 'yes', json: 'yes', strategic: 'yes', apply: 'yes' })

  await client.delete(pods, 'a', 'default', { propagationPolicy: 'Foreground', preconditions: { uid: created.metadata!.uid }, gracePeriodSeconds: 0 })
  req = fake.requests.at(-1)!
  t.equal(req.method, 'DELETE')
  t.equal(req.path, '/api/v1/namespaces/default/pods/a')
  t.same(JSON.parse(req.body), { apiVersion: 'v1', kind: 'DeleteOptions', propagationPolicy: 'Foreground', preconditions: { uid: created.metadata!.uid }, gracePeriodSeconds: 0 })

  await client.create<V1Node>(nodes, { metadata: { name: 'n1' } })
  t.equal(fake.requests.at(-1)!.path, '/api/v1/nodes', 'cluster-scoped: no namespace segment')
  await client.get(nodes, 'n1', 'ignored')
  t.equal(fake.requests.at(-1)!.path, '/api/v1/nodes/n1')

  await client.create(deployments, { metadata: { name: 'd' } }, { namespace: 'prod' })
  t.equal(fake.requests.at(-1)!.path, '/apis/apps/v1/namespaces/prod/deployments', 'named group path, namespace from options')

  await t.rejects(client.get(pods, 'a'), TypeError, 'a namespaced kind needs a namespace')
})

t.test('list: selectors, paging, listAll', async (t) => {
  const { fake, client } = await setup(t)
  for (let i = 0; i < 7; i++) fake.put('pods', pod(`p${i}`, i < 5 ? 'default' : 'other'))

  const page = await client.list<V1Pod>(pods, { namespace: 'default', limit: 2, labelSelector: 'app=p1', fieldSelector: 'spec.nodeName=n1', resourceVersion: '0', resourceVersionMatch: 'NotOlderThan' })
  const req = fake.requests.at(-1)!
  t.equal(req.path, '/api/v1/namespaces/default/pods')
  t.equal(req.query.get('limit'), '2')
  t.equal(req.query.get('labelSelector'), 'app=p1')
  t.equal(req.query.get('fieldSelector'), 'spec.nodeName=n1')
  t.equal(req.query.get('resourceVersionMatch'), 'NotOlderThan')
  t.same(page.items.map((p) => p.metadata?.name), ['p1'])

  const first = await client.list(pods, { limit: 3 })
  t.equal(first.items.length, 3)
  t.equal(first.metadata.continue, '3')
  t.equal(first.metadata.resourceVersion, String(fake.rv))

  const before = fake.requests.length
  const all = await client.listAll<V1Pod>(pods, { limit: 3, resourceVersion: '0' })
  t.equal(all.items.length, 7)
  t.equal(all.metadata.resourceVersion, String(fake.rv))
  t.notOk(all.metadata.continue)
  const pages = fake.requests.slice(before)
  t.equal(pages.length, 3, 'three pages of three')
  t.same(pages.map((r) => r.query.get('continue')), [null, '3', '6'])
  t.equal(pages[1].query.get('resourceVersion'), null, 'no resourceVersion alongside continue')

  // map runs on each page before the next is asked for.
  const mappedAt: number[] = []
  const names = (o: V1Pod): V1Pod => {
    mappedAt.push(fake.requests.length)
    return { metadata: { name: o.metadata?.name } }
  }
  const start = fake.requests.length
  const mapped = await client.listAll<V1Pod>(pods, { limit: 3, map: names })
  t.same(mapped.items, ['p0', 'p1', 'p2', 'p3', 'p4', 'p5', 'p6'].map((name) => ({ metadata: { name } })), 'every item mapped')
  t.same(mappedAt, [1, 1, 1, 2, 2, 2, 3].map((n) => start + n), 'each page mapped before the next request')

  fake.expireContinue = true
  const fallback = await client.listAll(pods, { limit: 3 })
  t.equal(fallback.items.length, 7, 'an expired continue token falls back to one full list')
  t.equal(fake.requests.at(-1)!.query.get('limit'), null)
  const mappedFallback = await client.listAll<V1Pod>(pods, { limit: 3, map: names })
  t.same(mappedFallback.items.map((p) => Object.keys(p.metadata!)), Array(7).fill(['name']), 'the full list is mapped too')
})

t.test('errors map back to ApiError', async (t) => {
  const { fake, client } = await setup(t)
  const missing = await client.get(pods, 'nope', 'default').catch((e: unknown) => e)
  t.ok(missing instanceof ApiError)
  t.ok(isNotFound(missing))
  t.match(missing, { code: 404, reason: 'NotFound', message: 'pods "nope" not found', details: { name: 'nope' } })

  await client.create(pods, pod('a'))
  t.ok(isAlreadyExists(await client.create(pods, pod('a')).catch((e: unknown) => e)))
  const stale = { ...pod('a'), metadata: { name: 'a', namespace: 'default', resourceVersion: '1' } }
  t.ok(isConflict(await client.update(pods, stale).catch((e: unknown) => e)))

  fake.failNext(422, { kind: 'Status', apiVersion: 'v1', status: 'Failure', code: 422, reason: 'Invalid', message: 'Pod "x" is invalid: spec.containers: Required value', details: { name: 'x', kind: 'Pod', causes: [{ field: 'spec.containers', reason: 'FieldValueRequired', message: 'Required value' }] } })
  const invalid = await client.create(pods, pod('x')).catch((e: unknown) => e)
  t.match(invalid, { code: 422, reason: 'Invalid', details: { causes: [{ field: 'spec.containers' }] } })

  fake.failNext(503, 'upstream connect error')
  t.match(await client.get(pods, 'a', 'default').catch((e: unknown) => e), { code: 503, reason: 'ServiceUnavailable', message: 'upstream connect error' }, 'a non-Status body keeps its text')

  fake.failNext(500, { kind: 'Status', code: 500, reason: 'SomethingNew', message: 'boom' })
  t.match(await client.get(pods, 'a', 'default').catch((e: unknown) => e), { code: 500, reason: 'InternalError', message: 'boom' }, 'an unknown reason falls back to the code')

  fake.failNext(410, { kind: 'Status', code: 410, reason: 'Gone', message: 'gone' })
  t.ok(isExpired(await client.list(pods).catch((e: unknown) => e)))
})

t.test('generic request', async (t) => {
  const { fake, client } = await setup(t)
  fake.put('pods', pod('a'))
  const list = await client.request<{ items: unknown[] }>('GET', '/api/v1/pods', undefined, { query: { limit: 1 } })
  t.equal(list.items.length, 1)
  t.equal(fake.requests.at(-1)!.query.get('limit'), '1')
  await client.request('PATCH', '/api/v1/namespaces/default/pods/a', '{"metadata":{"labels":{"x":"y"}}}', { contentType: 'application/merge-patch+json' })
  t.equal(fake.requests.at(-1)!.headers['content-type'], 'application/merge-patch+json')
  t.equal(fake.requests.at(-1)!.body, '{"metadata":{"labels":{"x":"y"}}}', 'a string body is sent as is')
  t.ok(isNotFound(await client.request('GET', '/api/v1/namespaces/default/pods/zz').catch((e: unknown) => e)))
})

t.test('watch: events, bookmarks, ERROR 410, 410 response, abort', async (t) => {
  const { fake, client } = await setup(t)
  fake.put('pods', pod('a'))
  const rv = String(fake.rv)
  fake.put('pods', pod('b'))
  fake.put('pods', pod('a', 'default', { status: { phase: 'Running' } }))
  fake.remove('pods', 'default', 'b')

  const ac = new AbortController()
  const seen: string[] = []
  const stream = client.watch<V1Pod>(pods, { resourceVersion: rv, allowWatchBookmarks: true, timeoutSeconds: 30, signal: ac.signal })
  for await (const ev of stream) {
    seen.push(`${ev.type} ${ev.object.metadata?.name ?? ev.object.metadata?.resourceVersion}`)
    if (seen.length === 3) fake.bookmark()
    if (ev.type === 'BOOKMARK') ac.abort()
  }
  t.same(seen, ['ADDED b', 'MODIFIED a', 'DELETED b', `BOOKMARK ${fake.rv}`], 'backlog, then a bookmark; abort ends the loop quietly')
  const req = fake.watchRequests()[0]
  t.equal(req.path, '/api/v1/pods')
  t.equal(req.query.get('resourceVersion'), rv)
  t.equal(req.query.get('allowWatchBookmarks'), 'true')
  t.equal(req.query.get('timeoutSeconds'), '30')
  await (async () => { while (fake.watchCount > 0) await new Promise((r) => setTimeout(r, 5)) })()
  t.equal(fake.watchCount, 0, 'the aborted watch is closed on the server side')

  fake.compact()
  const events: WatchEvent[] = []
  const err = await (async () => {
    for await (const ev of client.watch(pods, { resourceVersion: rv })) events.push(ev)
  })().catch((e: unknown) => e)
  t.ok(err instanceof ApiError, 'an ERROR event throws')
  t.match(err, { code: 410, reason: 'Expired' })
  t.same(events, [])

  fake.expiredAs = 'status'
  t.match(await (async () => {
    for await (const ev of client.watch(pods, { resourceVersion: rv })) events.push(ev)
  })().catch((e: unknown) => e), { code: 410 }, 'a 410 response throws too')

  const ended: string[] = []
  const done = (async () => {
    for await (const ev of client.watch<V1Pod>(pods, { namespace: 'default', resourceVersion: String(fake.rv) })) ended.push(ev.object.metadata!.name!)
  })()
  await (async () => { while (fake.watchCount === 0) await new Promise((r) => setTimeout(r, 5)) })()
  fake.put('pods', pod('c'))
  fake.closeWatches()
  await done
  t.same(ended, ['c'], 'the iteration ends when the server closes the stream')
  t.equal(fake.watchRequests().at(-1)!.path, '/api/v1/namespaces/default/pods')
})

t.test('unix socket transport', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-client-'))
  const socketPath = join(dir, 'api.sock')
  const fake = await FakeApi.listen({ socketPath })
  const client = new RestClient({ socketPath })
  t.teardown(async () => {
    await client.destroy()
    await fake.close()
    rmSync(dir, { recursive: true, force: true })
  })
  await client.create(pods, pod('over-socket'))
  const got = await client.get<V1Pod>(pods, 'over-socket', 'default')
  t.equal(got.metadata?.name, 'over-socket')
  t.equal(fake.requests.at(-1)!.headers.host, 'localhost')
  const ac = new AbortController()
  for await (const ev of client.watch<V1Pod>(pods, { signal: ac.signal })) {
    t.equal(ev.object.metadata?.name, 'over-socket', 'a watch streams over the socket')
    ac.abort()
  }
})
