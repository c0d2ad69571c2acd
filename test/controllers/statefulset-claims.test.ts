import t from 'tap'
import type { V1PersistentVolumeClaim, V1Pod } from '@kubernetes/client-node'
import type { ResourceInfo } from '../../src/api/registry.ts'
import { resources } from '../../src/api/registry.ts'
import { claimName, claimOwnerReferences, claimOwnersUpToDate, claimsForPod, podClaimIsStale, storageMatches, withClaimVolumes } from '../../src/controllers/statefulset/volume-claims.ts'
import { Cluster, statefulSet, verbs } from './statefulset-cluster.ts'

// weft serves no persistentvolumeclaims yet: the reconcile's claim branch is driven here
// through a claim view over a stand-in ResourceInfo, as the manager will once the kind exists.
const pvcInfo: ResourceInfo = { ...resources.find((r) => r.kind === 'ConfigMap')!, kind: 'PersistentVolumeClaim', plural: 'persistentvolumeclaims', singular: 'persistentvolumeclaim', model: 'V1PersistentVolumeClaim' }

const pod = (name: string, uid = `uid-${name}`): V1Pod => ({ metadata: { name, namespace: 'data', uid }, spec: { containers: [] } })

t.test('claims are named <template>-<set>-<ordinal> and mounted under the template name', async (t) => {
  const set = statefulSet({ claims: ['data', 'logs'] })
  set.spec!.selector = { matchLabels: { app: 'db' } }
  set.spec!.volumeClaimTemplates![0].metadata!.labels = { tier: 'disk' }
  t.equal(claimName('data', 'db', 2), 'data-db-2')
  const claims = claimsForPod(set, pod('db-2'))
  t.same([...claims.keys()], ['data', 'logs'])
  t.same(claims.get('data')!.metadata, { name: 'data-db-2', namespace: 'data', labels: { tier: 'disk', app: 'db' } }, "the selector's labels join the template's")
  t.equal(claims.get('data')!.kind, 'PersistentVolumeClaim')

  const wired = withClaimVolumes(set, { ...pod('db-2'), spec: { containers: [], volumes: [{ name: 'logs', emptyDir: {} }, { name: 'scratch', emptyDir: {} }] } })
  t.same(wired.spec?.volumes, [
    { name: 'data', persistentVolumeClaim: { claimName: 'data-db-2' } },
    { name: 'logs', persistentVolumeClaim: { claimName: 'logs-db-2' } },
    { name: 'scratch', emptyDir: {} },
  ], 'a template volume replaces the pod volume of its name; others stay')
  t.ok(storageMatches(set, wired))
  t.notOk(storageMatches(set, pod('db-2')))
  t.notOk(storageMatches(set, pod('db')), 'no ordinal, no storage')

  const c = new Cluster(statefulSet({ claims: ['data'], replicas: 1 }))
  c.reconcile()
  t.same(c.pods.get('db-0')!.spec!.volumes, [{ name: 'data', persistentVolumeClaim: { claimName: 'data-db-0' } }, { name: 'scratch', emptyDir: {} }])
  t.notOk(c.last.actions.some((a) => a.verb === 'create' && a.info.kind === 'PersistentVolumeClaim'), 'no claim view (the kind is not served): no claim is created')
})

t.test('the retention policy decides who owns a claim', async (t) => {
  const cases: Array<[string, string, boolean, string[]]> = [
    ['Retain', 'Retain', false, []],
    ['Retain', 'Retain', true, []],
    ['Delete', 'Retain', false, ['StatefulSet']],
    ['Delete', 'Retain', true, ['StatefulSet']],
    ['Retain', 'Delete', false, []],
    ['Retain', 'Delete', true, ['Pod']],
    ['Delete', 'Delete', false, ['StatefulSet']],
    ['Delete', 'Delete', true, ['Pod']],
  ]
  for (const [whenDeleted, whenScaled, scaledDown, owners] of cases) {
    const set = statefulSet({ claims: ['data'], replicas: 2 })
    set.spec!.persistentVolumeClaimRetentionPolicy = { whenDeleted, whenScaled }
    const p = pod(scaledDown ? 'db-5' : 'db-1')
    const claim: V1PersistentVolumeClaim = { metadata: { name: 'data-db-1', ownerReferences: [] } }
    const refs = claimOwnerReferences(claim, set, p)
    const name = `whenDeleted ${whenDeleted}, whenScaled ${whenScaled}, ${scaledDown ? 'scaled down' : 'in range'}`
    t.same(refs.map((r) => r.kind), owners, name)
    t.equal(claimOwnersUpToDate(claim, set, p), owners.length === 0, `${name}: an unowned claim is up to date only when no owner is wanted`)
    t.ok(claimOwnersUpToDate({ metadata: { ownerReferences: refs } }, set, p), `${name}: up to date once updated`)
  }
  const set = statefulSet({ claims: ['data'] })
  set.spec!.persistentVolumeClaimRetentionPolicy = { whenDeleted: 'Delete', whenScaled: 'Delete' }
  const other = { apiVersion: 'example.com/v1', kind: 'Backup', name: 'b', uid: 'b', controller: true }
  t.ok(claimOwnersUpToDate({ metadata: { ownerReferences: [other] } }, set, pod('db-1')), 'another controller owns it: left alone')
  const stale = { apiVersion: 'v1', kind: 'Pod', name: 'db-1', uid: 'earlier', controller: true }
  t.ok(claimOwnersUpToDate({ metadata: { ownerReferences: [stale] } }, set, pod('db-1')), 'a stale reference: left alone')
  t.ok(podClaimIsStale(set, pod('db-1'), () => ({ metadata: { name: 'data-db-1', ownerReferences: [stale] } })), 'and it blocks the new pod')
  set.spec!.persistentVolumeClaimRetentionPolicy = { whenDeleted: 'Delete', whenScaled: 'Retain' }
  t.notOk(podClaimIsStale(set, pod('db-1'), () => ({ metadata: { name: 'data-db-1', ownerReferences: [stale] } })), 'claims kept on scale-down are never stale')
})

t.test('with a claim view: claims are created before their pod, and their owners kept', async (t) => {
  const claims = new Map<string, V1PersistentVolumeClaim>()
  const c = new Cluster(statefulSet({ claims: ['data'], replicas: 2 }))
  c.set.spec!.persistentVolumeClaimRetentionPolicy = { whenDeleted: 'Delete', whenScaled: 'Retain' }
  c.claims = { info: pvcInfo, get: (name) => claims.get(name) }
  const first = c.reconcile()
  t.same(verbs(first).slice(1, 3), ['create PersistentVolumeClaim data-db-0', 'create Pod db-0'])
  t.match(first.find((a) => a.verb === 'create' && a.info.kind === 'PersistentVolumeClaim'), { event: { reason: 'SuccessfulCreate', message: 'create Claim data-db-0 Pod db-0 in StatefulSet db success' } })
  claims.set('data-db-0', { metadata: { name: 'data-db-0', namespace: 'data', ownerReferences: [] } })
  c.ready()
  const next = c.reconcile()
  t.same(verbs(next).slice(0, 3), ['update PersistentVolumeClaim data-db-0', 'create PersistentVolumeClaim data-db-1', 'create Pod db-1'], 'the claim gets the set as owner (whenDeleted: Delete)')
  const update = next[0]
  t.ok(update.verb === 'update' && update.object.metadata?.ownerReferences?.[0]?.uid === 'sts-uid')

  claims.set('data-db-1', { metadata: { name: 'data-db-1', namespace: 'data', deletionTimestamp: new Date() } })
  c.pods.delete('db-1')
  const blocked = c.reconcile()
  t.same(verbs(blocked).filter((v) => v.includes('db-1')), [], 'no pod while its claim is being deleted')
  t.ok(blocked.some((a) => a.verb === 'event' && a.event.type === 'Warning' && a.event.message === 'create Pod db-1 in StatefulSet db failed error: pvc data-db-1 is being deleted'))
})
