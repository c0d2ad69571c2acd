import t from 'tap'
import { pino } from 'pino'
import type { V1Pod } from '@kubernetes/client-node'
import { Informer, RestClient } from '../../src/client/index.ts'
import type { InformerOptions } from '../../src/client/index.ts'
import { FakeApi } from './fake-api.ts'
import { pod, pods, until } from './helpers.ts'

interface Rig {
  fake: FakeApi
  client: RestClient
  informer: Informer<V1Pod>
  log: string[]
}

const fastBackoff = { initialMs: 5, maxMs: 50 }

async function rig(t: { teardown(fn: () => unknown): void }, opts: InformerOptions<V1Pod> = {}, seed: (fake: FakeApi) => void = () => {}): Promise<Rig> {
  const fake = await FakeApi.listen()
  seed(fake)
  const client = new RestClient({ server: fake.url })
  const informer = new Informer<V1Pod>(client, pods, { backoff: fastBackoff, ...opts })
  const log: string[] = []
  const name = (p: V1Pod): string => `${p.metadata?.namespace}/${p.metadata?.name}`
  informer.addHandlers({
    onAdd: (p) => log.push(`add ${name(p)}`),
    onUpdate: (a, b) => log.push(`update ${name(b)} ${a.metadata?.resourceVersion}->${b.metadata?.resourceVersion}`),
    onDelete: (p) => log.push(`delete ${name(p)}`),
  })
  t.teardown(async () => {
    await informer.stop()
    await client.destroy()
    await fake.close()
  })
  return { fake, client, informer, log }
}

function seedThree(fake: FakeApi): void {
  fake.put('pods', pod('a'))
  fake.put('pods', pod('b'))
  fake.put('pods', pod('c', 'other'))
}

t.test('lists in pages, syncs, then follows the watch', async (t) => {
  const { fake, informer, log } = await rig(t, { pageSize: 2, indexers: { app: (p) => [p.metadata?.labels?.app ?? ''] } }, seedThree)
  t.notOk(informer.hasSynced())
  informer.start()
  t.equal(await informer.waitForSync(), true)
  t.ok(informer.hasSynced())
  t.same(log, ['add default/a', 'add default/b', 'add other/c'])
  t.equal(fake.listRequests().length, 2, 'two pages of two')
  t.equal(informer.resourceVersion, String(fake.rv))

  const a = informer.get('default/a')
  t.equal(a?.metadata?.name, 'a')
  t.equal(a?.kind, 'Pod', 'list items get their kind back')
  t.equal(a?.apiVersion, 'v1')
  t.same(informer.byIndex('namespace', 'default').map((p) => p.metadata?.name).sort(), ['a', 'b'])
  t.same(informer.byIndex('app', 'c').map((p) => p.metadata?.name), ['c'])
  t.same(informer.list().length, 3)

  await until(() => fake.watchCount === 1, 'the watch')
  const watch = fake.watchRequests()[0]
  t.equal(watch.query.get('resourceVersion'), String(fake.rv), 'watches from the list resourceVersion')
  t.equal(watch.query.get('allowWatchBookmarks'), 'true')
  t.ok(Number(watch.query.get('timeoutSeconds')) >= 300)

  log.length = 0
  const oldRv = informer.get('default/a')!.metadata!.resourceVersion
  fake.put('pods', pod('a', 'default', { status: { phase: 'Running' } }))
  fake.remove('pods', 'default', 'b')
  fake.put('pods', pod('d', 'other'))
  await until(() => log.length === 3, 'three events')
  t.same(log, [`update default/a ${oldRv}->${fake.objects.get('pods/default/a')!.metadata.resourceVersion}`, 'delete default/b', 'add other/d'])
  t.equal(informer.get('default/a')?.status?.phase, 'Running')
  t.equal(informer.get('default/b'), undefined)
  t.same(informer.byIndex('namespace', 'other').map((p) => p.metadata?.name).sort(), ['c', 'd'])
  t.same(informer.byIndex('app', 'b'), [], 'a deleted object leaves the indices')
  t.equal(informer.resourceVersion, String(fake.rv))
})

t.test('reconnects from the last resourceVersion when the stream ends', async (t) => {
  const { fake, informer, log } = await rig(t, {}, seedThree)
  informer.start()
  await informer.waitForSync()
  await until(() => fake.watchCount === 1, 'the watch')
  fake.put('pods', pod('d'))
  await until(() => log.length === 4, 'add d')
  const rvAfterD = String(fake.rv)

  fake.closeWatches()
  fake.put('pods', pod('e'))
  await until(() => fake.watchRequests().length === 2 && fake.watchCount === 1, 'the second watch')
  await until(() => log.length === 5, 'add e')
  t.equal(fake.watchRequests()[1].query.get('resourceVersion'), rvAfterD, 'resumes where the last event left off')
  t.equal(fake.listRequests().length, 1, 'no relist for a clean stream end')
  fake.put('pods', pod('f'))
  await until(() => log.length === 6, 'add f')
  t.same(log.slice(3), ['add default/d', 'add default/e', 'add default/f'], 'nothing missed, nothing twice')
})

for (const expiredAs of ['event', 'status'] as const) {
  t.test(`relists after 410 (${expiredAs}) and synthesizes the differences`, async (t) => {
    const { fake, informer, log } = await rig(t, {}, seedThree)
    fake.expiredAs = expiredAs
    informer.start()
    await informer.waitForSync()
    await until(() => fake.watchCount === 1, 'the watch')
    log.length = 0
    const oldA = informer.get('default/a')!.metadata!.resourceVersion

    fake.remove('pods', 'default', 'b', { silent: true })
    const newA = fake.put('pods', pod('a', 'default', { status: { phase: 'Failed' } }), { silent: true }).metadata.resourceVersion
    fake.put('pods', pod('d'), { silent: true })
    fake.compact()
    fake.closeWatches()

    await until(() => log.length === 3, 'the relist differences')
    t.same(log, [`update default/a ${oldA}->${newA}`, 'add default/d', 'delete default/b'])
    t.equal(informer.get('default/b'), undefined)
    t.equal(informer.get('other/c')?.metadata?.name, 'c', 'unchanged objects stay, without events')
    t.equal(fake.listRequests().length, 2, 'one relist')
    await until(() => fake.watchCount === 1, 'a new watch')
    t.equal(fake.watchRequests().at(-1)!.query.get('resourceVersion'), String(fake.rv), 'watches from the relist')
    fake.put('pods', pod('e'))
    await until(() => log.length === 4, 'add e')
    t.equal(log[3], 'add default/e')
  })
}

t.test('bookmarks advance the resourceVersion', async (t) => {
  const { fake, informer, log } = await rig(t, {}, seedThree)
  informer.start()
  await informer.waitForSync()
  await until(() => fake.watchCount === 1, 'the watch')
  for (let i = 0; i < 3; i++) fake.put('nodes', { metadata: { name: `n${i}` } })
  fake.bookmark()
  await until(() => informer.resourceVersion === String(fake.rv), 'the bookmark')
  fake.compact()
  fake.closeWatches()
  await until(() => fake.watchRequests().length === 2 && fake.watchCount === 1, 'the second watch')
  t.equal(fake.watchRequests()[1].query.get('resourceVersion'), String(fake.rv), 'resumes from the bookmark')
  t.equal(fake.listRequests().length, 1, 'so no 410 and no relist')
  t.equal(log.length, 3, 'a bookmark is no event')
})

t.test('stale events are ignored', async (t) => {
  const { fake, informer, log } = await rig(t, {}, seedThree)
  informer.start()
  await informer.waitForSync()
  await until(() => fake.watchCount === 1, 'the watch')
  log.length = 0
  const cached = informer.get('default/a')!
  const rv = Number(cached.metadata!.resourceVersion)
  const stale = (type: string, version: number): string =>
    JSON.stringify({ type, object: { ...cached, metadata: { ...cached.metadata, resourceVersion: String(version) }, status: { phase: 'Stale' } } }) + '\n'
  fake.sendRaw(stale('MODIFIED', rv - 1) + stale('ADDED', rv) + stale('DELETED', rv - 1))
  fake.put('pods', pod('z'))
  await until(() => log.length > 0, 'the live event')
  t.same(log, ['add default/z'], 'older or equal versions change nothing')
  t.equal(informer.get('default/a')?.status?.phase, undefined)
})

t.test('a throwing handler does not stop the informer', async (t) => {
  const warnings: string[] = []
  const logger = { warn: (obj: object, msg?: string) => void warnings.push(msg ?? ''), debug: () => {} }
  const { fake, informer, log } = await rig(t, { logger }, seedThree)
  informer.onAdd((p) => {
    if (p.metadata?.name === 'b' || p.metadata?.name === 'x') throw new Error('handler bug')
  })
  informer.start()
  await informer.waitForSync()
  t.equal(informer.handlerErrors, 1)
  fake.put('pods', pod('x'))
  fake.put('pods', pod('y'))
  await until(() => log.length === 5, 'later events')
  t.same(log.slice(3), ['add default/x', 'add default/y'], 'other handlers still see every event')
  t.equal(informer.handlerErrors, 2)
  t.same(warnings, ['informer handler threw', 'informer handler threw'])
  t.ok(informer.get('default/x'), 'the cache still took the object')
})

t.test('handlers added late get the cache replayed; unsubscribing stops calls', async (t) => {
  const { fake, informer } = await rig(t, {}, seedThree)
  informer.start()
  await informer.waitForSync()
  const late: string[] = []
  const off = informer.onAdd((p) => late.push(p.metadata!.name!))
  t.same(late.sort(), ['a', 'b', 'c'])
  off()
  fake.put('pods', pod('q'))
  await until(() => informer.get('default/q') !== undefined, 'q in the cache')
  t.same(late.sort(), ['a', 'b', 'c'])
})

t.test('resync calls onUpdate with the cached object', async (t) => {
  const { informer, log } = await rig(t, { resyncMs: 10 }, (fake) => fake.put('pods', pod('a')))
  informer.start()
  await informer.waitForSync()
  await until(() => log.filter((l) => l.startsWith('update')).length >= 2, 'two resyncs')
  const rv = informer.get('default/a')!.metadata!.resourceVersion
  t.equal(log.find((l) => l.startsWith('update')), `update default/a ${rv}->${rv}`)
})

t.test('namespace and label selector are passed to list and watch', async (t) => {
  const { fake, informer, log } = await rig(t, { namespace: 'default', labelSelector: 'app=a', fieldSelector: 'spec.nodeName=n1' }, seedThree)
  informer.start()
  await informer.waitForSync()
  await until(() => fake.watchCount === 1, 'the watch')
  t.same(log, ['add default/a'])
  for (const req of [fake.listRequests()[0], fake.watchRequests()[0]]) {
    t.equal(req.path, '/api/v1/namespaces/default/pods')
    t.equal(req.query.get('labelSelector'), 'app=a')
    t.equal(req.query.get('fieldSelector'), 'spec.nodeName=n1')
  }
})

t.test('stop ends the watch, its socket and every timer', async (t) => {
  const timers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length
  const baseline = timers()
  const fake = await FakeApi.listen()
  seedThree(fake)
  const client = new RestClient({ server: fake.url })
  const informer = new Informer<V1Pod>(client, pods, { resyncMs: 60_000, backoff: fastBackoff })
  t.teardown(async () => {
    await informer.stop()
    await client.destroy()
    await fake.close()
  })
  informer.start()
  await informer.waitForSync()
  await until(() => fake.watchCount === 1 && fake.connections.size > 0, 'the watch')
  await informer.stop()
  t.notOk(informer.running)
  await until(() => fake.watchCount === 0, 'the server to see the watch end')

  informer.start()
  await until(() => fake.watchCount === 1, 'a restarted watch')
  t.equal(fake.listRequests().length, 2, 'a restart lists again')
  await informer.stop()
  await until(() => fake.watchCount === 0, 'the restarted watch to end')

  await client.close()
  await until(() => fake.connections.size === 0, 'all connections closed')
  await until(() => timers() <= baseline, 'no timers left')
  t.pass('nothing left open')
})

t.test('stop during backoff and before sync', async (t) => {
  const timers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length
  const baseline = timers()
  const fake = await FakeApi.listen()
  const client = new RestClient({ server: fake.url })
  const warnings: unknown[] = []
  const informer = new Informer<V1Pod>(client, pods, { backoff: { initialMs: 60_000, jitter: 0 }, logger: { warn: (obj) => void warnings.push(obj) } })
  t.teardown(async () => {
    await informer.stop()
    await client.destroy()
    await fake.close()
  })
  fake.failNext(500, { kind: 'Status', code: 500, reason: 'InternalError', message: 'store down' })
  const ac = new AbortController()
  const aborted = informer.waitForSync(ac.signal)
  const waiting = informer.waitForSync()
  informer.start()
  await until(() => warnings.length === 1, 'the failed list')
  t.match(warnings[0], { err: { code: 500, message: 'store down' } })
  ac.abort()
  t.equal(await aborted, false, 'an aborted wait answers false')
  await informer.stop()
  t.equal(await waiting, false, 'stopping before sync answers false')
  t.notOk(informer.hasSynced())
  await client.close()
  await until(() => timers() <= baseline, 'the 60 s backoff timer is gone')
  t.pass('stop cut the backoff short')
})

t.test('a pino logger fits', (t) => {
  const opts: InformerOptions<V1Pod> = { logger: pino({ level: 'silent' }) }
  t.ok(opts.logger)
  t.end()
})

t.test('a transform trims every object, listed and watched, before it is cached or handed out', async (t) => {
  const trim = (p: V1Pod): V1Pod => ({ metadata: { name: p.metadata?.name, namespace: p.metadata?.namespace, resourceVersion: p.metadata?.resourceVersion } })
  const { fake, informer, log } = await rig(t, { transform: trim }, seedThree)
  const seen: V1Pod[] = []
  informer.addHandlers({ onAdd: (p) => seen.push(p), onUpdate: (_, p) => seen.push(p) })
  informer.start()
  await informer.waitForSync()
  fake.put('pods', pod('d'))
  await until(() => log.includes('add default/d'), 'the watched pod')
  t.same(informer.get('default/a'), { metadata: { name: 'a', namespace: 'default', resourceVersion: informer.get('default/a')?.metadata?.resourceVersion } })
  t.ok(seen.length === 4 && seen.every((p) => p.spec === undefined && p.kind === undefined), 'handlers get the trimmed objects')
  t.equal(informer.get('default/d')?.spec, undefined, 'a watched object is trimmed too')
})
