import t from 'tap'
import { toTable } from '../../src/apiserver/tables.ts'
import { resources } from '../../src/api/registry.ts'

const now = new Date('2024-06-01T12:00:00Z')
const created = '2024-06-01T11:55:00Z'

function rows(kind: string, objects: object[]): { columns: string[]; cells: unknown[][] } {
  const info = resources.find((r) => r.kind === kind)!
  const table = toTable(info, objects, { includeObject: 'None', now })
  return { columns: table.columnDefinitions.map((c) => (c.priority ? `${c.name}*` : c.name)), cells: table.rows.map((r) => r.cells) }
}

t.test('kubectl get pv: upstream columns, claim as namespace/name, Terminating while deleted', async (t) => {
  const pv = {
    metadata: { name: 'pvc-1', creationTimestamp: created },
    spec: { capacity: { storage: '5Gi' }, accessModes: ['ReadWriteMany', 'ReadWriteOnce', 'ReadWriteOnce'], persistentVolumeReclaimPolicy: 'Delete', claimRef: { namespace: 'default', name: 'data' }, storageClassName: 'local-path', volumeMode: 'Filesystem' },
    status: { phase: 'Bound' },
  }
  const failed = { metadata: { name: 'old', creationTimestamp: created, deletionTimestamp: created }, spec: { capacity: { storage: '1Gi' }, accessModes: ['ReadOnlyMany'] }, status: { phase: 'Failed', reason: 'Recycle' } }
  const { columns, cells } = rows('PersistentVolume', [pv, failed])
  t.same(columns, ['Name', 'Capacity', 'Access Modes', 'Reclaim Policy', 'Status', 'Claim', 'StorageClass', 'VolumeAttributesClass', 'Reason', 'Age', 'VolumeMode*'])
  t.same(cells[0], ['pvc-1', '5Gi', 'RWO,RWX', 'Delete', 'Bound', 'default/data', 'local-path', '<unset>', '', '5m', 'Filesystem'])
  t.same(cells[1], ['old', '1Gi', 'ROX', '', 'Terminating', '', '', '<unset>', 'Recycle', '5m', '<unset>'])
})

t.test('kubectl get pvc: capacity and modes only once bound', async (t) => {
  const pending = { metadata: { name: 'data', namespace: 'default', creationTimestamp: created }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } }, storageClassName: 'local-path', volumeMode: 'Filesystem' }, status: { phase: 'Pending' } }
  const bound = {
    metadata: { name: 'logs', namespace: 'default', creationTimestamp: created, annotations: { 'volume.beta.kubernetes.io/storage-class': 'old-style' } },
    spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } }, volumeName: 'pvc-2' },
    status: { phase: 'Bound', capacity: { storage: '2Gi' }, accessModes: ['ReadWriteOnce', 'ReadWriteOncePod'] },
  }
  const { columns, cells } = rows('PersistentVolumeClaim', [pending, bound])
  t.same(columns, ['Name', 'Status', 'Volume', 'Capacity', 'Access Modes', 'StorageClass', 'VolumeAttributesClass', 'Age', 'VolumeMode*'])
  t.same(cells[0], ['data', 'Pending', '', '', '', 'local-path', '<unset>', '5m', 'Filesystem'])
  t.same(cells[1], ['logs', 'Bound', 'pvc-2', '2Gi', 'RWO,RWOP', 'old-style', '<unset>', '5m', '<unset>'])
})

t.test('kubectl get sc: the default class is marked, unset fields shown as defaulted', async (t) => {
  const local = { metadata: { name: 'local-path', creationTimestamp: created, annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' } }, provisioner: 'weft.dev/local-path', reclaimPolicy: 'Delete', volumeBindingMode: 'WaitForFirstConsumer' }
  const bare = { metadata: { name: 'manual', creationTimestamp: created }, provisioner: 'kubernetes.io/no-provisioner', allowVolumeExpansion: true }
  const { columns, cells } = rows('StorageClass', [local, bare])
  t.same(columns, ['Name', 'Provisioner', 'ReclaimPolicy', 'VolumeBindingMode', 'AllowVolumeExpansion', 'Age'])
  t.same(cells[0], ['local-path (default)', 'weft.dev/local-path', 'Delete', 'WaitForFirstConsumer', false, '5m'])
  t.same(cells[1], ['manual', 'kubernetes.io/no-provisioner', 'Delete', 'Immediate', true, '5m'])
})
