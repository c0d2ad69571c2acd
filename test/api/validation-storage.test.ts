import t from 'tap'
import { applyDefaults } from '../../src/api/defaults.ts'
import { findByKind, type ResourceInfo } from '../../src/api/registry.ts'
import { validateObject } from '../../src/api/validation/index.ts'

type Obj = Record<string, any>

const info = (apiVersion: string, kind: string): ResourceInfo => findByKind(apiVersion, kind)!
const pvInfo = info('v1', 'PersistentVolume')
const pvcInfo = info('v1', 'PersistentVolumeClaim')
const scInfo = info('storage.k8s.io/v1', 'StorageClass')

function pv(mutate: (p: Obj) => void = () => {}): Obj {
  const p: Obj = {
    metadata: { name: 'pv1' },
    spec: { capacity: { storage: '1Gi' }, accessModes: ['ReadWriteOnce'], hostPath: { path: '/srv/pv1' }, persistentVolumeReclaimPolicy: 'Retain', volumeMode: 'Filesystem' },
  }
  mutate(p)
  return p
}

function pvc(mutate: (p: Obj) => void = () => {}): Obj {
  const p: Obj = {
    metadata: { name: 'data', namespace: 'default' },
    spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } }, volumeMode: 'Filesystem' },
  }
  mutate(p)
  return p
}

function sc(mutate: (s: Obj) => void = () => {}): Obj {
  const s: Obj = { metadata: { name: 'fast' }, provisioner: 'weft.dev/local-path', reclaimPolicy: 'Delete', volumeBindingMode: 'WaitForFirstConsumer' }
  mutate(s)
  return s
}

const lines = (i: ResourceInfo, o: Obj, old?: Obj, sub?: string): string[] => validateObject(i, o, old, sub).map((c) => `${c.field}: ${c.message}`)

t.test('PersistentVolume: upstream rules for modes, capacity, policy and sources', async (t) => {
  t.same(lines(pvInfo, pv()), [])
  t.same(lines(pvInfo, pv((p) => (p.spec.accessModes = []))), ['spec.accessModes: Required value'])
  t.same(lines(pvInfo, pv((p) => (p.spec.accessModes = ['ReadWriteSome']))), [
    'spec.accessModes: Unsupported value: "ReadWriteSome": supported values: "ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"',
  ])
  t.same(lines(pvInfo, pv((p) => (p.spec.accessModes = ['ReadWriteOncePod', 'ReadOnlyMany']))), ['spec.accessModes: Forbidden: may not use ReadWriteOncePod with other access modes'])
  t.same(lines(pvInfo, pv((p) => (p.spec.capacity = { storage: '0' }))), ['spec.capacity[storage]: Invalid value: "0": must be greater than zero'])
  t.match(lines(pvInfo, pv((p) => (p.spec.capacity = { storage: 'lots' }))), [/^spec\.capacity\[storage\]: Invalid value: "lots": quantities must match/])
  t.same(lines(pvInfo, pv((p) => delete p.spec.capacity)), ['spec.capacity: Required value', 'spec.capacity: Unsupported value: map[string]string{}: supported values: "storage"'])
  t.same(lines(pvInfo, pv((p) => (p.spec.persistentVolumeReclaimPolicy = 'Shred'))), [
    'spec.persistentVolumeReclaimPolicy: Unsupported value: "Shred": supported values: "Delete", "Recycle", "Retain"',
  ])
  t.same(lines(pvInfo, pv((p) => (p.spec.persistentVolumeReclaimPolicy = 'Recycle'))), [], 'Recycle is a valid (deprecated) policy: the controller refuses to act on it')
  t.same(lines(pvInfo, pv((p) => delete p.spec.hostPath)), ['spec: Required value: must specify a volume type'])
  t.same(lines(pvInfo, pv((p) => (p.spec.nfs = { server: 'nfs', path: '/x' }))), ['spec.nfs: Forbidden: may not specify more than 1 volume type'])
  t.same(lines(pvInfo, pv((p) => (p.spec = { ...p.spec, hostPath: undefined, nfs: { server: 'nfs', path: '/x' } }))), [], 'other sources are stored as given')
  t.same(lines(pvInfo, pv((p) => (p.spec.hostPath.path = '/srv/../etc'))), ['spec.hostPath.path: Invalid value: "/srv/../etc": must not contain \'..\''])
  t.same(lines(pvInfo, pv((p) => (p.spec.hostPath.type = 'Pipe'))), [
    'spec.hostPath.type: Unsupported value: "Pipe": supported values: "", "BlockDevice", "CharDevice", "Directory", "DirectoryOrCreate", "File", "FileOrCreate", "Socket"',
  ])
  t.same(lines(pvInfo, pv((p) => (p.spec = { ...p.spec, hostPath: undefined, local: { path: '/mnt/disk' } }))), ['spec.nodeAffinity: Required value: Local volume requires node affinity'])
  const affinity = { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: ['node-1'] }] }] } }
  t.same(lines(pvInfo, pv((p) => (p.spec = { ...p.spec, hostPath: undefined, local: { path: '/mnt/disk' }, nodeAffinity: affinity }))), [])
  t.same(lines(pvInfo, pv((p) => (p.spec.nodeAffinity = { required: { nodeSelectorTerms: [] } }))), [
    'spec.nodeAffinity.required.nodeSelectorTerms: Required value: must have at least one node selector term',
  ])
  t.same(lines(pvInfo, pv((p) => (p.spec.nodeAffinity = { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'zone', operator: 'In' }] }] } }))), [
    "spec.nodeAffinity.required.nodeSelectorTerms[0].matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'",
  ])
  t.same(lines(pvInfo, pv((p) => (p.spec.storageClassName = 'Fast_Disks'))).length, 1, 'a class name is a DNS subdomain')
  t.same(lines(pvInfo, pv((p) => (p.spec.volumeMode = 'Raw'))), ['spec.volumeMode: Unsupported value: "Raw": supported values: "Block", "Filesystem"'])
})

t.test('PersistentVolume updates: the source, volume mode and a set node affinity are immutable', async (t) => {
  const old = pv((p) => (p.metadata.resourceVersion = '5'))
  t.same(lines(pvInfo, pv((p) => (p.spec.capacity.storage = '2Gi')), old), [], 'capacity may change')
  t.same(lines(pvInfo, pv((p) => (p.spec.hostPath.path = '/srv/other')), old), ['spec.persistentvolumesource: Forbidden: spec.persistentvolumesource is immutable after creation'])
  t.same(lines(pvInfo, pv((p) => (p.spec.volumeMode = 'Block')), old), ['volumeMode: Invalid value: "Block": field is immutable'])
  const affinity = { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: ['a'] }] }] } }
  t.same(lines(pvInfo, pv((p) => (p.spec.nodeAffinity = affinity)), old), [], 'node affinity may be set where there was none')
  const moved = structuredClone(affinity)
  moved.required.nodeSelectorTerms[0].matchExpressions[0].values = ['b']
  t.match(lines(pvInfo, pv((p) => (p.spec.nodeAffinity = moved)), pv((p) => (p.spec.nodeAffinity = affinity))), [/^nodeAffinity: Invalid value: .*field is immutable$/])
  t.same(lines(pvInfo, pv((p) => (p.status = { phase: 'Bogus' })), old, 'status'), [], 'a status write checks only the metadata')
})

t.test('PersistentVolumeClaim: requests, modes, class and selector', async (t) => {
  t.same(lines(pvcInfo, pvc()), [])
  t.same(lines(pvcInfo, pvc((p) => (p.spec.accessModes = []))), ['spec.accessModes: Required value: at least 1 access mode is required'])
  t.same(lines(pvcInfo, pvc((p) => (p.spec.resources = {}))), ['spec.resources[storage]: Required value'])
  t.same(lines(pvcInfo, pvc((p) => (p.spec.resources.requests.storage = '-1Gi'))), ['spec.resources[storage]: Invalid value: "-1Gi": must be greater than zero'])
  t.same(lines(pvcInfo, pvc((p) => (p.spec.selector = { matchExpressions: [{ key: 'tier', operator: 'Near', values: ['a'] }] }))), [
    'spec.selector.matchExpressions[0].operator: Unsupported value: "Near": supported values: "DoesNotExist", "Exists", "In", "NotIn"',
  ])
  t.same(lines(pvcInfo, pvc((p) => (p.spec.storageClassName = ''))), [], 'an empty class asks for a volume without class')
})

t.test('PersistentVolumeClaim updates: immutable spec, volumeName once, growth only', async (t) => {
  const old = pvc((p) => (p.metadata.resourceVersion = '3'))
  t.same(lines(pvcInfo, pvc((p) => (p.spec.volumeName = 'pv1')), old), [], 'volumeName is set once by the binder')
  const bound = pvc((p) => {
    p.spec.volumeName = 'pv1'
    p.status = { phase: 'Bound' }
  })
  t.same(lines(pvcInfo, pvc((p) => (p.spec.volumeName = 'pv2')), bound), ['spec: Forbidden: spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims'])
  t.same(lines(pvcInfo, pvc((p) => (p.spec.accessModes = ['ReadWriteMany'])), old), ['spec: Forbidden: spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims'])
  t.same(lines(pvcInfo, pvc((p) => (p.spec.storageClassName = 'local-path')), old), [], 'a class may be set where there was none')
  t.same(
    lines(pvcInfo, pvc((p) => (p.spec.storageClassName = 'fast')), pvc((p) => (p.spec.storageClassName = 'local-path'))),
    ['spec: Forbidden: spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims'],
  )
  const grown = pvc((p) => {
    p.spec.volumeName = 'pv1'
    p.spec.resources.requests.storage = '2Gi'
    p.status = { phase: 'Bound' }
  })
  t.same(lines(pvcInfo, grown, bound), [], 'a bound claim may ask for more')
  t.same(lines(pvcInfo, pvc((p) => (p.spec.resources.requests.storage = '2Gi')), old), [
    'spec: Forbidden: spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims',
  ], 'an unbound claim may not')
  t.same(lines(pvcInfo, bound, grown), ['spec.resources.requests.storage: Forbidden: field can not be less than previous value'])
  t.same(lines(pvcInfo, pvc((p) => (p.spec.volumeMode = 'Block')), old), [
    'spec: Forbidden: spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims',
    'volumeMode: Invalid value: "Block": field is immutable',
  ])
  t.same(lines(pvcInfo, pvc((p) => (p.status = { phase: 'Bound', capacity: { storage: 'big' } })), old, 'status'), ['status.capacity[storage]: Invalid value: "big": must be a quantity'])
})

t.test('StorageClass: provisioner, policy, binding mode and what may not change', async (t) => {
  t.same(lines(scInfo, sc()), [])
  t.same(lines(scInfo, sc((s) => delete s.provisioner)), ['provisioner: Required value'])
  t.match(lines(scInfo, sc((s) => (s.provisioner = 'not a name'))), [/^provisioner: Invalid value: "not a name": name part must consist of/])
  t.same(lines(scInfo, sc((s) => (s.reclaimPolicy = 'Recycle'))), ['reclaimPolicy: Unsupported value: "Recycle": supported values: "Delete", "Retain"'])
  t.same(lines(scInfo, sc((s) => (s.volumeBindingMode = 'Later'))), ['volumeBindingMode: Unsupported value: "Later": supported values: "Immediate", "WaitForFirstConsumer"'])
  const defaulted = sc((s) => {
    delete s.reclaimPolicy
    delete s.volumeBindingMode
  })
  applyDefaults(scInfo, defaulted)
  t.same([defaulted.reclaimPolicy, defaulted.volumeBindingMode], ['Delete', 'Immediate'])
  t.same(lines(scInfo, sc((s) => (s.allowedTopologies = [{ matchLabelExpressions: [] }]))), ['allowedTopologies[0].matchLabelExpressions: Required value: must have at least one label expression'])
  const old = sc((s) => (s.metadata.resourceVersion = '1'))
  t.same(lines(scInfo, sc((s) => (s.allowVolumeExpansion = true)), old), [], 'expansion may be switched')
  t.same(lines(scInfo, sc((s) => (s.provisioner = 'example.com/nfs')), old), ['provisioner: Forbidden: updates to provisioner are forbidden.'])
  t.same(lines(scInfo, sc((s) => (s.parameters = { a: 'b' })), old), ['parameters: Forbidden: updates to parameters are forbidden.'])
  t.same(lines(scInfo, sc((s) => (s.reclaimPolicy = 'Retain')), old), ['reclaimPolicy: Forbidden: updates to reclaimPolicy are forbidden.'])
  t.same(lines(scInfo, sc((s) => (s.volumeBindingMode = 'Immediate')), old), ['volumeBindingMode: Invalid value: "Immediate": field is immutable'])
})

t.test('defaults: volumes Retain and Filesystem, claims Filesystem, both Pending', async (t) => {
  const v = { metadata: { name: 'x' }, spec: {} } as Obj
  applyDefaults(pvInfo, v)
  t.same(v, { metadata: { name: 'x' }, spec: { persistentVolumeReclaimPolicy: 'Retain', volumeMode: 'Filesystem' }, status: { phase: 'Pending' } })
  const c = { metadata: { name: 'x' }, spec: {} } as Obj
  applyDefaults(pvcInfo, c)
  t.same(c, { metadata: { name: 'x' }, spec: { volumeMode: 'Filesystem' }, status: { phase: 'Pending' } })
})

t.test('a pod volume naming a claim must name it', async (t) => {
  const podInfo = info('v1', 'Pod')
  const pod = { metadata: { name: 'p', namespace: 'default' }, spec: { containers: [{ name: 'c', image: 'x' }], volumes: [{ name: 'data', persistentVolumeClaim: { claimName: '' } }] } }
  t.same(lines(podInfo, pod), ['spec.volumes[0].persistentVolumeClaim.claimName: Required value'])
})
