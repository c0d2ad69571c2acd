// Volumes, claims, classes and a cached-state view for the storage controllers' tests.
import type { V1Node, V1PersistentVolume, V1PersistentVolumeClaim, V1Pod, V1StorageClass } from '@kubernetes/client-node'
import type { Action } from '../../../src/controllers/actions.ts'
import type { BinderView } from '../../../src/controllers/persistentvolume/binder.ts'
import { claimClass, volumeClass } from '../../../src/api/storage.ts'

type Patch<T> = (o: T) => void

export function pv(name: string, size: string, patch: Patch<V1PersistentVolume> = () => {}): V1PersistentVolume {
  const v: V1PersistentVolume = {
    metadata: { name, uid: `uid-${name}`, resourceVersion: '10', labels: {}, annotations: {} },
    spec: { capacity: { storage: size }, accessModes: ['ReadWriteOnce'], persistentVolumeReclaimPolicy: 'Retain', volumeMode: 'Filesystem', hostPath: { path: `/srv/${name}` }, storageClassName: 'manual' },
    status: { phase: 'Available' },
  }
  patch(v)
  return v
}

export function pvc(name: string, size: string, patch: Patch<V1PersistentVolumeClaim> = () => {}): V1PersistentVolumeClaim {
  const c: V1PersistentVolumeClaim = {
    metadata: { name, namespace: 'default', uid: `uid-${name}`, resourceVersion: '20', annotations: {} },
    spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: size } }, storageClassName: 'manual', volumeMode: 'Filesystem' },
    status: { phase: 'Pending' },
  }
  patch(c)
  return c
}

export function storageClass(name: string, patch: Patch<V1StorageClass> = () => {}): V1StorageClass {
  const c: V1StorageClass = { metadata: { name }, provisioner: 'kubernetes.io/no-provisioner', reclaimPolicy: 'Delete', volumeBindingMode: 'Immediate' }
  patch(c)
  return c
}

export function node(name: string, annotations: Record<string, string> = {}): V1Node {
  return { metadata: { name, labels: { 'kubernetes.io/hostname': name }, annotations } }
}

export interface World {
  volumes?: V1PersistentVolume[]
  claims?: V1PersistentVolumeClaim[]
  classes?: V1StorageClass[]
  pods?: V1Pod[]
}

export function view(w: World): BinderView {
  const volumes = w.volumes ?? []
  const claims = w.claims ?? []
  const classes = w.classes ?? []
  return {
    volume: (name) => volumes.find((v) => v.metadata?.name === name),
    claim: (ns, name) => claims.find((c) => c.metadata?.namespace === ns && c.metadata?.name === name),
    candidates: (c) => volumes.filter((v) => volumeClass(v) === claimClass(c) || (v.spec?.claimRef?.namespace === c.metadata?.namespace && v.spec?.claimRef?.name === c.metadata?.name)),
    storageClass: (name) => classes.find((c) => c.metadata?.name === name),
    defaultClass: () => classes.find((c) => c.metadata?.annotations?.['storageclass.kubernetes.io/is-default-class'] === 'true'),
    unscheduledPodsUsing: (ns, claim) =>
      (w.pods ?? [])
        .filter((p) => p.metadata?.namespace === ns && !p.spec?.nodeName && p.spec?.volumes?.some((v) => v.persistentVolumeClaim?.claimName === claim))
        .map((p) => p.metadata!.name!),
  }
}

/** Actions as short lines: `update PersistentVolume/pv1 claimRef=default/data`, `event Normal WaitForFirstConsumer: …`. */
export function describe(actions: Action[]): string[] {
  return actions.map((a) => {
    switch (a.verb) {
      case 'update': {
        const o = a.object
        const parts = [`update ${a.info.kind}/${o.metadata?.name}`]
        if (a.info.kind === 'PersistentVolume') parts.push(`claimRef=${o.spec?.claimRef ? `${o.spec.claimRef.namespace}/${o.spec.claimRef.name}:${o.spec.claimRef.uid ?? ''}` : 'none'}`)
        if (a.info.kind === 'PersistentVolumeClaim') parts.push(`volumeName=${o.spec?.volumeName ?? ''}`, `class=${o.spec?.storageClassName ?? ''}`)
        const annotations = Object.keys(o.metadata?.annotations ?? {}).sort()
        if (annotations.length) parts.push(`annotations=${annotations.join(',')}`)
        if (o.metadata?.finalizers) parts.push(`finalizers=${o.metadata.finalizers.join(',')}`)
        return parts.join(' ')
      }
      case 'patch':
        return `patch ${a.info.kind}/${a.name}/${a.subresource ?? ''} ${JSON.stringify(a.patch)}`
      case 'event':
        return `event ${a.event.type} ${a.event.reason}: ${a.event.message}`
      case 'create':
        return `create ${a.info.kind}/${a.object.metadata?.name}${a.event ? ` (${a.event.reason}: ${a.event.message})` : ''}`
      case 'delete':
        return `delete ${a.info.kind}/${a.name} uid=${a.uid ?? ''}`
      default:
        return a.verb
    }
  })
}
