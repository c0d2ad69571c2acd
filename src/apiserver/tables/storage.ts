// PersistentVolume, PersistentVolumeClaim and StorageClass columns (printPersistentVolume,
// printPersistentVolumeClaim, printStorageClass).
import type { V1PersistentVolume, V1PersistentVolumeClaim, V1StorageClass } from '@kubernetes/client-node'
import { claimClass, isDefaultClass, volumeClass } from '../../api/storage.ts'
import { ageColumn, col, nameColumn, since } from './format.ts'
import type { Printer } from './format.ts'

const modeShort: [string, string][] = [
  ['ReadWriteOnce', 'RWO'],
  ['ReadOnlyMany', 'ROX'],
  ['ReadWriteMany', 'RWX'],
  ['ReadWriteOncePod', 'RWOP'],
]

/** helper.GetAccessModesAsString: each mode once, in a fixed order. */
export function accessModesText(modes: readonly string[] | undefined): string {
  const set = new Set(modes ?? [])
  return modeShort.filter(([m]) => set.has(m)).map(([, s]) => s).join(',')
}

const doc = {
  capacity: "capacity is the description of the persistent volume's resources and capacity. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#capacity",
  accessModes: 'accessModes contains all ways the volume can be mounted. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#access-modes',
  reclaim:
    'persistentVolumeReclaimPolicy defines what happens to a persistent volume when released from its claim. Valid options are Retain (default for manually created PersistentVolumes), Delete (default for dynamically provisioned PersistentVolumes), and Recycle (deprecated). Recycle must be supported by the volume plugin underlying this PersistentVolume. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#reclaiming',
  pvPhase: 'phase indicates if a volume is available, bound to a claim, or released by a claim. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#phase',
  claimRef:
    'claimRef is part of a bi-directional binding between PersistentVolume and PersistentVolumeClaim. Expected to be non-nil when bound. claim.VolumeName is the authoritative bind between PV and PVC. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#binding',
  reason: 'reason is a brief CamelCase string that describes any failure and is meant for machine parsing and tidy display in the CLI.',
  pvVolumeMode: 'volumeMode defines if a volume is intended to be used with a formatted filesystem or to remain in raw block state. Value of Filesystem is implied when not included in spec.',
  claimPhase: 'phase represents the current phase of PersistentVolumeClaim.',
  volumeName: 'volumeName is the binding reference to the PersistentVolume backing this claim.',
  claimCapacity: 'capacity represents the actual resources of the underlying volume.',
  claimAccessModes: 'accessModes contains the actual access modes the volume backing the PVC has. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#access-modes-1',
  claimVolumeMode: 'volumeMode defines what type of volume is required by the claim. Value of Filesystem is implied when not included in claim spec.',
  provisioner: 'provisioner indicates the type of the provisioner.',
  classReclaim: 'reclaimPolicy controls the reclaimPolicy for dynamically provisioned PersistentVolumes of this storage class. Defaults to Delete.',
  bindingMode: 'volumeBindingMode indicates how PersistentVolumeClaims should be provisioned and bound.  When unset, VolumeBindingImmediate is used. This field is only honored by servers that enable the VolumeScheduling feature.',
  expansion: 'allowVolumeExpansion shows whether the storage class allow volume expand.',
}

export const persistentVolumePrinter: Printer = {
  columns: [
    nameColumn(),
    col('Capacity', 'string', doc.capacity),
    col('Access Modes', 'string', doc.accessModes),
    col('Reclaim Policy', 'string', doc.reclaim),
    col('Status', 'string', doc.pvPhase),
    col('Claim', 'string', doc.claimRef),
    col('StorageClass', 'string', 'StorageClass of the pv'),
    col('VolumeAttributesClass', 'string', 'VolumeAttributesClass of the pv'),
    col('Reason', 'string', doc.reason),
    ageColumn(),
    col('VolumeMode', 'string', doc.pvVolumeMode, 1),
  ],
  row(obj, now) {
    const pv = obj as V1PersistentVolume
    const spec = pv.spec ?? {}
    const claim = spec.claimRef ? `${spec.claimRef.namespace ?? ''}/${spec.claimRef.name ?? ''}` : ''
    const phase = pv.metadata?.deletionTimestamp ? 'Terminating' : (pv.status?.phase ?? '')
    return {
      cells: [
        pv.metadata?.name ?? '',
        spec.capacity?.storage ?? '0',
        accessModesText(spec.accessModes),
        spec.persistentVolumeReclaimPolicy ?? '',
        phase,
        claim,
        volumeClass(pv),
        spec.volumeAttributesClassName ?? '<unset>',
        pv.status?.reason ?? '',
        since(pv.metadata?.creationTimestamp, now),
        spec.volumeMode ?? '<unset>',
      ],
    }
  },
}

export const persistentVolumeClaimPrinter: Printer = {
  columns: [
    nameColumn(),
    col('Status', 'string', doc.claimPhase),
    col('Volume', 'string', doc.volumeName),
    col('Capacity', 'string', doc.claimCapacity),
    col('Access Modes', 'string', doc.claimAccessModes),
    col('StorageClass', 'string', 'StorageClass of the pvc'),
    col('VolumeAttributesClass', 'string', 'VolumeAttributesClass of the pvc'),
    ageColumn(),
    col('VolumeMode', 'string', doc.claimVolumeMode, 1),
  ],
  row(obj, now) {
    const pvc = obj as V1PersistentVolumeClaim
    const spec = pvc.spec ?? {}
    const bound = Boolean(spec.volumeName)
    return {
      cells: [
        pvc.metadata?.name ?? '',
        pvc.metadata?.deletionTimestamp ? 'Terminating' : (pvc.status?.phase ?? ''),
        spec.volumeName ?? '',
        bound ? (pvc.status?.capacity?.storage ?? '0') : '',
        bound ? accessModesText(pvc.status?.accessModes) : '',
        claimClass(pvc),
        spec.volumeAttributesClassName || '<unset>',
        since(pvc.metadata?.creationTimestamp, now),
        spec.volumeMode ?? '<unset>',
      ],
    }
  },
}

export const storageClassPrinter: Printer = {
  columns: [
    nameColumn(),
    col('Provisioner', 'string', doc.provisioner),
    col('ReclaimPolicy', 'string', doc.classReclaim),
    col('VolumeBindingMode', 'string', doc.bindingMode),
    col('AllowVolumeExpansion', 'string', doc.expansion),
    ageColumn(),
  ],
  row(obj, now) {
    const sc = obj as V1StorageClass
    const name = (sc.metadata?.name ?? '') + (isDefaultClass(sc) ? ' (default)' : '')
    return { cells: [name, sc.provisioner, sc.reclaimPolicy ?? 'Delete', sc.volumeBindingMode ?? 'Immediate', sc.allowVolumeExpansion ?? false, since(sc.metadata?.creationTimestamp, now)] }
  },
}
