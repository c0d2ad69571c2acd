// Annotations the Deployment controller keeps on its ReplicaSets and on itself.
import type { V1Deployment, V1ReplicaSet } from '@kubernetes/client-node'

export const revisionAnnotation = 'deployment.kubernetes.io/revision'
export const revisionHistoryAnnotation = 'deployment.kubernetes.io/revision-history'
export const desiredReplicasAnnotation = 'deployment.kubernetes.io/desired-replicas'
export const maxReplicasAnnotation = 'deployment.kubernetes.io/max-replicas'

const notCopied = new Set([
  'kubectl.kubernetes.io/last-applied-configuration',
  revisionAnnotation,
  revisionHistoryAnnotation,
  desiredReplicasAnnotation,
  maxReplicasAnnotation,
  'deprecated.deployment.rollback.to',
])

export function revisionOf(obj: { metadata?: { annotations?: Record<string, string> } }): number {
  const v = obj.metadata?.annotations?.[revisionAnnotation]
  return v !== undefined && /^\d+$/.test(v) ? Number(v) : 0
}

export function intAnnotation(rs: V1ReplicaSet, key: string): number | undefined {
  const v = rs.metadata?.annotations?.[key]
  return v !== undefined && /^-?\d+$/.test(v) ? Number(v) : undefined
}

function annotationsOf(rs: V1ReplicaSet): Record<string, string> {
  rs.metadata ??= {}
  rs.metadata.annotations ??= {}
  return rs.metadata.annotations
}

/** Deployment annotations onto the RS, the new revision (if higher), replica annotations for a new RS. */
export function setNewReplicaSetAnnotations(d: V1Deployment, rs: V1ReplicaSet, newRevision: number, exists: boolean, surge: number): boolean {
  const ann = annotationsOf(rs)
  let changed = false
  for (const [k, v] of Object.entries(d.metadata?.annotations ?? {})) {
    if (notCopied.has(k) || ann[k] === v) continue
    ann[k] = v
    changed = true
  }
  const old = ann[revisionAnnotation]
  if (revisionOf(rs) < newRevision) {
    ann[revisionAnnotation] = String(newRevision)
    changed = true
    if (old !== undefined && old !== '') {
      ann[revisionHistoryAnnotation] = ann[revisionHistoryAnnotation] ? `${ann[revisionHistoryAnnotation]},${old}` : old
    }
  }
  if (!exists && setReplicasAnnotations(rs, d.spec?.replicas ?? 1, (d.spec?.replicas ?? 1) + surge)) changed = true
  return changed
}

export function setReplicasAnnotations(rs: V1ReplicaSet, desired: number, max: number): boolean {
  const ann = annotationsOf(rs)
  if (ann[desiredReplicasAnnotation] === String(desired) && ann[maxReplicasAnnotation] === String(max)) return false
  ann[desiredReplicasAnnotation] = String(desired)
  ann[maxReplicasAnnotation] = String(max)
  return true
}
