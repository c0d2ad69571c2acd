import t from 'tap'
import type { V1PersistentVolume, V1PersistentVolumeClaim, V1Pod, V1StorageClass } from '@kubernetes/client-node'
import { podInfo } from '../../src/scheduler/pod-info.ts'
import { scheduleOnSnapshot } from '../../src/scheduler/schedule.ts'
import { ClusterSnapshot } from '../../src/scheduler/snapshot.ts'
import { findPodVolumes, podVolumeClaims, volumeBindingActions, type PodClaims, type VolumeLookups } from '../../src/scheduler/volume-binding.ts'
import { node, pod } from './fixtures.ts'
import { pv, pvc, storageClass } from '../controllers/persistentvolume/fixtures.ts'
import { claimClass, volumeClass } from '../../src/api/storage.ts'

const wffc = storageClass('local-path', (c) => ((c.provisioner = 'weft.dev/local-path'), (c.volumeBindingMode = 'WaitForFirstConsumer')))
const manual = storageClass('manual', (c) => (c.volumeBindingMode = 'WaitForFirstConsumer'))
const immediate = storageClass('now')

function lookups(claims: V1PersistentVolumeClaim[], volumes: V1PersistentVolume[] = [], classes: V1StorageClass[] = [wffc, manual, immediate]): VolumeLookups {
  return {
    claim: (ns, name) => claims.find((c) => c.metadata?.namespace === ns && c.metadata?.name === name),
    volume: (name) => volumes.find((v) => v.metadata?.name === name),
    storageClass: (name) => classes.find((c) => c.metadata?.name === name),
    candidates: (c) => volumes.filter((v) => volumeClass(v) === claimClass(c) || v.spec?.claimRef?.name === c.metadata?.name),
  }
}

function withClaims(p: V1Pod, ...claims: string[]): V1Pod {
  p.spec!.volumes = claims.map((c, i) => ({ name: `v${i}`, persistentVolumeClaim: { claimName: c } }))
  return p
}

const boundClaim = (name: string, volume: string) =>
  pvc(name, '1Gi', (c) => {
    c.spec!.volumeName = volume
    c.metadata!.annotations = { 'pv.kubernetes.io/bind-completed': 'yes' }
    c.status = { phase: 'Bound' }
  })
const onNode = (n: string) => (v: V1PersistentVolume) => (v.spec!.nodeAffinity = { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: [n] }] }] } })
const nodeView = (name: string, labels: Record<string, string> = {}) => ({ name, labels: { 'kubernetes.io/hostname': name, ...labels } })

t.test('PreFilter: claims that no node can fix', async (t) => {
  const p = withClaims(pod('web'), 'data')
  t.same(podVolumeClaims(pod('plain'), lookups([])), { none: true })
  t.same(podVolumeClaims(p, lookups([])), { unresolvable: 'persistentvolumeclaim "data" not found' })
  t.same(podVolumeClaims(p, lookups([pvc('data', '1Gi', (c) => (c.metadata!.deletionTimestamp = new Date()))])), { unresolvable: 'persistentvolumeclaim "data" is being deleted' })
  t.same(podVolumeClaims(p, lookups([pvc('data', '1Gi', (c) => ((c.status = { phase: 'Lost' }), (c.spec!.volumeName = 'gone')))])), { unresolvable: 'persistentvolumeclaim "data" bound to non-existent persistentvolume "gone"' })
  t.same(podVolumeClaims(p, lookups([pvc('data', '1Gi', (c) => (c.spec!.storageClassName = 'now'))])), { unresolvable: 'pod has unbound immediate PersistentVolumeClaims' })
  t.same(podVolumeClaims(p, lookups([pvc('data', '1Gi', (c) => (c.spec!.volumeName = 'pv1'))])), { unresolvable: 'pod has unbound immediate PersistentVolumeClaims' }, 'a pre-bound claim is the binder\'s to finish')
  const sorted = podVolumeClaims(withClaims(pod('web'), 'big', 'small'), lookups([pvc('big', '5Gi'), pvc('small', '1Gi')])) as PodClaims
  t.same(sorted.toBind.map((c) => c.metadata?.name), ['small', 'big'], 'claims to bind, smallest first')
})

t.test('Filter: bound volumes pin the node, claims to bind need a volume or a provisioner there', async (t) => {
  const volumes = [pv('pv-a', '1Gi', onNode('a')), pv('pv-b', '5Gi', onNode('b'))]
  const boundOnA = podVolumeClaims(withClaims(pod('web'), 'data'), lookups([boundClaim('data', 'pv-a')], volumes)) as PodClaims
  t.same(findPodVolumes(boundOnA, nodeView('a'), lookups([], volumes)), { staticBindings: [], provisions: [] })
  t.same(findPodVolumes(boundOnA, nodeView('b'), lookups([], volumes)), { reasons: ['node(s) had volume node affinity conflict'] })
  const lostVolume = podVolumeClaims(withClaims(pod('web'), 'data'), lookups([boundClaim('data', 'gone')])) as PodClaims
  t.same(findPodVolumes(lostVolume, nodeView('a'), lookups([])), { reasons: ['node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)'] })

  const claim = pvc('data', '2Gi')
  const toBind = podVolumeClaims(withClaims(pod('web'), 'data'), lookups([claim])) as PodClaims
  const onB = findPodVolumes(toBind, nodeView('b'), lookups([claim], volumes))
  t.same('staticBindings' in onB && onB.staticBindings.map((b) => b.volume.metadata?.name), ['pv-b'], 'a free volume that fits the node')
  t.same(findPodVolumes(toBind, nodeView('a'), lookups([claim], volumes)), { reasons: ["node(s) didn't find available persistent volumes to bind"] }, 'too small there, and manual classes provision nothing')

  const local = pvc('data', '2Gi', (c) => (c.spec!.storageClassName = 'local-path'))
  const toProvision = podVolumeClaims(withClaims(pod('web'), 'data'), lookups([local])) as PodClaims
  const provisioned = findPodVolumes(toProvision, nodeView('a'), lookups([local]))
  t.same('provisions' in provisioned && provisioned.provisions.map((c) => c.metadata?.name), ['data'], 'a provisioner can make one anywhere')
  const zoned = storageClass('local-path', (c) => ((c.provisioner = 'weft.dev/local-path'), (c.volumeBindingMode = 'WaitForFirstConsumer'), (c.allowedTopologies = [{ matchLabelExpressions: [{ key: 'zone', values: ['z1'] }] }])))
  t.same(findPodVolumes(toProvision, nodeView('a', { zone: 'z2' }), lookups([local], [], [zoned])), { reasons: ["node(s) didn't find available persistent volumes to bind"] }, "outside the class's allowed topologies")
  t.ok('provisions' in findPodVolumes(toProvision, nodeView('a', { zone: 'z1' }), lookups([local], [], [zoned])), 'inside them')

  const selected = pvc('data', '2Gi', (c) => ((c.spec!.storageClassName = 'local-path'), (c.metadata!.annotations = { 'volume.kubernetes.io/selected-node': 'a' })))
  const started = podVolumeClaims(withClaims(pod('web'), 'data'), lookups([selected])) as PodClaims
  t.ok('provisions' in findPodVolumes(started, nodeView('a'), lookups([selected])), 'provisioning started on a: a')
  t.same(findPodVolumes(started, nodeView('b'), lookups([selected])), { reasons: ["node(s) didn't find available persistent volumes to bind"] }, 'and only a')

  const two = [pvc('one', '1Gi'), pvc('two', '1Gi')]
  const both = podVolumeClaims(withClaims(pod('web'), 'one', 'two'), lookups(two)) as PodClaims
  t.same(findPodVolumes(both, nodeView('a'), lookups(two, [pv('only', '1Gi')])), { reasons: ["node(s) didn't find available persistent volumes to bind"] }, 'one volume cannot serve two claims')
})

t.test('the writes for the chosen node: pre-bind the matched volume, name the node for the provisioner', async (t) => {
  const claim = pvc('data', '1Gi')
  const local = pvc('logs', '1Gi', (c) => (c.spec!.storageClassName = 'local-path'))
  const actions = volumeBindingActions({ staticBindings: [{ claim, volume: pv('pv1', '1Gi') }], provisions: [local] }, 'node-1')
  t.same(actions.map((a) => a.verb === 'update' && [a.info.kind, a.object.metadata?.name, a.object.spec?.claimRef?.uid, a.object.metadata?.annotations]), [
    ['PersistentVolume', 'pv1', 'uid-data', { 'pv.kubernetes.io/bound-by-controller': 'yes' }],
    ['PersistentVolumeClaim', 'logs', undefined, { 'volume.kubernetes.io/selected-node': 'node-1' }],
  ])
  const already = pvc('logs', '1Gi', (c) => (c.metadata!.annotations = { 'volume.kubernetes.io/selected-node': 'node-1' }))
  const prebound = pv('pv1', '1Gi', (v) => (v.spec!.claimRef = { namespace: 'default', name: 'data', uid: 'uid-data' }))
  t.same(volumeBindingActions({ staticBindings: [{ claim, volume: prebound }], provisions: [already] }, 'node-1'), [], 'nothing twice')
})

t.test('in the scheduling decision: after resources, before affinity, with the fit-error histogram', async (t) => {
  const snapshot = new ClusterSnapshot([node('a'), node('b'), node('c', { cpu: '1' })], [])
  const claim = boundClaim('data', 'pv-b')
  const look = lookups([claim], [pv('pv-b', '1Gi', onNode('b'))])
  const p = withClaims(pod('web', { cpu: '2' }), 'data')
  const claims = podVolumeClaims(p, look) as PodClaims
  const pi = podInfo(p)
  pi.volumes = (n) => {
    const r = findPodVolumes(claims, n, look)
    return 'reasons' in r ? r.reasons : undefined
  }
  t.match(scheduleOnSnapshot(pi, snapshot), { node: 'b' })
  const elsewhere = boundClaim('data', 'pv-x')
  const look2 = lookups([elsewhere], [pv('pv-x', '1Gi', onNode('x'))])
  const claims2 = podVolumeClaims(p, look2) as PodClaims
  pi.volumes = (n) => {
    const r = findPodVolumes(claims2, n, look2)
    return 'reasons' in r ? r.reasons : undefined
  }
  t.match(scheduleOnSnapshot(pi, snapshot), { message: '0/3 nodes are available: 1 Insufficient cpu, 2 node(s) had volume node affinity conflict.' })
})
