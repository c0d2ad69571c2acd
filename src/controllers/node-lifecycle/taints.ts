// Taints and tolerations as the scheduler and the taint manager read them.
import type { V1Taint, V1Toleration } from '@kubernetes/client-node'

export const TAINT_NOT_READY = 'node.kubernetes.io/not-ready'
export const TAINT_UNREACHABLE = 'node.kubernetes.io/unreachable'
export const TAINT_UNSCHEDULABLE = 'node.kubernetes.io/unschedulable'
export const TAINT_MEMORY_PRESSURE = 'node.kubernetes.io/memory-pressure'
export const TAINT_DISK_PRESSURE = 'node.kubernetes.io/disk-pressure'
export const TAINT_PID_PRESSURE = 'node.kubernetes.io/pid-pressure'
export const TAINT_NETWORK_UNAVAILABLE = 'node.kubernetes.io/network-unavailable'

/** Upstream `Toleration.ToleratesTaint`. */
export function toleratesTaint(toleration: V1Toleration, taint: V1Taint): boolean {
  if (toleration.effect && toleration.effect !== taint.effect) return false
  if (toleration.key && toleration.key !== taint.key) return false
  const op = toleration.operator ?? 'Equal'
  if (op === 'Exists') return true
  if (op === 'Equal') return (toleration.value ?? '') === (taint.value ?? '')
  return false
}

export function sameTaint(a: V1Taint, b: V1Taint): boolean {
  return a.key === b.key && a.effect === b.effect
}
