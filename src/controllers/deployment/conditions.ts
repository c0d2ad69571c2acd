// Deployment status conditions (deploymentutil.SetDeploymentCondition semantics).
import type { V1DeploymentCondition, V1DeploymentStatus } from '@kubernetes/client-node'

export function getCondition(status: V1DeploymentStatus, type: string): V1DeploymentCondition | undefined {
  return status.conditions?.find((c) => c.type === type)
}

export function newCondition(type: string, status: 'True' | 'False' | 'Unknown', reason: string, message: string, now: Date): V1DeploymentCondition {
  const t = now.toISOString().replace(/\.\d{3}Z$/, 'Z') as unknown as Date
  return { type, status, reason, message, lastUpdateTime: t, lastTransitionTime: t }
}

/** Same status and reason: left alone. Same status: keeps the old lastTransitionTime. */
export function setCondition(status: V1DeploymentStatus, c: V1DeploymentCondition): void {
  const current = getCondition(status, c.type)
  if (current && current.status === c.status && current.reason === c.reason) return
  if (current && current.status === c.status) c.lastTransitionTime = current.lastTransitionTime
  status.conditions = [...(status.conditions ?? []).filter((x) => x.type !== c.type), c]
}

export function removeCondition(status: V1DeploymentStatus, type: string): void {
  if (status.conditions) status.conditions = status.conditions.filter((x) => x.type !== type)
}
