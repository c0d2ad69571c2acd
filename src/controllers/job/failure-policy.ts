// A failed pod against the Job's pod failure policy (upstream's matchPodFailurePolicy): the
// first rule whose exit codes or pod conditions match decides.
import type { V1ContainerStatus, V1PodFailurePolicy, V1PodFailurePolicyOnExitCodesRequirement, V1Pod } from '@kubernetes/client-node'

export type FailureAction = 'FailJob' | 'FailIndex' | 'Ignore' | 'Count'

export interface FailureMatch {
  /** Set when a FailJob rule matched: the reason the Job fails. */
  failJobMessage?: string
  /** Whether the failure counts towards backoffLimit (and backoffLimitPerIndex). */
  counts: boolean
  action?: FailureAction
}

function matchesExitCode(code: number, req: V1PodFailurePolicyOnExitCodesRequirement): boolean {
  const listed = (req.values ?? []).includes(code)
  if (req.operator === 'In') return listed
  if (req.operator === 'NotIn') return !listed
  return false
}

function terminatedMatching(statuses: V1ContainerStatus[] | undefined, req: V1PodFailurePolicyOnExitCodesRequirement): V1ContainerStatus | undefined {
  return (statuses ?? []).find((s) => {
    const code = s.state?.terminated?.exitCode
    if (code === undefined || code === 0) return false
    if (req.containerName !== undefined && req.containerName !== null && req.containerName !== s.name) return false
    return matchesExitCode(code, req)
  })
}

export function matchPodFailurePolicy(policy: V1PodFailurePolicy | undefined, pod: V1Pod): FailureMatch {
  if (!policy) return { counts: true }
  const ns = pod.metadata?.namespace
  const name = pod.metadata?.name
  for (const [index, rule] of (policy.rules ?? []).entries()) {
    let what: string | undefined
    if (rule.onExitCodes) {
      const s = terminatedMatching(pod.status?.containerStatuses, rule.onExitCodes) ?? terminatedMatching(pod.status?.initContainerStatuses, rule.onExitCodes)
      if (s) what = `Container ${s.name} for pod ${ns}/${name} failed with exit code ${s.state?.terminated?.exitCode}`
    } else if (rule.onPodConditions) {
      const c = (pod.status?.conditions ?? []).find((cond) => rule.onPodConditions!.some((p) => p.type === cond.type && p.status === cond.status))
      if (c) what = `Pod ${ns}/${name} has condition ${c.type}`
    }
    if (what === undefined) continue
    switch (rule.action) {
      case 'Ignore':
        return { counts: false, action: 'Ignore' }
      case 'FailIndex':
        return { counts: true, action: 'FailIndex' }
      case 'Count':
        return { counts: true, action: 'Count' }
      case 'FailJob':
        return { failJobMessage: `${what} matching FailJob rule at index ${index}`, counts: true, action: 'FailJob' }
    }
  }
  return { counts: true }
}
