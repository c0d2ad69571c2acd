import t from 'tap'
import { syncClaim, syncVolume } from '../../../src/controllers/persistentvolume/binder.ts'
import { findMatchingVolume } from '../../../src/controllers/persistentvolume/match.ts'
import { describe, pv, pvc, storageClass, view } from './fixtures.ts'

const bound = (pvName: string, claimName: string) => (v: Parameters<Parameters<typeof pv>[2] & object>[0]) => {
  v.spec!.claimRef = { kind: 'PersistentVolumeClaim', namespace: 'default', name: claimName, uid: `uid-${claimName}` }
  v.metadata!.annotations = { 'pv.kubernetes.io/bound-by-controller': 'yes' }
  v.status = { phase: 'Bound' }
  void pvName
}

t.test('matching: which volume a claim gets', async (t) => {
  const cases: { name: string; claim: ReturnType<typeof pvc>; volumes: ReturnType<typeof pv>[]; want: string | undefined }[] = [
    { name: 'the smallest that holds the request', claim: pvc('c', '3Gi'), volumes: [pv('big', '10Gi'), pv('small', '1Gi'), pv('fit', '5Gi'), pv('exact', '3Gi')], want: 'exact' },
    { name: 'quantities compare by value', claim: pvc('c', '1500Mi'), volumes: [pv('a', '1Gi'), pv('b', '2G'), pv('c', '2Gi')], want: 'b' },
    { name: 'nothing large enough', claim: pvc('c', '20Gi'), volumes: [pv('a', '10Gi')], want: undefined },
    { name: 'another class', claim: pvc('c', '1Gi', (c) => (c.spec!.storageClassName = 'fast')), volumes: [pv('a', '1Gi')], want: undefined },
    { name: 'no class matches only volumes without class', claim: pvc('c', '1Gi', (c) => (c.spec!.storageClassName = '')), volumes: [pv('a', '1Gi'), pv('b', '2Gi', (v) => delete v.spec!.storageClassName)], want: 'b' },
    { name: 'access modes must all be offered', claim: pvc('c', '1Gi', (c) => (c.spec!.accessModes = ['ReadWriteMany'])), volumes: [pv('a', '1Gi')], want: undefined },
    {
      name: 'fewer offered modes first, then size',
      claim: pvc('c', '1Gi'),
      volumes: [pv('many', '1Gi', (v) => (v.spec!.accessModes = ['ReadWriteOnce', 'ReadOnlyMany'])), pv('one-big', '4Gi'), pv('one', '2Gi')],
      want: 'one',
    },
    { name: 'the selector must match', claim: pvc('c', '1Gi', (c) => (c.spec!.selector = { matchLabels: { tier: 'ssd' } })), volumes: [pv('a', '1Gi'), pv('b', '8Gi', (v) => (v.metadata!.labels = { tier: 'ssd' }))], want: 'b' },
    { name: 'volume modes must agree', claim: pvc('c', '1Gi', (c) => (c.spec!.volumeMode = 'Block')), volumes: [pv('a', '1Gi')], want: undefined },
    { name: 'only Available volumes', claim: pvc('c', '1Gi'), volumes: [pv('a', '1Gi', (v) => (v.status = { phase: 'Released' }))], want: undefined },
    { name: 'not one being deleted', claim: pvc('c', '1Gi'), volumes: [pv('a', '1Gi', (v) => (v.metadata!.deletionTimestamp = new Date()))], want: undefined },
    { name: "not one bound to another claim", claim: pvc('c', '1Gi'), volumes: [pv('a', '1Gi', bound('a', 'other'))], want: undefined },
    {
      name: 'a volume pre-bound to the claim wins over a better fit, whatever its phase or class',
      claim: pvc('c', '1Gi'),
      volumes: [pv('fit', '1Gi'), pv('mine', '9Gi', (v) => ((v.spec!.claimRef = { namespace: 'default', name: 'c' }), (v.status = { phase: 'Pending' }), (v.spec!.storageClassName = 'other')))],
      want: 'mine',
    },
  ]
  for (const c of cases) t.equal(findMatchingVolume(c.claim, c.volumes)?.metadata?.name, c.want, c.name)
  const waiting = pvc('c', '1Gi')
  t.equal(findMatchingVolume(waiting, [pv('a', '1Gi')], { delayBinding: true }), undefined, 'WaitForFirstConsumer: the controller leaves free volumes to the scheduler')
  t.equal(findMatchingVolume(waiting, [pv('a', '1Gi', (v) => (v.spec!.claimRef = { namespace: 'default', name: 'c' }))], { delayBinding: true })?.metadata?.name, 'a', 'but takes a pre-bound one')
  const pinned = (n: string) => (v: ReturnType<typeof pv>) => (v.spec!.nodeAffinity = { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: [n] }] }] } })
  const onNodes = [pv('on-a', '1Gi', pinned('a')), pv('on-b', '2Gi', pinned('b'))]
  t.equal(findMatchingVolume(waiting, onNodes, { node: { name: 'b', labels: { 'kubernetes.io/hostname': 'b' } } })?.metadata?.name, 'on-b', 'the scheduler: the volume must fit the node')
  t.equal(findMatchingVolume(waiting, onNodes, { node: { name: 'b', labels: { 'kubernetes.io/hostname': 'b' } }, excluded: new Set(['on-b']) }), undefined, 'and not be taken by a sibling claim')
})

t.test('binding a claim: every write the binding needs, in order', async (t) => {
  const claim = pvc('data', '1Gi')
  t.same(describe(syncClaim(claim, view({ claims: [claim], volumes: [pv('pv1', '2Gi')] }))), [
    'update PersistentVolume/pv1 claimRef=default/data:uid-data annotations=pv.kubernetes.io/bound-by-controller',
    'patch PersistentVolume/pv1/status {"status":{"phase":"Bound","message":null}}',
    'update PersistentVolumeClaim/data volumeName=pv1 class=manual annotations=pv.kubernetes.io/bind-completed,pv.kubernetes.io/bound-by-controller',
    'patch PersistentVolumeClaim/data/status {"status":{"phase":"Bound","accessModes":["ReadWriteOnce"],"capacity":{"storage":"2Gi"}}}',
  ])
})

t.test('a half-made binding is finished, a whole one left alone', async (t) => {
  const claim = pvc('data', '1Gi')
  const volume = pv('pv1', '2Gi', bound('pv1', 'data'))
  t.same(describe(syncClaim(claim, view({ claims: [claim], volumes: [volume] }))), [
    'update PersistentVolumeClaim/data volumeName=pv1 class=manual annotations=pv.kubernetes.io/bind-completed,pv.kubernetes.io/bound-by-controller',
    'patch PersistentVolumeClaim/data/status {"status":{"phase":"Bound","accessModes":["ReadWriteOnce"],"capacity":{"storage":"2Gi"}}}',
  ], 'the volume was written, the claim not yet')
  const done = pvc('data', '1Gi', (c) => {
    c.spec!.volumeName = 'pv1'
    c.metadata!.annotations = { 'pv.kubernetes.io/bind-completed': 'yes', 'pv.kubernetes.io/bound-by-controller': 'yes' }
    c.status = { phase: 'Bound', accessModes: ['ReadWriteOnce'], capacity: { storage: '2Gi' } }
  })
  t.same(syncClaim(done, view({ claims: [done], volumes: [volume] })), [])
  t.same(syncVolume(volume, view({ claims: [done], volumes: [volume] })), [], 'the volume is Bound already')
})

t.test('pre-bound by the user: the named volume, and no bound-by-controller on it', async (t) => {
  const claim = pvc('data', '1Gi', (c) => (c.spec!.volumeName = 'big'))
  t.same(describe(syncClaim(claim, view({ claims: [claim], volumes: [pv('small', '1Gi'), pv('big', '9Gi')] }))), [
    'update PersistentVolume/big claimRef=default/data:uid-data annotations=pv.kubernetes.io/bound-by-controller',
    'patch PersistentVolume/big/status {"status":{"phase":"Bound","message":null}}',
    'update PersistentVolumeClaim/data volumeName=big class=manual annotations=pv.kubernetes.io/bind-completed',
    'patch PersistentVolumeClaim/data/status {"status":{"phase":"Bound","accessModes":["ReadWriteOnce"],"capacity":{"storage":"9Gi"}}}',
  ], 'the claim named the volume: the claim is not bound by the controller')
  const volume = pv('pv1', '9Gi', (v) => (v.spec!.claimRef = { namespace: 'default', name: 'data' }))
  const free = pvc('data', '1Gi')
  t.same(describe(syncClaim(free, view({ claims: [free], volumes: [pv('small', '1Gi'), volume] }))).slice(0, 1), [
    'update PersistentVolume/pv1 claimRef=default/data:uid-data',
  ], 'the volume named the claim: its claimRef gets the uid, not the annotation')
  const missing = pvc('data', '1Gi', (c) => (c.spec!.volumeName = 'nope'))
  t.same(syncClaim(missing, view({ claims: [missing] })), [], 'a named volume that does not exist yet: Pending, waiting')
  const taken = pvc('data', '1Gi', (c) => (c.spec!.volumeName = 'pv1'))
  t.same(syncClaim(taken, view({ claims: [taken], volumes: [pv('pv1', '1Gi', bound('pv1', 'other'))] })), [], 'a named volume bound elsewhere: waiting')
})

t.test('unbound claims wait, ask a provisioner, or say why not', async (t) => {
  const wffc = storageClass('local-path', (c) => ((c.volumeBindingMode = 'WaitForFirstConsumer'), (c.provisioner = 'weft.dev/local-path')))
  const waiting = pvc('data', '1Gi', (c) => (c.spec!.storageClassName = 'local-path'))
  t.same(describe(syncClaim(waiting, view({ classes: [wffc], volumes: [pv('pv1', '1Gi', (v) => (v.spec!.storageClassName = 'local-path'))] }))), [
    'event Normal WaitForFirstConsumer: waiting for first consumer to be created before binding',
  ], 'WaitForFirstConsumer: no binding before a pod is scheduled, even with a volume free')
  const pods = [{ metadata: { name: 'web-0', namespace: 'default' }, spec: { containers: [], volumes: [{ name: 'd', persistentVolumeClaim: { claimName: 'data' } }] } }]
  t.same(describe(syncClaim(waiting, view({ classes: [wffc], pods }))), ['event Normal WaitForPodScheduled: waiting for pod web-0 to be scheduled'])
  const selected = pvc('data', '1Gi', (c) => ((c.spec!.storageClassName = 'local-path'), (c.metadata!.annotations = { 'volume.kubernetes.io/selected-node': 'node-1' })))
  t.same(describe(syncClaim(selected, view({ classes: [wffc] }))), [
    'update PersistentVolumeClaim/data volumeName= class=local-path annotations=volume.beta.kubernetes.io/storage-provisioner,volume.kubernetes.io/selected-node,volume.kubernetes.io/storage-provisioner',
    "event Normal ExternalProvisioning: Waiting for a volume to be created either by the external provisioner 'weft.dev/local-path' or manually by the system administrator. If volume creation is delayed, please verify that the provisioner is running and correctly registered.",
  ], 'a node was chosen: the provisioner is named on the claim')
  const noClass = pvc('data', '1Gi', (c) => (c.spec!.storageClassName = ''))
  t.same(describe(syncClaim(noClass, view({}))), ['event Normal FailedBinding: no persistent volumes available for this claim and no storage class is set'])
  const unknown = pvc('data', '1Gi', (c) => (c.spec!.storageClassName = 'gold'))
  t.same(describe(syncClaim(unknown, view({}))), ['event Warning ProvisioningFailed: storageclass.storage.k8s.io "gold" not found'])
  const unset = pvc('data', '1Gi', (c) => delete c.spec!.storageClassName)
  const dflt = storageClass('std', (c) => (c.metadata!.annotations = { 'storageclass.kubernetes.io/is-default-class': 'true' }))
  t.same(describe(syncClaim(unset, view({ classes: [dflt] }))), ['update PersistentVolumeClaim/data volumeName= class=std'], 'a claim made before any default class gets it afterwards')
  const deleting = pvc('data', '1Gi', (c) => (c.metadata!.deletionTimestamp = new Date()))
  t.same(syncClaim(deleting, view({ volumes: [pv('pv1', '1Gi')] })), [], 'a claim being deleted is not bound')
})

t.test('bound claims whose volume went are Lost, once', async (t) => {
  const boundClaim = (name: string) =>
    pvc('data', '1Gi', (c) => {
      c.spec!.volumeName = name
      c.metadata!.annotations = { 'pv.kubernetes.io/bind-completed': 'yes' }
      c.status = { phase: 'Bound' }
    })
  t.same(describe(syncClaim(boundClaim('gone'), view({}))), [
    'patch PersistentVolumeClaim/data/status {"status":{"phase":"Lost"}}',
    'event Warning ClaimLost: Bound claim has lost its PersistentVolume. Data on the volume is lost!',
  ])
  const lost = boundClaim('gone')
  lost.status = { phase: 'Lost' }
  t.same(syncClaim(lost, view({})), [], 'no second event')
  t.same(describe(syncClaim(boundClaim('pv1'), view({ volumes: [pv('pv1', '1Gi', bound('pv1', 'other'))] }))), [
    'patch PersistentVolumeClaim/data/status {"status":{"phase":"Lost"}}',
    'event Warning ClaimMisbound: Two claims are bound to the same volume, this one is bound incorrectly',
  ])
})

t.test('volumes: Available, Released on claim deletion, then reclaimed by policy', async (t) => {
  t.same(describe(syncVolume(pv('pv1', '1Gi', (v) => (v.status = { phase: 'Pending' })), view({}))), ['patch PersistentVolume/pv1/status {"status":{"phase":"Available","message":null}}'])
  const retained = pv('pv1', '1Gi', bound('pv1', 'data'))
  t.same(describe(syncVolume(retained, view({}))), ['patch PersistentVolume/pv1/status {"status":{"phase":"Released","message":null}}'], 'Retain: Released, kept')
  const released = pv('pv1', '1Gi', (v) => (bound('pv1', 'data')(v), (v.status = { phase: 'Released' })))
  t.same(syncVolume(released, view({})), [], 'and left so')
  const recreated = pvc('data', '1Gi', (c) => (c.metadata!.uid = 'new-uid'))
  t.same(describe(syncVolume(retained, view({ claims: [recreated] }))), ['patch PersistentVolume/pv1/status {"status":{"phase":"Released","message":null}}'], 'a new claim of the same name is another claim')
  const provisioned = pv('pvc-1', '1Gi', (v) => {
    bound('pvc-1', 'data')(v)
    v.spec!.persistentVolumeReclaimPolicy = 'Delete'
    v.metadata!.annotations!['pv.kubernetes.io/provisioned-by'] = 'weft.dev/local-path'
  })
  t.same(describe(syncVolume(provisioned, view({}))), ['patch PersistentVolume/pvc-1/status {"status":{"phase":"Released","message":null}}'], 'Delete of a provisioned volume: its provisioner deletes it')
  const manual = pv('pv1', '1Gi', (v) => ((bound('pv1', 'data')(v)), (v.spec!.persistentVolumeReclaimPolicy = 'Delete'), (v.status = { phase: 'Released' })))
  t.same(describe(syncVolume(manual, view({}))), [
    'patch PersistentVolume/pv1/status {"status":{"phase":"Failed","message":"error getting deleter volume plugin for volume \\"pv1\\": no deletable volume plugin matched"}}',
    'event Warning VolumeFailedDelete: error getting deleter volume plugin for volume "pv1": no deletable volume plugin matched',
  ], 'Delete of a volume made by hand: nothing can delete it')
  const recycled = pv('pv1', '1Gi', (v) => ((bound('pv1', 'data')(v)), (v.spec!.persistentVolumeReclaimPolicy = 'Recycle'), (v.status = { phase: 'Released' })))
  t.match(describe(syncVolume(recycled, view({}))), [/^patch PersistentVolume\/pv1\/status .*"phase":"Failed"/, /^event Warning VolumeFailedRecycle: weft does not recycle volumes/])
  const failed = structuredClone(recycled)
  failed.status = { phase: 'Failed', message: 'weft does not recycle volumes (the Recycle policy is deprecated upstream): delete and re-create the PersistentVolume, or give it the Retain or Delete policy' }
  t.same(syncVolume(failed, view({})), [], 'Failed stays, without a second event')
})

t.test('a volume whose claim went to another volume is let go', async (t) => {
  const elsewhere = pvc('data', '1Gi', (c) => ((c.spec!.volumeName = 'other'), (c.metadata!.annotations = { 'pv.kubernetes.io/bind-completed': 'yes' })))
  t.same(describe(syncVolume(pv('pv1', '1Gi', bound('pv1', 'data')), view({ claims: [elsewhere] }))), [
    'update PersistentVolume/pv1 claimRef=none',
    'patch PersistentVolume/pv1/status {"status":{"phase":"Available","message":null}}',
  ], 'bound by the controller: unbound')
  const userPrebound = pv('pv1', '1Gi', (v) => ((v.spec!.claimRef = { namespace: 'default', name: 'data', uid: 'uid-data' }), (v.status = { phase: 'Bound' })))
  t.same(describe(syncVolume(userPrebound, view({ claims: [elsewhere] }))), [
    'update PersistentVolume/pv1 claimRef=default/data:',
    'patch PersistentVolume/pv1/status {"status":{"phase":"Available","message":null}}',
  ], "pre-bound by the user: stays pre-bound, without the claim's uid")
  const halfBound = pvc('data', '1Gi')
  t.same(syncVolume(pv('pv1', '1Gi', bound('pv1', 'data')), view({ claims: [halfBound] })), [], "half-bound: the claim's sync finishes it")
})
