// Quota scopes: which objects a scoped quota counts. `spec.scopes` are Exists requirements;
// `spec.scopeSelector` adds its own (PriorityClass In/NotIn/Exists/DoesNotExist, the others
// Exists only). An object is counted when it matches every one.
import type { V1Pod, V1PodAffinityTerm, V1ResourceQuota, V1WeightedPodAffinityTerm } from '@kubernetes/client-node'
import { podQOSClass } from '../api/qos.ts'

export interface ScopeRequirement {
  scopeName: string
  operator: string
  values?: string[]
}

/** A requirement nothing matches: what a malformed scope entry becomes. */
const NEVER: ScopeRequirement = { scopeName: '', operator: '' }

const strings = (raw: unknown): string[] | undefined => (Array.isArray(raw) && raw.every((v) => typeof v === 'string') ? raw : undefined)

function requirement(raw: unknown): ScopeRequirement {
  if (!raw || typeof raw !== 'object') return NEVER
  const { scopeName, operator, values } = raw as Record<string, unknown>
  if (typeof scopeName !== 'string' || typeof operator !== 'string') return NEVER
  if (values === undefined || values === null) return { scopeName, operator }
  const list = strings(values)
  return list ? { scopeName, operator, values: list } : NEVER
}

/**
 * The quota's scope requirements. The API server refuses a malformed scope when it decodes a
 * quota, so only one stored before it checked can hold one: such an entry becomes a
 * requirement nothing matches (the quota counts nothing) rather than an exception.
 */
export function quotaScopeRequirements(quota: V1ResourceQuota): ScopeRequirement[] {
  const spec = quota.spec as { scopes?: unknown; scopeSelector?: { matchExpressions?: unknown } | null } | undefined
  const scopes = spec?.scopes ?? []
  const fromScopes = strings(scopes)?.map((scopeName) => ({ scopeName, operator: 'Exists' })) ?? [NEVER]
  const selector = spec?.scopeSelector?.matchExpressions ?? []
  return [...fromScopes, ...(Array.isArray(selector) ? selector.map(requirement) : [NEVER])]
}

function isTerminating(pod: V1Pod): boolean {
  const deadline = pod.spec?.activeDeadlineSeconds
  return typeof deadline === 'number' && deadline >= 0
}

function isBestEffort(pod: V1Pod): boolean {
  return podQOSClass(pod.spec) === 'BestEffort'
}

const crossNamespaceTerm = (t: V1PodAffinityTerm | undefined): boolean => (t?.namespaces?.length ?? 0) > 0 || (t?.namespaceSelector !== undefined && t.namespaceSelector !== null)
const crossNamespaceWeighted = (terms: V1WeightedPodAffinityTerm[] | undefined): boolean => (terms ?? []).some((w) => crossNamespaceTerm(w.podAffinityTerm))

/** Pod (anti-)affinity that looks at other namespaces' pods. */
function usesCrossNamespacePodAffinity(pod: V1Pod): boolean {
  const affinity = pod.spec?.affinity
  for (const a of [affinity?.podAffinity, affinity?.podAntiAffinity]) {
    if (!a) continue
    if ((a.requiredDuringSchedulingIgnoredDuringExecution ?? []).some(crossNamespaceTerm)) return true
    if (crossNamespaceWeighted(a.preferredDuringSchedulingIgnoredDuringExecution)) return true
  }
  return false
}

/** A requirement on a value a pod may lack: label-selector semantics over `{scopeName: value}`. */
function matchesValue(req: ScopeRequirement, value: string | undefined): boolean {
  const present = value !== undefined && value !== ''
  switch (req.operator) {
    case 'In':
      return present && (req.values ?? []).includes(value)
    case 'NotIn':
      return !present || !(req.values ?? []).includes(value)
    case 'Exists':
      return present
    case 'DoesNotExist':
      return !present
    default:
      return false
  }
}

export function podMatchesScope(req: ScopeRequirement, pod: V1Pod): boolean {
  switch (req.scopeName) {
    case 'Terminating':
      return isTerminating(pod)
    case 'NotTerminating':
      return !isTerminating(pod)
    case 'BestEffort':
      return isBestEffort(pod)
    case 'NotBestEffort':
      return !isBestEffort(pod)
    case 'PriorityClass':
      return matchesValue(req, pod.spec?.priorityClassName)
    case 'CrossNamespacePodAffinity':
      return usesCrossNamespacePodAffinity(pod)
    default:
      return false
  }
}
