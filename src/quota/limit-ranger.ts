// The LimitRanger admission plugin's rules (plugin/pkg/admission/limitranger), pure: a
// LimitRange's Container defaults fill the requests and limits a container (or init
// container) leaves out, noted in the `kubernetes.io/limit-ranger` annotation; then every
// Container, Pod and PersistentVolumeClaim limit is checked, with upstream's messages.
import type { V1Container, V1LimitRange, V1LimitRangeItem, V1PersistentVolumeClaim, V1Pod } from '@kubernetes/client-node'
import { formatQuantity, quantityMilliValue, quantityValue, type Quantity } from '../api/resource-quantity.ts'
import { podLimits, podRequests } from './pod-resources.ts'
import { readResourceList, type ResourceList } from './resource-list.ts'

export const LIMIT_RANGER_ANNOTATION = 'kubernetes.io/limit-ranger'

/** int64's largest value / 1000: beyond it Quantity.MilliValue() would overflow. */
const MAX_MILLI_VALUE = 9_223_372_036_854_775n

type Resources = { requests?: Record<string, string>; limits?: Record<string, string> }

/** `default` in JSON; the client-node model names it `_default`. */
function defaultLimits(item: V1LimitRangeItem): Record<string, string> | undefined {
  return (item as { default?: Record<string, string> }).default
}

/** The items that are objects: only a LimitRange stored before the API server checked can hold others. */
function items(lr: V1LimitRange): V1LimitRangeItem[] {
  const limits: unknown = lr.spec?.limits
  return Array.isArray(limits) ? limits.filter((item): item is V1LimitRangeItem => item !== null && typeof item === 'object' && !Array.isArray(item)) : []
}

/** The Container item's `default` (limits) and `defaultRequest` (requests); a later item's value wins. */
function containerDefaults(lr: V1LimitRange): { limits: ResourceList; requests: ResourceList } {
  const limits: ResourceList = new Map()
  const requests: ResourceList = new Map()
  for (const item of items(lr)) {
    if (item.type !== 'Container') continue
    for (const [k, v] of readResourceList(item.defaultRequest)) requests.set(k, v)
    for (const [k, v] of readResourceList(defaultLimits(item))) limits.set(k, v)
  }
  return { limits, requests }
}

function fill(target: Record<string, string> | undefined, defaults: ResourceList): { filled: Record<string, string> | undefined; set: string[] } {
  const set: string[] = []
  let filled = target
  for (const [name, q] of defaults) {
    if (filled && Object.hasOwn(filled, name)) continue
    filled = { ...(filled ?? {}), [name]: formatQuantity(q) }
    set.push(name)
  }
  return { filled, set: set.sort() }
}

function mergeContainer(c: V1Container, defaults: { limits: ResourceList; requests: ResourceList }, what: string): string[] {
  const resources = (c.resources ?? {}) as Resources
  const limits = fill(resources.limits, defaults.limits)
  const requests = fill(resources.requests, defaults.requests)
  if (limits.set.length === 0 && requests.set.length === 0) return []
  c.resources = { ...c.resources, ...(limits.filled ? { limits: limits.filled } : {}), ...(requests.filled ? { requests: requests.filled } : {}) }
  const notes: string[] = []
  if (requests.set.length > 0) notes.push(`${requests.set.join(', ')} request for ${what} ${c.name}`)
  if (limits.set.length > 0) notes.push(`${limits.set.join(', ')} limit for ${what} ${c.name}`)
  return notes
}

/**
 * Fills in the LimitRange's Container defaults (PodMutateLimitFunc); returns whether
 * anything was set. The annotation lists what this LimitRange set, replacing the note of an
 * earlier one.
 */
export function applyLimitRangeDefaults(lr: V1LimitRange, pod: V1Pod): boolean {
  const defaults = containerDefaults(lr)
  if (defaults.limits.size === 0 && defaults.requests.size === 0) return false
  const notes: string[] = []
  for (const c of pod.spec?.containers ?? []) notes.push(...mergeContainer(c, defaults, 'container'))
  for (const c of pod.spec?.initContainers ?? []) notes.push(...mergeContainer(c, defaults, 'init container'))
  if (notes.length === 0) return false
  pod.metadata = { ...pod.metadata, annotations: { ...(pod.metadata?.annotations ?? {}), [LIMIT_RANGER_ANNOTATION]: `LimitRanger plugin set: ${notes.join('; ')}` } }
  return true
}

/** Request, limit and enforced value at one precision: thousandths when none would overflow them. */
function comparable(request: Quantity | undefined, limit: Quantity | undefined, enforced: Quantity): [bigint, bigint, bigint] {
  const values = [request, limit, enforced].map((q) => (q ? quantityValue(q) : 0n))
  if (values.every((v) => v <= MAX_MILLI_VALUE)) return [request, limit, enforced].map((q) => (q ? quantityMilliValue(q) : 0n)) as [bigint, bigint, bigint]
  return values as [bigint, bigint, bigint]
}

const show = formatQuantity

function minConstraint(type: string, name: string, enforced: Quantity, requests: ResourceList, limits: ResourceList): string | undefined {
  const req = requests.get(name)
  const lim = limits.get(name)
  const [r, l, e] = comparable(req, lim, enforced)
  if (!req) return `minimum ${name} usage per ${type} is ${show(enforced)}.  No request is specified`
  if (r < e) return `minimum ${name} usage per ${type} is ${show(enforced)}, but request is ${show(req)}`
  if (lim && l < e) return `minimum ${name} usage per ${type} is ${show(enforced)}, but limit is ${show(lim)}`
  return undefined
}

function maxConstraint(type: string, name: string, enforced: Quantity, requests: ResourceList, limits: ResourceList): string | undefined {
  const req = requests.get(name)
  const lim = limits.get(name)
  const [r, l, e] = comparable(req, lim, enforced)
  if (!lim) return `maximum ${name} usage per ${type} is ${show(enforced)}.  No limit is specified`
  if (l > e) return `maximum ${name} usage per ${type} is ${show(enforced)}, but limit is ${show(lim)}`
  if (req && r > e) return `maximum ${name} usage per ${type} is ${show(enforced)}, but request is ${show(req)}`
  return undefined
}

/** For claims, whose limits are not user input: the request is held to the maximum. */
function maxRequestConstraint(type: string, name: string, enforced: Quantity, requests: ResourceList): string | undefined {
  const req = requests.get(name)
  const [r, , e] = comparable(req, undefined, enforced)
  if (!req) return `maximum ${name} usage per ${type} is ${show(enforced)}.  No request is specified`
  if (r > e) return `maximum ${name} usage per ${type} is ${show(enforced)}, but request is ${show(req)}`
  return undefined
}

function ratioConstraint(type: string, name: string, enforced: Quantity, requests: ResourceList, limits: ResourceList): string | undefined {
  const req = requests.get(name)
  const lim = limits.get(name)
  const [r, l] = comparable(req, lim, enforced)
  if (!req || r === 0n) return `${name} max limit to request ratio per ${type} is ${show(enforced)}, but no request is specified or request is 0`
  if (!lim || l === 0n) return `${name} max limit to request ratio per ${type} is ${show(enforced)}, but no limit is specified or limit is 0`
  const ratio = Number(l) / Number(r)
  const small = quantityValue(enforced) <= MAX_MILLI_VALUE
  const observed = small ? ratio * 1000 : ratio
  const allowed = Number(small ? quantityMilliValue(enforced) : quantityValue(enforced))
  if (observed > allowed) return `${name} max limit to request ratio per ${type} is ${show(enforced)}, but provided ratio is ${ratio.toFixed(6)}`
  return undefined
}

function sorted(list: ResourceList): [string, Quantity][] {
  return [...list].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
}

function checkItem(item: V1LimitRangeItem, type: string, requests: ResourceList, limits: ResourceList): string[] {
  const errs: (string | undefined)[] = []
  for (const [name, q] of sorted(readResourceList(item.min))) errs.push(minConstraint(type, name, q, requests, limits))
  for (const [name, q] of sorted(readResourceList(item.max))) errs.push(maxConstraint(type, name, q, requests, limits))
  for (const [name, q] of sorted(readResourceList(item.maxLimitRequestRatio))) errs.push(ratioConstraint(type, name, q, requests, limits))
  return errs.filter((e): e is string => e !== undefined)
}

/** What in the pod breaks the LimitRange's Container and Pod limits (PodValidateLimitFunc). */
export function podLimitViolations(lr: V1LimitRange, pod: V1Pod): string[] {
  const errs: string[] = []
  for (const item of items(lr)) {
    if (item.type === 'Container') {
      for (const c of [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])]) {
        errs.push(...checkItem(item, 'Container', readResourceList(c.resources?.requests), readResourceList(c.resources?.limits)))
      }
    }
    if (item.type === 'Pod') errs.push(...checkItem(item, 'Pod', podRequests(pod, false), podLimits(pod, false)))
  }
  return errs
}

/** What in the claim's storage request breaks the LimitRange's PersistentVolumeClaim limits. */
export function claimLimitViolations(lr: V1LimitRange, pvc: V1PersistentVolumeClaim): string[] {
  const requests = readResourceList(pvc.spec?.resources?.requests)
  const errs: (string | undefined)[] = []
  for (const item of items(lr)) {
    if (item.type !== 'PersistentVolumeClaim') continue
    for (const [name, q] of sorted(readResourceList(item.min))) errs.push(minConstraint('PersistentVolumeClaim', name, q, requests, new Map()))
    for (const [name, q] of sorted(readResourceList(item.max))) errs.push(maxRequestConstraint('PersistentVolumeClaim', name, q, requests))
  }
  return errs.filter((e): e is string => e !== undefined)
}

/** Several errors as one message, as apimachinery's aggregate prints them: `[a, b]`, repeats once. */
export function aggregateMessage(errs: readonly string[]): string {
  const unique = [...new Set(errs)]
  return unique.length === 1 ? unique[0] : `[${unique.join(', ')}]`
}
