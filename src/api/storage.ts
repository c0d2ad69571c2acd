// What PersistentVolumes, claims and StorageClasses say to everyone who reads them: the
// annotations the binder, the scheduler and provisioners exchange (names from
// k8s.io/component-helpers/storage/volume), and how a class and a size are read.
import type { V1PersistentVolume, V1PersistentVolumeClaim, V1StorageClass } from '@kubernetes/client-node'
import { isQuantity, parseQuantityValue } from './quantity.ts'

/** On a claim: the binder finished binding it (`yes`). */
export const ANN_BIND_COMPLETED = 'pv.kubernetes.io/bind-completed'
/** On a claim or volume: the binder, not the user, made the binding. */
export const ANN_BOUND_BY_CONTROLLER = 'pv.kubernetes.io/bound-by-controller'
/** On a volume: the provisioner that made it. */
export const ANN_PROVISIONED_BY = 'pv.kubernetes.io/provisioned-by'
/** On a claim: the provisioner asked to make its volume (with the older beta spelling beside it). */
export const ANN_STORAGE_PROVISIONER = 'volume.kubernetes.io/storage-provisioner'
export const ANN_BETA_STORAGE_PROVISIONER = 'volume.beta.kubernetes.io/storage-provisioner'
/** On a claim of a WaitForFirstConsumer class: the node the scheduler chose for its first pod. */
export const ANN_SELECTED_NODE = 'volume.kubernetes.io/selected-node'
export const ANN_DEFAULT_CLASS = 'storageclass.kubernetes.io/is-default-class'
const ANN_BETA_DEFAULT_CLASS = 'storageclass.beta.kubernetes.io/is-default-class'
const ANN_BETA_CLASS = 'volume.beta.kubernetes.io/storage-class'

export const PVC_PROTECTION_FINALIZER = 'kubernetes.io/pvc-protection'
export const PV_PROTECTION_FINALIZER = 'kubernetes.io/pv-protection'
/** weft's built-in provisioner of directories on a node, and the default class that names it. */
export const LOCAL_PATH_PROVISIONER = 'weft.dev/local-path'
export const LOCAL_PATH_CLASS = 'local-path'
/** On a Node: the directory under which its agent keeps local-path volumes (`<agent data dir>/storage`). */
export const ANN_LOCAL_PATH_DIR = 'weft.dev/local-path-dir'
/** On a local-path volume: the node whose disk holds it (its agent lists its volumes by it). */
export const LOCAL_PATH_NODE_LABEL = 'weft.dev/local-path-node'
/** On a local-path volume: held until that node's agent has removed the directory (or, under Retain, let it be). */
export const LOCAL_PATH_CLEANUP_FINALIZER = 'weft.dev/local-path-cleanup'
/** A StorageClass whose volumes are made by hand (no provisioner behind it). */
export const NO_PROVISIONER = 'kubernetes.io/no-provisioner'

/** GetPersistentVolumeClaimClass: the beta annotation wins, then spec.storageClassName; '' for none. */
export function claimClass(pvc: V1PersistentVolumeClaim): string {
  return pvc.metadata?.annotations?.[ANN_BETA_CLASS] ?? pvc.spec?.storageClassName ?? ''
}

/** GetPersistentVolumeClass. */
export function volumeClass(pv: V1PersistentVolume): string {
  return pv.metadata?.annotations?.[ANN_BETA_CLASS] ?? pv.spec?.storageClassName ?? ''
}

/** storageutil.IsDefaultAnnotation: either annotation says "true". */
export function isDefaultClass(sc: V1StorageClass): boolean {
  const a = sc.metadata?.annotations ?? {}
  return a[ANN_DEFAULT_CLASS] === 'true' || a[ANN_BETA_DEFAULT_CLASS] === 'true'
}

/** GetDefaultClass: of several defaults, the newest (then the first by name), as upstream picks. */
export function defaultClass(classes: readonly V1StorageClass[]): V1StorageClass | undefined {
  const created = (c: V1StorageClass) => Date.parse(String(c.metadata?.creationTimestamp ?? '')) || 0
  return classes
    .filter(isDefaultClass)
    .sort((a, b) => created(b) - created(a) || String(a.metadata?.name).localeCompare(String(b.metadata?.name)))[0]
}

function bytes(q: unknown): number {
  return isQuantity(q) ? parseQuantityValue(q as string) : 0
}

/** The claim's storage request in bytes (0 when absent). */
export function requestedBytes(pvc: V1PersistentVolumeClaim): number {
  return bytes(pvc.spec?.resources?.requests?.storage)
}

/** The volume's storage capacity in bytes (0 when absent). */
export function capacityBytes(pv: V1PersistentVolume): number {
  return bytes(pv.spec?.capacity?.storage)
}

/** The claim's binding mode: WaitForFirstConsumer only when its class says so (a missing class binds at once). */
export function isDelayBinding(pvc: V1PersistentVolumeClaim, classOf: (name: string) => V1StorageClass | undefined): boolean {
  const name = claimClass(pvc)
  return name !== '' && classOf(name)?.volumeBindingMode === 'WaitForFirstConsumer'
}
