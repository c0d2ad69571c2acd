// Taint/toleration matching exactly as k8s.io/api/core/v1 Toleration.ToleratesTaint.
import type { V1Taint, V1Toleration } from '@kubernetes/client-node'

export function toleratesTaint(t: V1Toleration, taint: V1Taint): boolean {
  if (t.effect && t.effect !== taint.effect) return false
  if (t.key && t.key !== taint.key) return false
  switch (t.operator ?? '') {
    case '':
    case 'Equal':
      return (t.value ?? '') === (taint.value ?? '')
    case 'Exists':
      return true
    default:
      return false
  }
}

export function toleratesAny(tolerations: readonly V1Toleration[], taint: V1Taint): boolean {
  for (const t of tolerations) if (toleratesTaint(t, taint)) return true
  return false
}

/** The first taint (in node order) that `filter` selects and no toleration tolerates. */
export function findUntoleratedTaint(
  taints: readonly V1Taint[],
  tolerations: readonly V1Toleration[],
  filter: (t: V1Taint) => boolean,
): V1Taint | undefined {
  for (const taint of taints) if (filter(taint) && !toleratesAny(tolerations, taint)) return taint
  return undefined
}

export function isDoNotSchedule(t: V1Taint): boolean {
  return t.effect === 'NoSchedule' || t.effect === 'NoExecute'
}

export function isPreferNoSchedule(t: V1Taint): boolean {
  return t.effect === 'PreferNoSchedule'
}

export function taintText(t: V1Taint): string {
  return `{${t.key}: ${t.value ?? ''}}`
}
