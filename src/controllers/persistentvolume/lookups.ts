// Storage lookups over the shared informers, for the storage controllers and the scheduler:
// claims and volumes by key, classes by name, and the volumes a claim could bind (those of
// its class and those pre-bound to it), through indices rather than walks.
import type { V1PersistentVolume, V1PersistentVolumeClaim, V1Pod, V1StorageClass } from '@kubernetes/client-node'
import { resources, type ResourceInfo } from '../../api/registry.ts'
import { claimClass, volumeClass } from '../../api/storage.ts'
import type { Informer } from '../../client/index.ts'
import { keyOf, type InformerFactory } from '../controller.ts'
import { ensureIndex } from '../selector-index.ts'
import { POD_CLAIMS_INDEX, podClaimKeys } from './pod-claims.ts'

const kind = (k: string): ResourceInfo => resources.find((r) => r.kind === k)!

const VOLUME_CLASS_INDEX = 'storageClass'
const VOLUME_CLAIM_INDEX = 'claimRef'

export interface StorageInformers {
  pods: Informer<V1Pod>
  claims: Informer<V1PersistentVolumeClaim>
  volumes: Informer<V1PersistentVolume>
  classes: Informer<V1StorageClass>
  claim(namespace: string, name: string): V1PersistentVolumeClaim | undefined
  volume(name: string): V1PersistentVolume | undefined
  storageClass(name: string): V1StorageClass | undefined
  candidates(pvc: V1PersistentVolumeClaim): V1PersistentVolume[]
  /** The pods that use the claim `<namespace>/<name>`. */
  podsUsing(claimKey: string): V1Pod[]
}

export function storageInformers(inf: InformerFactory): StorageInformers {
  const pods = inf.for<V1Pod>(kind('Pod'))
  const claims = inf.for<V1PersistentVolumeClaim>(kind('PersistentVolumeClaim'))
  const volumes = inf.for<V1PersistentVolume>(kind('PersistentVolume'))
  const classes = inf.for<V1StorageClass>(kind('StorageClass'))
  ensureIndex(pods, POD_CLAIMS_INDEX, podClaimKeys)
  ensureIndex(volumes, VOLUME_CLASS_INDEX, (v) => [volumeClass(v)])
  ensureIndex(volumes, VOLUME_CLAIM_INDEX, (v) => (v.spec?.claimRef ? [`${v.spec.claimRef.namespace}/${v.spec.claimRef.name}`] : []))
  return {
    pods,
    claims,
    volumes,
    classes,
    claim: (ns, name) => claims.get(`${ns}/${name}`),
    volume: (name) => volumes.get(name),
    storageClass: (name) => classes.get(name),
    candidates: (pvc) => [...new Set([...volumes.byIndex(VOLUME_CLASS_INDEX, claimClass(pvc)), ...volumes.byIndex(VOLUME_CLAIM_INDEX, keyOf(pvc))])],
    podsUsing: (claimKey) => pods.byIndex(POD_CLAIMS_INDEX, claimKey),
  }
}
