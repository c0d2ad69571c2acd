import t from 'tap'
import type { V1Node, V1PersistentVolume, V1StorageClass } from '@kubernetes/client-node'
import { deleteReleasedVolume, provisionClaim, type ProvisionerView } from '../../../src/controllers/persistentvolume/local-path.ts'
import { syncClaimProtection, syncVolumeProtection } from '../../../src/controllers/persistentvolume/protection.ts'
import { claimNamesOf } from '../../../src/controllers/persistentvolume/pod-claims.ts'
import { describe, node, pv, pvc, storageClass } from './fixtures.ts'

const localPath = storageClass('local-path', (c) => ((c.provisioner = 'weft.dev/local-path'), (c.volumeBindingMode = 'WaitForFirstConsumer')))
const agentNode = node('node-1', { 'weft.dev/local-path-dir': '/var/lib/weft/agent/storage/' })

function world(opts: { classes?: V1StorageClass[]; nodes?: V1Node[]; volumes?: V1PersistentVolume[] } = {}): ProvisionerView {
  return {
    storageClass: (n) => (opts.classes ?? [localPath]).find((c) => c.metadata?.name === n),
    node: (n) => (opts.nodes ?? [agentNode]).find((x) => x.metadata?.name === n),
    volume: (n) => (opts.volumes ?? []).find((v) => v.metadata?.name === n),
  }
}

const asked = (patch: (c: ReturnType<typeof pvc>) => void = () => {}) =>
  pvc('data', '2Gi', (c) => {
    c.spec!.storageClassName = 'local-path'
    c.metadata!.annotations = { 'volume.kubernetes.io/storage-provisioner': 'weft.dev/local-path', 'volume.kubernetes.io/selected-node': 'node-1' }
    patch(c)
  })

t.test('a claim the binder handed over, on the node the scheduler chose, gets its directory volume', async (t) => {
  const actions = provisionClaim(asked(), world())
  t.same(describe(actions), ['create PersistentVolume/pvc-uid-data (ProvisioningSucceeded: Successfully provisioned volume pvc-uid-data)'])
  const created = actions[0].verb === 'create' ? actions[0].object : {}
  t.same(created.metadata, {
    name: 'pvc-uid-data',
    labels: { 'weft.dev/local-path-node': 'node-1' },
    annotations: { 'pv.kubernetes.io/provisioned-by': 'weft.dev/local-path' },
    finalizers: ['weft.dev/local-path-cleanup'],
  })
  t.same(created.spec, {
    capacity: { storage: '2Gi' },
    accessModes: ['ReadWriteOnce'],
    persistentVolumeReclaimPolicy: 'Delete',
    storageClassName: 'local-path',
    volumeMode: 'Filesystem',
    hostPath: { path: '/var/lib/weft/agent/storage/pvc-uid-data_default_data', type: 'DirectoryOrCreate' },
    nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: ['node-1'] }] }] } },
    claimRef: { kind: 'PersistentVolumeClaim', apiVersion: 'v1', namespace: 'default', name: 'data', uid: 'uid-data' },
  })
  const retain = storageClass('keep', (c) => ((c.provisioner = 'weft.dev/local-path'), (c.reclaimPolicy = 'Retain'), (c.volumeBindingMode = 'WaitForFirstConsumer')))
  const kept = provisionClaim(asked((c) => (c.spec!.storageClassName = 'keep')), world({ classes: [retain] }))
  t.equal(kept[0].verb === 'create' && kept[0].object.spec?.persistentVolumeReclaimPolicy, 'Retain', "the class's reclaim policy")
})

t.test('what the provisioner leaves alone', async (t) => {
  t.same(provisionClaim(asked((c) => delete c.metadata!.annotations!['volume.kubernetes.io/selected-node']), world()), [], 'no node chosen yet (WaitForFirstConsumer)')
  t.same(provisionClaim(asked((c) => delete c.metadata!.annotations!['volume.kubernetes.io/storage-provisioner']), world()), [], 'the binder has not handed it over')
  t.same(provisionClaim(asked((c) => (c.spec!.storageClassName = 'other')), world({ classes: [storageClass('other')] })), [], "another provisioner's class")
  t.same(provisionClaim(asked((c) => (c.spec!.volumeName = 'pv1')), world()), [], 'already bound')
  t.same(provisionClaim(asked(), world({ volumes: [pv('pvc-uid-data', '2Gi')] })), [], 'its volume exists already')
  t.same(provisionClaim(asked((c) => (c.metadata!.deletionTimestamp = new Date())), world()), [], 'being deleted')
})

t.test('claims local-path cannot serve are told why', async (t) => {
  const failed = (c: ReturnType<typeof pvc>, w = world()) => describe(provisionClaim(c, w))
  const prefix = 'event Warning ProvisioningFailed: failed to provision volume with StorageClass "local-path": '
  t.same(failed(asked((c) => (c.spec!.accessModes = ['ReadWriteMany']))), [`${prefix}NodePath only supports ReadWriteOnce and ReadWriteOncePod (1.22+) access modes`])
  t.same(failed(asked((c) => (c.spec!.selector = { matchLabels: { a: 'b' } }))), [`${prefix}claim.Spec.Selector is not supported`])
  t.same(failed(asked((c) => (c.spec!.volumeMode = 'Block'))), [`${prefix}local-path volumes are directories: volumeMode Block is not supported`])
  t.same(failed(asked(), world({ nodes: [] })), [
    'event Warning ProvisioningFailed: failed to get target node: node "node-1" not found',
    'update PersistentVolumeClaim/data volumeName= class=local-path annotations=volume.kubernetes.io/storage-provisioner',
  ], 'the chosen node is gone: the scheduler chooses again')
  t.same(failed(asked(), world({ nodes: [node('node-1')] })), [
    `${prefix}node "node-1" has no local-path directory: its agent publishes one in the weft.dev/local-path-dir annotation (weft agent does; another kubelet does not)`,
  ])
  t.same(failed(asked(), world({ nodes: [node('node-1', { 'weft.dev/local-path-dir': '/srv/../etc' })] })), [
    `${prefix}node "node-1" publishes the local-path directory "/srv/../etc", which is not an absolute path without '..'`,
  ])
  const immediate = storageClass('local-path', (c) => (c.provisioner = 'weft.dev/local-path'))
  t.same(failed(asked((c) => delete c.metadata!.annotations!['volume.kubernetes.io/selected-node']), world({ classes: [immediate] })), [`${prefix}configuration error, no node was specified`])
})

t.test('a Released local-path volume under Delete is deleted; others are not', async (t) => {
  const mine = (patch: (v: V1PersistentVolume) => void = () => {}) =>
    pv('pvc-1', '1Gi', (v) => {
      v.metadata!.annotations = { 'pv.kubernetes.io/provisioned-by': 'weft.dev/local-path' }
      v.spec!.persistentVolumeReclaimPolicy = 'Delete'
      v.status = { phase: 'Released' }
      patch(v)
    })
  t.same(describe(deleteReleasedVolume(mine())), ['delete PersistentVolume/pvc-1 uid=uid-pvc-1'])
  t.same(deleteReleasedVolume(mine((v) => (v.status = { phase: 'Bound' }))), [], 'still bound')
  t.same(deleteReleasedVolume(mine((v) => (v.spec!.persistentVolumeReclaimPolicy = 'Retain'))), [], 'Retain')
  t.same(deleteReleasedVolume(mine((v) => (v.metadata!.annotations = {}))), [], 'not provisioned by local-path')
  t.same(deleteReleasedVolume(mine((v) => (v.metadata!.deletionTimestamp = new Date()))), [], 'already being deleted')
})

t.test('protection: a claim in use and a bound volume keep their finalizers', async (t) => {
  const deleting = pvc('data', '1Gi', (c) => ((c.metadata!.deletionTimestamp = new Date()), (c.metadata!.finalizers = ['kubernetes.io/pvc-protection', 'example.com/x'])))
  const user = (patch: Record<string, unknown> = {}) => ({ metadata: { name: 'p', namespace: 'default' }, spec: { nodeName: 'node-1', containers: [], volumes: [{ name: 'v', persistentVolumeClaim: { claimName: 'data' } }] }, status: { phase: 'Running' }, ...patch })
  t.same(syncClaimProtection(deleting, [user()]), [], 'a running pod uses it')
  t.same(describe(syncClaimProtection(deleting, [user({ status: { phase: 'Succeeded' } })])), ['update PersistentVolumeClaim/data volumeName= class=manual finalizers=example.com/x'], 'a finished pod does not')
  t.same(describe(syncClaimProtection(deleting, [user({ spec: { containers: [] } })])), ['update PersistentVolumeClaim/data volumeName= class=manual finalizers=example.com/x'], 'an unscheduled pod does not (the kubelet will not start it)')
  t.same(syncClaimProtection(pvc('data', '1Gi', (c) => (c.metadata!.finalizers = ['kubernetes.io/pvc-protection'])), []), [], 'not being deleted')
  const volume = (phase: string) => pv('pv1', '1Gi', (v) => ((v.metadata!.deletionTimestamp = new Date()), (v.metadata!.finalizers = ['kubernetes.io/pv-protection', 'weft.dev/local-path-cleanup']), (v.status = { phase })))
  t.same(syncVolumeProtection(volume('Bound')), [])
  t.same(describe(syncVolumeProtection(volume('Released'))), ['update PersistentVolume/pv1 claimRef=none finalizers=weft.dev/local-path-cleanup'])
  t.same(claimNamesOf({ metadata: { name: 'web' }, spec: { containers: [], volumes: [{ name: 'a', persistentVolumeClaim: { claimName: 'data' } }, { name: 'scratch', ephemeral: {} }, { name: 'e', emptyDir: {} }] } }), ['data', 'web-scratch'])
})
