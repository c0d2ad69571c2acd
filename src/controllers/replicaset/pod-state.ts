// Pod predicates shared by the workload controllers (k8s.io/kubernetes/pkg/api/v1/pod).
import type { V1Pod } from '@kubernetes/client-node'

/** Milliseconds since the epoch of a timestamp that is a string on the wire or a Date. */
export function toMillis(t: Date | string | undefined | null): number | undefined {
  if (t === undefined || t === null) return undefined
  const ms = typeof t === 'string' ? Date.parse(t) : t.getTime()
  return Number.isNaN(ms) ? undefined : ms
}

/** Not terminal and not being deleted: counts towards a controller's replicas. */
export function isPodActive(pod: V1Pod): boolean {
  const phase = pod.status?.phase
  return phase !== 'Succeeded' && phase !== 'Failed' && !pod.metadata?.deletionTimestamp
}

export function isPodReady(pod: V1Pod): boolean {
  return pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false
}

/** When the pod last became Ready, if it is Ready. */
export function podReadySince(pod: V1Pod): number | undefined {
  const c = pod.status?.conditions?.find((c) => c.type === 'Ready' && c.status === 'True')
  return c ? toMillis(c.lastTransitionTime as Date | string | undefined) : undefined
}

/** Ready for longer than `minReadySeconds` (upstream compares strictly: Add(min).Before(now)). */
export function isPodAvailable(pod: V1Pod, minReadySeconds: number, now: Date): boolean {
  if (!isPodReady(pod)) return false
  if (minReadySeconds <= 0) return true
  const since = podReadySince(pod)
  return since !== undefined && since + minReadySeconds * 1000 < now.getTime()
}
