// maxSurge/maxUnavailable resolution (deploymentutil.ResolveFenceposts).
import type { IntOrString, V1Deployment } from '@kubernetes/client-node'

/** An int, or a percentage of `total` rounded up or down. */
export function scaledValue(v: IntOrString | undefined, total: number, roundUp: boolean): number {
  if (v === undefined) return 0
  if (typeof v === 'number') return v
  const m = /^(\d+)%$/.exec(v)
  if (!m) return /^\d+$/.test(v) ? Number(v) : 0
  const exact = (Number(m[1]) * total) / 100
  return roundUp ? Math.ceil(exact) : Math.floor(exact)
}

export function isRollingUpdate(d: V1Deployment): boolean {
  return (d.spec?.strategy?.type ?? 'RollingUpdate') === 'RollingUpdate'
}

export function desiredReplicas(d: V1Deployment): number {
  return d.spec?.replicas ?? 1
}

/** [surge, unavailable]; both zero becomes unavailable 1, as upstream. */
export function resolveFenceposts(d: V1Deployment): [number, number] {
  const ru = d.spec?.strategy?.rollingUpdate
  const replicas = desiredReplicas(d)
  const surge = scaledValue(ru?.maxSurge ?? '25%', replicas, true)
  const unavailable = scaledValue(ru?.maxUnavailable ?? '25%', replicas, false)
  if (surge === 0 && unavailable === 0) return [0, 1]
  return [surge, unavailable]
}

export function maxSurge(d: V1Deployment): number {
  return isRollingUpdate(d) ? resolveFenceposts(d)[0] : 0
}

export function maxUnavailable(d: V1Deployment): number {
  const replicas = desiredReplicas(d)
  if (!isRollingUpdate(d) || replicas === 0) return 0
  return Math.min(resolveFenceposts(d)[1], replicas)
}
