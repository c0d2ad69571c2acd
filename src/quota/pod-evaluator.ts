// Quota for pods (k8s.io/kubernetes pkg/quota/v1/evaluator/core/pods.go): `count/pods`
// always; `pods` and the compute resources (requests and limits of cpu, memory,
// ephemeral-storage, hugepages, extended resources) while the pod is not terminal and not
// past the grace period of its deletion.
import type { V1Pod } from '@kubernetes/client-node'
import type { ResourceInfo } from '../api/registry.ts'
import { countQuantity } from '../api/resource-quantity.ts'
import { HUGEPAGES_PREFIX, isExtendedResourceName, isNativeResource, REQUESTS_PREFIX } from '../api/resource-names.ts'
import { intersect, objectCountName, type Evaluator } from './evaluator.ts'
import { podLimits, podRequests } from './pod-resources.ts'
import { addLists, readResourceList, type ResourceList } from './resource-list.ts'
import { podMatchesScope } from './scopes.ts'

const computeNames = ['cpu', 'memory', 'ephemeral-storage'] as const
/** Quotas on these require every container to state them (upstream keeps this for compatibility). */
const mustBeStated = new Set(['cpu', 'memory', 'requests.cpu', 'requests.memory', 'limits.cpu', 'limits.memory'])
const requestsHugePages = `${REQUESTS_PREFIX}${HUGEPAGES_PREFIX}`

/** What requests and limits amount to in quota names (podComputeUsageHelper). */
function computeUsage(requests: ResourceList, limits: ResourceList): ResourceList {
  const out: ResourceList = new Map([['pods', countQuantity(1)]])
  for (const name of computeNames) {
    const request = requests.get(name)
    if (request) {
      out.set(name, request)
      out.set(`${REQUESTS_PREFIX}${name}`, request)
    }
    const limit = limits.get(name)
    if (limit) out.set(`limits.${name}`, limit)
  }
  for (const [name, request] of requests) {
    if (name.startsWith(HUGEPAGES_PREFIX)) {
      out.set(name, request)
      out.set(`${REQUESTS_PREFIX}${name}`, request)
    }
    // Extended resources cannot be overcommitted: only their requests are quota'd.
    if (isExtendedResourceName(name)) out.set(`${REQUESTS_PREFIX}${name}`, request)
  }
  return out
}

/** When a deleted pod stops counting: its deletionTimestamp plus its grace period. */
function deletionExpiry(pod: V1Pod): number | undefined {
  const ts = pod.metadata?.deletionTimestamp
  const grace = pod.metadata?.deletionGracePeriodSeconds
  if (ts === undefined || ts === null || grace === undefined || grace === null) return undefined
  return new Date(ts as unknown as string).getTime() + grace * 1000
}

/** Whether a pod counts for the compute quota (QuotaV1Pod): not Succeeded or Failed, not stuck past its deletion. */
function podCounts(pod: V1Pod, now: number): boolean {
  const phase = pod.status?.phase
  if (phase === 'Succeeded' || phase === 'Failed') return false
  const expiry = deletionExpiry(pod)
  return expiry === undefined || now <= expiry
}

function podUsage(pod: V1Pod, now: number, countName: string): ResourceList {
  const count: ResourceList = new Map([[countName, countQuantity(1)]])
  if (!podCounts(pod, now)) return count
  return addLists(count, computeUsage(podRequests(pod, true), podLimits(pod, true)))
}

function missingStatements(pod: V1Pod, required: readonly string[]): string | undefined {
  const needed = required.filter((n) => mustBeStated.has(n))
  if (needed.length === 0) return undefined
  const missing = new Map<string, Set<string>>()
  for (const c of [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])]) {
    const stated = computeUsage(readResourceList(c.resources?.requests), readResourceList(c.resources?.limits))
    for (const name of needed) {
      if (stated.has(name)) continue
      if (!missing.has(name)) missing.set(name, new Set())
      missing.get(name)!.add(c.name)
    }
  }
  if (missing.size === 0) return undefined
  const parts = [...missing.keys()].sort().map((name) => `${name} for: ${[...missing.get(name)!].sort().join(',')}`)
  return `must specify ${parts.join('; ')}`
}

export function podEvaluator(info: ResourceInfo): Evaluator {
  const countName = objectCountName(info)
  const fixed = [countName, 'cpu', 'memory', 'ephemeral-storage', 'requests.cpu', 'requests.memory', 'requests.ephemeral-storage', 'limits.cpu', 'limits.memory', 'limits.ephemeral-storage', 'pods']
  return {
    info,
    matchingResources: (input) => [
      ...intersect(input, fixed),
      ...input.filter((n) => n.startsWith(HUGEPAGES_PREFIX) || n.startsWith(requestsHugePages) || (!isNativeResource(n) && n.startsWith(REQUESTS_PREFIX))),
    ],
    matchesScope: (req, obj) => podMatchesScope(req, obj as V1Pod),
    constraints: (required, obj) => missingStatements(obj as V1Pod, required),
    handles: (operation, subresource) => operation === 'create' && !subresource,
    usage: (obj, now) => podUsage(obj as V1Pod, now, countName),
    replenishes: (old, cur, now) => podCounts(old as V1Pod, now) && !podCounts(cur as V1Pod, now),
    stopsCountingAt: (obj) => {
      const pod = obj as V1Pod
      const phase = pod.status?.phase
      return phase === 'Succeeded' || phase === 'Failed' ? undefined : deletionExpiry(pod)
    },
  }
}
