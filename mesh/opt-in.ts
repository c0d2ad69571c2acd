// Which pods are in the mesh, and in which mode their namespace runs it (pure).
//
// - A namespace opts in with the label `weft.dev/mesh: enabled`.
// - A pod opts in on its own with the annotation `weft.dev/mesh: enabled`, or out of its
//   namespace's mesh with `weft.dev/mesh: disabled`. Any other value is no opinion (the
//   namespace decides), so a typo never silently takes a pod out.
// - hostNetwork pods are never meshed: their traffic is the node's own.
// - Finished pods (Succeeded, Failed) hold no identity.
// - `weft.dev/mesh-mode` on the namespace: STRICT refuses plaintext to its meshed pods (and,
//   from them, to destinations outside the mesh); PERMISSIVE (the default) allows both.
import type { V1Namespace, V1Pod } from '@kubernetes/client-node'
import type { WorkloadIdentity } from './identity.ts'

export const MESH_LABEL = 'weft.dev/mesh'
export const MESH_ANNOTATION = 'weft.dev/mesh'
export const MESH_MODE_LABEL = 'weft.dev/mesh-mode'
export const ENABLED = 'enabled'
export const DISABLED = 'disabled'

export type MeshMode = 'STRICT' | 'PERMISSIVE'

export function namespaceMeshed(ns: V1Namespace | undefined): boolean {
  return ns?.metadata?.labels?.[MESH_LABEL] === ENABLED
}

export function meshMode(ns: V1Namespace | undefined): MeshMode {
  return ns?.metadata?.labels?.[MESH_MODE_LABEL] === 'STRICT' ? 'STRICT' : 'PERMISSIVE'
}

export function podMeshed(pod: V1Pod, ns: V1Namespace | undefined): boolean {
  if (pod.spec?.hostNetwork === true) return false
  if (pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed') return false
  const own = pod.metadata?.annotations?.[MESH_ANNOTATION]
  if (own === ENABLED) return true
  if (own === DISABLED) return false
  return namespaceMeshed(ns)
}

/** The identities a node proxy holds: one per service account its meshed pods run as, sorted. */
export function identitiesOf(pods: readonly V1Pod[], namespaceOf: (name: string) => V1Namespace | undefined, trustDomain: string): WorkloadIdentity[] {
  const seen = new Map<string, WorkloadIdentity>()
  for (const pod of pods) {
    const namespace = pod.metadata?.namespace
    if (!namespace || !podMeshed(pod, namespaceOf(namespace))) continue
    const serviceAccount = pod.spec?.serviceAccountName || 'default'
    seen.set(`${namespace}/${serviceAccount}`, { trustDomain, namespace, serviceAccount })
  }
  return [...seen.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, id]) => id)
}
