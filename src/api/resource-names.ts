// Which resource names mean what (k8s.io/kubernetes pkg/apis/core/helper): the standard
// names, native versus extended resources, hugepages, integer-valued names, and which
// quota scopes may apply to which resources.
import { isQualifiedName } from './names.ts'

export const HUGEPAGES_PREFIX = 'hugepages-'
export const REQUESTS_PREFIX = 'requests.'
const requestsHugePagesPrefix = `${REQUESTS_PREFIX}${HUGEPAGES_PREFIX}`

export const QUOTA_SCOPES = ['Terminating', 'NotTerminating', 'BestEffort', 'NotBestEffort', 'PriorityClass', 'CrossNamespacePodAffinity'] as const
export type QuotaScope = (typeof QUOTA_SCOPES)[number]

export const LIMIT_TYPES = ['Pod', 'Container', 'PersistentVolumeClaim'] as const

const standardContainerResources = new Set(['cpu', 'memory', 'ephemeral-storage'])
const computeQuotaResources = ['cpu', 'memory', 'ephemeral-storage', 'requests.cpu', 'requests.memory', 'requests.ephemeral-storage', 'limits.cpu', 'limits.memory', 'limits.ephemeral-storage']
const countedQuotaResources = ['pods', 'resourcequotas', 'services', 'replicationcontrollers', 'secrets', 'persistentvolumeclaims', 'configmaps', 'services.nodeports', 'services.loadbalancers']
const standardQuotaResources = new Set([...computeQuotaResources, 'requests.storage', ...countedQuotaResources])
const standardResources = new Set([...standardQuotaResources, 'storage'])
const integerResources = new Set(countedQuotaResources)
const podComputeQuotaResources = new Set(['cpu', 'memory', 'limits.cpu', 'limits.memory', 'requests.cpu', 'requests.memory'])

function isHugePageResourceName(name: string): boolean {
  return name.startsWith(HUGEPAGES_PREFIX)
}

function isQuotaHugePageResourceName(name: string): boolean {
  return name.startsWith(HUGEPAGES_PREFIX) || name.startsWith(requestsHugePagesPrefix)
}

/** In the `kubernetes.io/` namespace, where an unprefixed name also is. */
export function isNativeResource(name: string): boolean {
  return !name.includes('/') || name.includes('kubernetes.io/')
}

/** A resource outside `kubernetes.io/` (`example.com/gpu`) whose quota name `requests.<name>` is a qualified name. */
export function isExtendedResourceName(name: string): boolean {
  if (isNativeResource(name) || name.startsWith(REQUESTS_PREFIX)) return false
  return isQualifiedName(`${REQUESTS_PREFIX}${name}`).length === 0
}

/** Native and not hugepages: requests may be below limits. */
export function isOvercommitAllowed(name: string): boolean {
  return isNativeResource(name) && !isHugePageResourceName(name)
}

export function isStandardContainerResourceName(name: string): boolean {
  return standardContainerResources.has(name) || isHugePageResourceName(name)
}

export function isStandardResourceName(name: string): boolean {
  return standardResources.has(name) || isQuotaHugePageResourceName(name)
}

export function isStandardQuotaResourceName(name: string): boolean {
  return standardQuotaResources.has(name) || isQuotaHugePageResourceName(name)
}

/** Counted in whole units: quota values for these must be integers. */
export function isIntegerResourceName(name: string): boolean {
  return integerResources.has(name) || isExtendedResourceName(name)
}

export function isStandardQuotaScope(scope: string): scope is QuotaScope {
  return (QUOTA_SCOPES as readonly string[]).includes(scope)
}

/** Whether a quota of `scope` may limit `resource` (only pod resources take pod scopes). */
export function isScopeValidForResource(scope: string, resource: string): boolean {
  switch (scope) {
    case 'Terminating':
    case 'NotTerminating':
    case 'NotBestEffort':
    case 'PriorityClass':
    case 'CrossNamespacePodAffinity':
      return resource === 'pods' || podComputeQuotaResources.has(resource)
    case 'BestEffort':
      return resource === 'pods'
    default:
      return true
  }
}
