// ResourceQuota and LimitRange (ValidateResourceQuota*, ValidateLimitRange in
// pkg/apis/core/validation): resource names and quantities, quota scopes and scope
// selectors, and a LimitRange's min ≤ defaultRequest ≤ default ≤ max with ratios ≥ 1.
import { isQuantity, QuantityError } from '../quantity.ts'
import { compareQuantities, formatQuantity, quantityMilliValue, quantityValue, toQuantity, type Quantity } from '../resource-quantity.ts'
import { isNativeResource, isExtendedResourceName, isIntegerResourceName, isOvercommitAllowed, isScopeValidForResource, isStandardContainerResourceName, isStandardQuotaResourceName, isStandardQuotaScope, isStandardResourceName, LIMIT_TYPES } from '../resource-names.ts'
import { isQualifiedName } from '../names.ts'
import type { FieldCause, Obj } from './field.ts'
import { arr, duplicate, each, forbidden, invalid, isObj, obj, required, str } from './field.ts'

const MAX_MILLI_VALUE = 9_223_372_036_854_775n

/** The quantities of a resource list that parse, each with its path; the rest as causes. */
function quantities(list: unknown, path: string, errs: FieldCause[]): [string, Quantity, string][] {
  const out: [string, Quantity, string][] = []
  for (const [name, value] of Object.entries(obj(list))) {
    const p = `${path}[${name}]`
    if ((typeof value === 'string' || typeof value === 'number') && isQuantity(value)) out.push([name, toQuantity(value), p])
    else errs.push(invalid(p, value, new QuantityError(String(value)).message))
  }
  return out
}

function resourceName(name: string, path: string): FieldCause[] {
  const errs = each(path, name, isQualifiedName(name))
  if (errs.length > 0) return errs
  if (!name.includes('/') && !isStandardResourceName(name)) return [invalid(path, name, 'must be a standard resource type or fully qualified')]
  return []
}

function quotaResourceName(name: string, path: string): FieldCause[] {
  const errs = resourceName(name, path)
  if (!name.includes('/') && !isStandardQuotaResourceName(name)) errs.push(invalid(path, name, 'must be a standard resource for quota'))
  return errs
}

function containerResourceName(name: string, path: string): FieldCause[] {
  const errs = resourceName(name, path)
  if (!name.includes('/')) {
    if (!isStandardContainerResourceName(name)) errs.push(invalid(path, name, 'must be a standard resource for containers'))
  } else if (!isNativeResource(name) && !isExtendedResourceName(name)) {
    errs.push(invalid(path, name, "doesn't follow extended resource name standard"))
  }
  return errs
}

/** ValidateResourceQuantityValue: not negative, and whole for the names counted in units. */
function quantityCauses(name: string, q: Quantity, path: string): FieldCause[] {
  const errs: FieldCause[] = []
  if (q.nanos < 0n) errs.push(invalid(path, formatQuantity(q), 'must be greater than or equal to 0'))
  if (isIntegerResourceName(name) && quantityMilliValue(q) % 1000n !== 0n) errs.push(invalid(path, formatQuantity(q), 'must be an integer'))
  return errs
}

function quotaList(list: unknown, path: string): FieldCause[] {
  const errs: FieldCause[] = []
  for (const [name, q, p] of quantities(list, path, errs)) errs.push(...quotaResourceName(name, p), ...quantityCauses(name, q, p))
  return errs
}

const conflictingScopes = [
  ['BestEffort', 'NotBestEffort'],
  ['Terminating', 'NotTerminating'],
]

function validateScopes(spec: Obj, hardNames: string[]): FieldCause[] {
  const scopes = arr(spec.scopes).map(str)
  if (scopes.length === 0) return []
  const errs: FieldCause[] = []
  for (const scope of scopes) {
    if (!isStandardQuotaScope(scope)) errs.push(invalid('spec.scopes', scopes, 'unsupported scope'))
    for (const k of [...hardNames].sort()) {
      if (isStandardQuotaResourceName(k) && !isScopeValidForResource(scope, k)) errs.push(invalid('spec.scopes', scopes, 'unsupported scope applied to resource'))
    }
  }
  for (const pair of conflictingScopes) if (pair.every((s) => scopes.includes(s))) errs.push(invalid('spec.scopes', scopes, 'conflicting scopes'))
  return errs
}

const existsOnlyScopes = new Set(['BestEffort', 'NotBestEffort', 'Terminating', 'NotTerminating', 'CrossNamespacePodAffinity'])

function validateScopeSelector(spec: Obj, hardNames: string[]): FieldCause[] {
  if (spec.scopeSelector === undefined || spec.scopeSelector === null) return []
  const path = 'spec.scopeSelector.matchExpressions'
  const errs: FieldCause[] = []
  const seen = new Set<string>()
  for (const raw of arr(obj(spec.scopeSelector).matchExpressions)) {
    const req = obj(raw)
    const scope = str(req.scopeName)
    const op = str(req.operator)
    const values = arr(req.values)
    if (!isStandardQuotaScope(scope)) errs.push(invalid(`${path}.scopeName`, scope, 'unsupported scope'))
    for (const k of [...hardNames].sort()) {
      if (isStandardQuotaResourceName(k) && !isScopeValidForResource(scope, k)) errs.push(invalid(path, spec.scopeSelector, 'unsupported scope applied to resource'))
    }
    if (existsOnlyScopes.has(scope) && op !== 'Exists') {
      errs.push(invalid(`${path}.operator`, op, 'must be \'Exists\' when scope is any of ResourceQuotaScopeTerminating, ResourceQuotaScopeNotTerminating, ResourceQuotaScopeBestEffort, ResourceQuotaScopeNotBestEffort or ResourceQuotaScopeCrossNamespacePodAffinity'))
    }
    if (op === 'In' || op === 'NotIn') {
      if (values.length === 0) errs.push(required(`${path}.values`, "must be at least one value when `operator` is 'In' or 'NotIn' for scope selector"))
    } else if (op === 'Exists' || op === 'DoesNotExist') {
      if (values.length !== 0) errs.push(invalid(`${path}.values`, values, "must be no value when `operator` is 'Exist' or 'DoesNotExist' for scope selector"))
    } else {
      errs.push(invalid(`${path}.operator`, op, 'not a valid selector operator'))
    }
    seen.add(scope)
  }
  for (const pair of conflictingScopes) if (pair.every((s) => seen.has(s))) errs.push(invalid(path, arr(spec.scopes).map(str), 'conflicting scopes'))
  return errs
}

function validateQuotaSpec(spec: Obj): FieldCause[] {
  const hardNames = Object.keys(obj(spec.hard))
  return [...quotaList(spec.hard, 'spec.hard'), ...validateScopes(spec, hardNames), ...validateScopeSelector(spec, hardNames)]
}

export function validateResourceQuotaStatus(status: Obj): FieldCause[] {
  return [...quotaList(status.hard, 'status.hard'), ...quotaList(status.used, 'status.used')]
}

/** Create and update (the spec; scopes are fixed once made). */
export function validateResourceQuota(quota: Obj, old: Obj | undefined): FieldCause[] {
  const spec = obj(quota.spec)
  const errs = [...validateQuotaSpec(spec), ...validateResourceQuotaStatus(obj(quota.status))]
  if (old) {
    const now = new Set(arr(spec.scopes).map(str))
    const before = new Set(arr(obj(old.spec).scopes).map(str))
    if (now.size !== before.size || [...now].some((s) => !before.has(s))) errs.push(invalid('spec.scopes', arr(spec.scopes), 'field is immutable'))
  }
  return errs
}

function limitRangeResourceName(type: string, name: string, path: string): FieldCause[] {
  return type === 'Pod' || type === 'Container' ? containerResourceName(name, path) : resourceName(name, path)
}

function limitTypeName(type: string, path: string): FieldCause[] {
  const errs = each(path, type, isQualifiedName(type))
  if (errs.length > 0) return errs
  if (!type.includes('/') && !(LIMIT_TYPES as readonly string[]).includes(type)) return [invalid(path, type, 'must be a standard limit type or fully qualified')]
  return []
}

type Bound = 'max' | 'min' | 'default' | 'defaultRequest' | 'maxLimitRequestRatio'

/** The ratio max/min may allow, at the precision upstream compares in. */
function ratioLimit(min: Quantity, max: Quantity, ratio: Quantity): { allowed: number; wanted: number } {
  const small = quantityValue(ratio) < MAX_MILLI_VALUE && quantityValue(min) < MAX_MILLI_VALUE && quantityValue(max) < MAX_MILLI_VALUE
  const [lo, hi] = small ? [quantityMilliValue(min), quantityMilliValue(max)] : [quantityValue(min), quantityValue(max)]
  return { allowed: Number(hi) / Number(lo), wanted: small ? Number(quantityMilliValue(ratio)) / 1000 : Number(quantityValue(ratio)) }
}

function validateLimitItem(item: Obj, path: string, seenTypes: Set<string>): FieldCause[] {
  const errs: FieldCause[] = []
  const type = str(item.type)
  errs.push(...limitTypeName(type, `${path}.type`))
  if (seenTypes.has(type)) errs.push(duplicate(`${path}.type`, type))
  seenTypes.add(type)
  const bounds = new Map<Bound, Map<string, Quantity>>()
  const read = (bound: Bound) => {
    const found = new Map<string, Quantity>()
    for (const [name, q, p] of quantities(item[bound], `${path}.${bound}`, errs)) {
      errs.push(...limitRangeResourceName(type, name, p))
      found.set(name, q)
    }
    bounds.set(bound, found)
  }
  read('max')
  read('min')
  if (type === 'Pod') {
    if (Object.keys(obj(item.default)).length > 0) errs.push(forbidden(`${path}.default`, "may not be specified when `type` is 'Pod'"))
    if (Object.keys(obj(item.defaultRequest)).length > 0) errs.push(forbidden(`${path}.defaultRequest`, "may not be specified when `type` is 'Pod'"))
    bounds.set('default', new Map())
    bounds.set('defaultRequest', new Map())
  } else {
    read('default')
    read('defaultRequest')
  }
  if (type === 'PersistentVolumeClaim' && !bounds.get('min')!.has('storage') && !bounds.get('max')!.has('storage')) {
    errs.push(required(`${path}.limits`, 'either minimum or maximum storage value is required, but neither was provided'))
  }
  read('maxLimitRequestRatio')
  const names = new Set([...bounds.values()].flatMap((m) => [...m.keys()]))
  const q = (bound: Bound, name: string) => bounds.get(bound)!.get(name)
  const over = (a: Quantity | undefined, b: Quantity | undefined) => a !== undefined && b !== undefined && compareQuantities(a, b) > 0
  for (const name of [...names].sort()) {
    const [min, max, def, defReq, ratio] = (['min', 'max', 'default', 'defaultRequest', 'maxLimitRequestRatio'] as const).map((b) => q(b, name))
    const at = (bound: Bound) => `${path}.${bound}[${name}]`
    const s = formatQuantity
    if (over(min, max)) errs.push(invalid(at('min'), s(min!), `min value ${s(min!)} is greater than max value ${s(max!)}`))
    if (over(min, defReq)) errs.push(invalid(at('defaultRequest'), s(defReq!), `min value ${s(min!)} is greater than default request value ${s(defReq!)}`))
    if (over(defReq, max)) errs.push(invalid(at('defaultRequest'), s(defReq!), `default request value ${s(defReq!)} is greater than max value ${s(max!)}`))
    if (over(defReq, def)) errs.push(invalid(at('defaultRequest'), s(defReq!), `default request value ${s(defReq!)} is greater than default limit value ${s(def!)}`))
    if (over(min, def)) errs.push(invalid(at('default'), s(min!), `min value ${s(min!)} is greater than default value ${s(def!)}`))
    if (over(def, max)) errs.push(invalid(at('default'), s(max!), `default value ${s(def!)} is greater than max value ${s(max!)}`))
    if (ratio && ratio.nanos < 1_000_000_000n) errs.push(invalid(at('maxLimitRequestRatio'), s(ratio), `ratio ${s(ratio)} is less than 1`))
    if (ratio && min && max) {
      const { allowed, wanted } = ratioLimit(min, max, ratio)
      if (wanted > allowed) errs.push(invalid(at('maxLimitRequestRatio'), s(ratio), `ratio ${s(ratio)} is greater than max/min = ${allowed.toFixed(6)}`))
    }
    if (!isOvercommitAllowed(name) && def && defReq && compareQuantities(def, defReq) !== 0) {
      errs.push(invalid(at('defaultRequest'), s(defReq), `default value ${s(def)} must equal to defaultRequest value ${s(defReq)} in ${name}`))
    }
  }
  return errs
}

export function validateLimitRange(lr: Obj): FieldCause[] {
  const errs: FieldCause[] = []
  const seenTypes = new Set<string>()
  arr(obj(lr.spec).limits).forEach((item, i) => {
    if (!isObj(item)) errs.push(invalid(`spec.limits[${i}]`, item, 'must be an object'))
    else errs.push(...validateLimitItem(item, `spec.limits[${i}]`, seenTypes))
  })
  return errs
}
