// Quota for PersistentVolumeClaims (pkg/quota/v1/evaluator/core/persistent_volume_claims.go):
// `persistentvolumeclaims` and `requests.storage`, also per storage class as
// `<class>.storageclass.storage.k8s.io/<resource>`. The storage counted is the request, or
// what the volume was resized to when that is more, in whole bytes.
import type { V1PersistentVolumeClaim } from '@kubernetes/client-node'
import type { ResourceInfo } from '../api/registry.ts'
import { compareQuantities, countQuantity, wholeUnits, type Quantity } from '../api/resource-quantity.ts'
import { intersect, objectCountName, type Evaluator } from './evaluator.ts'
import { readResourceList, type ResourceList } from './resource-list.ts'

const STORAGE_CLASS_SUFFIX = '.storageclass.storage.k8s.io/'
const BETA_STORAGE_CLASS_ANNOTATION = 'volume.beta.kubernetes.io/storage-class'
const claimResources = ['persistentvolumeclaims', 'requests.storage']

/** The beta annotation first, as upstream's GetPersistentVolumeClaimClass. */
function storageClassOf(pvc: V1PersistentVolumeClaim): string {
  return pvc.metadata?.annotations?.[BETA_STORAGE_CLASS_ANNOTATION] ?? pvc.spec?.storageClassName ?? ''
}

function allocatedStorage(pvc: V1PersistentVolumeClaim): Quantity | undefined {
  return readResourceList(pvc.status?.allocatedResources).get('storage')
}

function storageUsage(pvc: V1PersistentVolumeClaim): Quantity | undefined {
  const request = readResourceList(pvc.spec?.resources?.requests).get('storage')
  if (!request) return undefined
  const allocated = allocatedStorage(pvc)
  return wholeUnits(allocated && compareQuantities(allocated, request) > 0 ? allocated : request)
}

function claimUsage(pvc: V1PersistentVolumeClaim, countName: string): ResourceList {
  const out: ResourceList = new Map([
    ['persistentvolumeclaims', countQuantity(1)],
    [countName, countQuantity(1)],
  ])
  const cls = storageClassOf(pvc)
  if (cls) out.set(`${cls}${STORAGE_CLASS_SUFFIX}persistentvolumeclaims`, countQuantity(1))
  const storage = storageUsage(pvc)
  if (storage) {
    out.set('requests.storage', storage)
    if (cls) out.set(`${cls}${STORAGE_CLASS_SUFFIX}requests.storage`, storage)
  }
  return out
}

function allocationChanged(a: V1PersistentVolumeClaim, b: V1PersistentVolumeClaim): boolean {
  const x = allocatedStorage(a)
  const y = allocatedStorage(b)
  return x === undefined || y === undefined ? x !== y : compareQuantities(x, y) !== 0
}

export function claimEvaluator(info: ResourceInfo): Evaluator {
  const countName = objectCountName(info)
  return {
    info,
    matchingResources: (input) => [
      ...intersect(input, [countName, ...claimResources]),
      ...input.filter((n) => claimResources.some((r) => n.endsWith(`${STORAGE_CLASS_SUFFIX}${r}`))),
    ],
    matchesScope: () => false,
    constraints: () => undefined,
    handles: (operation, subresource, obj, old) => {
      if (!subresource) return operation === 'create' || operation === 'update'
      return subresource === 'status' && old !== undefined && allocationChanged(old as V1PersistentVolumeClaim, obj as V1PersistentVolumeClaim)
    },
    usage: (obj) => claimUsage(obj as V1PersistentVolumeClaim, countName),
    replenishes: (old, cur) => allocationChanged(old as V1PersistentVolumeClaim, cur as V1PersistentVolumeClaim),
    stopsCountingAt: () => undefined,
  }
}
