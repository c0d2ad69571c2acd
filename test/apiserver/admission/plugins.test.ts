// The LimitRanger and ResourceQuota admission plugins over a real store, without the HTTP
// server: the compare-and-swap charge between two plugins (two API servers) sharing one
// store, dry runs, and the LimitRanger's store lookup while its feed has nothing.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { resources } from '../../../src/api/registry.ts'
import { LimitRangerAdmission } from '../../../src/apiserver/admission/limit-ranger.ts'
import { ResourceQuotaAdmission } from '../../../src/apiserver/admission/resource-quota.ts'
import { ObjectStore, type KObject } from '../../../src/apiserver/objects.ts'
import type { AdmissionRequest } from '../../../src/apiserver/resource-handler.ts'
import { openStore } from '../../../src/store/open-store.ts'
import { ApiError } from '../../../src/util/errors.ts'
import { logger } from '../../../src/util/log.ts'

const info = (kind: string) => resources.find((r) => r.kind === kind)!
const log = logger('test')

async function objects(t: { teardown(fn: () => unknown): void }): Promise<ObjectStore> {
  const dir = mkdtempSync(join(tmpdir(), 'weft-admission-'))
  const store = await openStore({ dataDir: dir })
  t.teardown(async () => {
    await store.close()
    rmSync(dir, { recursive: true, force: true })
  })
  return new ObjectStore(store)
}

const pod = (name: string, resources?: object): KObject => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'n' }, spec: { containers: [{ name: 'c', image: 'x', ...(resources ? { resources } : {}) }] }, status: { phase: 'Pending', qosClass: 'BestEffort' } })
const request = (obj: KObject, dryRun = false): AdmissionRequest => ({ info: info(obj.kind), subresource: undefined, obj, old: undefined, identity: { user: 'u', groups: [], userAgent: 'test' }, dryRun })

t.test('two plugins on one store: of racing pod creates against pods=1, exactly one is charged', async (t) => {
  const store = await objects(t)
  await store.create(info('ResourceQuota'), { apiVersion: 'v1', kind: 'ResourceQuota', metadata: { name: 'q', namespace: 'n', uid: 'q1' }, spec: { hard: { pods: '1' } }, status: { hard: { pods: '1' }, used: { pods: '0' } } })
  const a = new ResourceQuotaAdmission(store, log)
  const b = new ResourceQuotaAdmission(store, log)
  await a.start()
  await b.start()
  t.teardown(() => {
    a.stop()
    b.stop()
  })
  await b.validate(request(pod('dry'), true))
  t.equal((await store.get(info('ResourceQuota'), 'n', 'q'))!.status.used.pods, '0', 'a dry run is judged and charged nothing')
  const outcomes = await Promise.allSettled(Array.from({ length: 6 }, (_, i) => (i % 2 ? b : a).validate(request(pod(`p${i}`)))))
  t.equal(outcomes.filter((o) => o.status === 'fulfilled').length, 1)
  for (const o of outcomes) {
    if (o.status === 'fulfilled') continue
    t.ok(o.reason instanceof ApiError && o.reason.code === 403)
    t.match((o.reason as Error).message, /^pods "p\d" is forbidden: exceeded quota: q, requested: pods=1, used: pods=1, limited: pods=1$/)
  }
  t.equal((await store.get(info('ResourceQuota'), 'n', 'q'))!.status.used.pods, '1')
  await a.validate(request({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cm', namespace: 'n' } }))
  t.pass('a kind the quota does not limit passes')
})

t.test('the LimitRanger asks the store while its feed has nothing for the namespace', async (t) => {
  const store = await objects(t)
  await store.create(info('LimitRange'), { apiVersion: 'v1', kind: 'LimitRange', metadata: { name: 'lr', namespace: 'n', uid: 'l1' }, spec: { limits: [{ type: 'Container', max: { cpu: '1' }, default: { cpu: '500m' }, defaultRequest: { cpu: '250m' } }] } })
  // Not started: its feed has seen nothing.
  const plugin = new LimitRangerAdmission(store, log)
  const p = pod('p')
  await plugin.mutate(request(p))
  t.same(p.spec.containers[0].resources, { limits: { cpu: '500m' }, requests: { cpu: '250m' } })
  t.equal(p.status.qosClass, 'Burstable')
  t.equal(p.metadata.annotations?.['kubernetes.io/limit-ranger'], 'LimitRanger plugin set: cpu request for container c; cpu limit for container c')
  const err = await plugin.validate(request(pod('big', { limits: { cpu: '2' }, requests: { cpu: '2' } }))).catch((e: unknown) => e)
  t.ok(err instanceof ApiError && err.code === 403)
  t.equal((err as Error).message, 'pods "big" is forbidden: maximum cpu usage per Container is 1, but limit is 2')
  const update = { ...request(pod('p')), old: pod('p') }
  await plugin.validate({ ...update, obj: pod('p', { limits: { cpu: '2' } }) })
  t.pass('a pod update is not judged: its containers cannot change')
})

const stored = (kind: string, name: string, body: object): KObject => ({ apiVersion: 'v1', kind, metadata: { name, namespace: 'n', uid: `uid-${name}` }, ...body })
const refusal = (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => (e instanceof ApiError ? `${e.code} ${e.message}` : e))

t.test('a quota the API would refuse today, or one it cannot read, fails alone: the others still hold', async (t) => {
  const store = await objects(t)
  const quota = info('ResourceQuota')
  // Written straight to the store, as only an object from before the API checked can be.
  await store.create(quota, stored('ResourceQuota', 'a-invalid', { spec: { hard: { pods: 'lots' } }, status: { hard: { pods: 'lots' }, used: { pods: 'none' } } }))
  await store.create(quota, stored('ResourceQuota', 'b-scopes', { spec: { hard: { pods: '0' }, scopes: 5 }, status: { hard: { pods: '0' }, used: { pods: '0' } } }))
  await store.create(quota, stored('ResourceQuota', 'c-selector', { spec: { hard: { pods: '0' }, scopeSelector: { matchExpressions: [null, 'x'] } }, status: { hard: { pods: '0' }, used: { pods: '0' } } }))
  await store.create(quota, stored('ResourceQuota', 'q', { spec: { hard: { pods: '1' } }, status: { hard: { pods: '1' }, used: { pods: '0' } } }))
  const plugin = new ResourceQuotaAdmission(store, log)
  await plugin.start()
  t.teardown(() => plugin.stop())
  t.equal(await refusal(plugin.validate(request(pod('first')))), undefined, 'the good quota lets the first pod in')
  t.equal((await store.get(quota, 'n', 'q'))!.status.used.pods, '1')
  t.equal(await refusal(plugin.validate(request(pod('second')))), '403 pods "second" is forbidden: exceeded quota: q, requested: pods=1, used: pods=1, limited: pods=1')
  t.same((await store.get(quota, 'n', 'b-scopes'))!.status.used, { pods: '0' }, 'a quota whose scopes cannot be read counts nothing')
})

t.test('a LimitRange the API would refuse today fails alone; the complaints of several come as one', async (t) => {
  const store = await objects(t)
  const limits = info('LimitRange')
  await store.create(limits, stored('LimitRange', 'a-invalid', { spec: { limits: [{ type: 'Container', default: { cpu: 'lots', 'not a name': '1' }, max: { cpu: '100m' } }] } }))
  await store.create(limits, stored('LimitRange', 'b-shape', { spec: { limits: 'x' } }))
  await store.create(limits, stored('LimitRange', 'c-cpu', { spec: { limits: [{ type: 'Container', max: { cpu: '1' }, default: { cpu: '500m' }, defaultRequest: { cpu: '250m' } }] } }))
  await store.create(limits, stored('LimitRange', 'd-memory', { spec: { limits: [{ type: 'Container', max: { memory: '1Gi' } }] } }))
  const plugin = new LimitRangerAdmission(store, log)
  await plugin.start()
  t.teardown(() => plugin.stop())
  const p = pod('p', { limits: { memory: '512Mi' } })
  await plugin.mutate(request(p))
  t.same(p.spec.containers[0].resources, { limits: { memory: '512Mi', cpu: '500m' }, requests: { cpu: '250m' } }, 'the good LimitRange defaults, the bad one adds nothing')
  t.equal(await refusal(plugin.validate(request(p))), undefined)
  t.equal(
    await refusal(plugin.validate(request(pod('big', { limits: { cpu: '2', memory: '2Gi' } })))),
    '403 pods "big" is forbidden: [maximum cpu usage per Container is 1, but limit is 2, maximum memory usage per Container is 1Gi, but limit is 2Gi]',
  )
})

t.test('the quota plugin asks the store while its feed has nothing for the namespace', async (t) => {
  const store = await objects(t)
  await store.create(info('ResourceQuota'), stored('ResourceQuota', 'q', { spec: { hard: { pods: '0' } }, status: { hard: { pods: '0' }, used: { pods: '0' } } }))
  // Not started: its feed has seen nothing.
  const plugin = new ResourceQuotaAdmission(store, log)
  t.equal(await refusal(plugin.validate(request(pod('p')))), '403 pods "p" is forbidden: exceeded quota: q, requested: pods=1, used: pods=0, limited: pods=0')
})
