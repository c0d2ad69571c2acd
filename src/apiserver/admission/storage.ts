// The storage admission plugins: DefaultStorageClass (a new claim that names no class gets
// the default one), StorageObjectInUseProtection (new claims and volumes carry the
// protection finalizers their controllers lift once nothing uses them) and
// PersistentVolumeClaimResize (only a bound claim of a class that allows expansion may ask
// for more).
import type { V1PersistentVolumeClaim, V1StorageClass } from '@kubernetes/client-node'
import { resources } from '../../api/registry.ts'
import { claimClass, defaultClass, PV_PROTECTION_FINALIZER, PVC_PROTECTION_FINALIZER, requestedBytes } from '../../api/storage.ts'
import { forbidden } from '../../util/errors.ts'
import type { KObject, ObjectStore } from '../objects.ts'
import { fromKeyValue } from '../objects.ts'
import type { Admission, AdmissionRequest } from '../resource-handler.ts'

const claimsRef = { group: '', resource: 'persistentvolumeclaims' }

export interface StorageClassLookup {
  list(): Promise<V1StorageClass[]>
  get(name: string): Promise<V1StorageClass | undefined>
}

/** The StorageClasses in the store, read when a claim needs one. */
export function storeClassLookup(objects: ObjectStore): StorageClassLookup {
  const info = resources.find((r) => r.kind === 'StorageClass')!
  return {
    list: async () => (await objects.list(info, undefined)).items.map((kv) => fromKeyValue(kv) as V1StorageClass),
    get: async (name) => (await objects.get(info, undefined, name)) as V1StorageClass | undefined,
  }
}

function addFinalizer(obj: KObject, finalizer: string): void {
  const list: string[] = obj.metadata.finalizers ?? []
  if (!list.includes(finalizer)) obj.metadata.finalizers = [...list, finalizer]
}

/** Why the update may not grow the claim's request, or undefined when it may (or does not grow it). */
export function resizeRefusal(pvc: V1PersistentVolumeClaim, old: V1PersistentVolumeClaim, cls: V1StorageClass | undefined): string | undefined {
  if (requestedBytes(pvc) <= requestedBytes(old)) return undefined
  if (old.status?.phase !== 'Bound') return 'Only bound persistent volume claims can be expanded'
  if (cls?.allowVolumeExpansion !== true) return 'only dynamically provisioned pvc can be resized and the storageclass that provisions the pvc must support resize'
  return undefined
}

export class StorageAdmission implements Admission {
  readonly #classes: StorageClassLookup

  constructor(classes: StorageClassLookup) {
    this.#classes = classes
  }

  async mutate(r: AdmissionRequest): Promise<void> {
    if (r.old || r.subresource) return
    if (r.info.kind === 'PersistentVolume') addFinalizer(r.obj, PV_PROTECTION_FINALIZER)
    if (r.info.kind !== 'PersistentVolumeClaim') return
    addFinalizer(r.obj, PVC_PROTECTION_FINALIZER)
    const pvc = r.obj as V1PersistentVolumeClaim & KObject
    const spec = pvc.spec!
    // An explicit "" asks for a volume without class; only an absent class is defaulted.
    if ((spec.storageClassName !== undefined && spec.storageClassName !== null) || claimClass(pvc) !== '') return
    const cls = defaultClass(await this.#classes.list())
    if (cls) spec.storageClassName = cls.metadata!.name
  }

  async validate(r: AdmissionRequest): Promise<void> {
    if (r.info.kind !== 'PersistentVolumeClaim' || !r.old || r.subresource) return
    const pvc = r.obj as V1PersistentVolumeClaim & KObject
    const old = r.old as V1PersistentVolumeClaim & KObject
    if (requestedBytes(pvc) <= requestedBytes(old)) return
    const name = claimClass(pvc)
    const refusal = resizeRefusal(pvc, old, name ? await this.#classes.get(name) : undefined)
    if (refusal) throw forbidden(claimsRef, pvc.metadata.name ?? '', refusal)
  }
}
