// Deployments, ReplicaSets and DaemonSets: selectors, pod templates, rollout strategies.
import { isValidPercent } from '../names.ts'
import type { FieldCause, Obj } from './field.ts'
import { each, forbidden, immutable, invalid, isObj, nonNegative, notSupported, num, obj, required, str, strMap, deepEqual } from './field.ts'
import { isEmptySelector, selectorMatches, validateAnnotations, validateLabelSelector, validateLabels } from './meta.ts'
import { validatePodSpec } from './pod.ts'

/** `selector` is undefined when it was itself invalid: upstream then skips the match. */
function validateTemplate(template: unknown, selector: unknown, path: string): FieldCause[] {
  if (!isObj(template)) return [required(path)]
  const errs: FieldCause[] = []
  const meta = obj(template.metadata)
  const labels = strMap(meta.labels)
  if (isObj(selector) && !isEmptySelector(selector) && !selectorMatches(selector, labels))
    errs.push(invalid(`${path}.metadata.labels`, labels, '`selector` does not match template `labels`'))
  errs.push(...validateLabels(meta.labels, `${path}.metadata.labels`))
  errs.push(...validateAnnotations(meta.annotations, `${path}.metadata.annotations`))
  errs.push(...validatePodSpec(obj(template.spec), `${path}.spec`, { workloadTemplate: true }))
  return errs
}

function validateSelector(spec: Obj, kind: string): FieldCause[] {
  if (!isObj(spec.selector)) return [required('spec.selector')]
  const errs = validateLabelSelector(spec.selector, 'spec.selector')
  if (isEmptySelector(spec.selector)) errs.push(invalid('spec.selector', spec.selector, `empty selector is invalid for ${kind}`))
  return errs
}

/** An IntOrString that must be a non-negative int or a percentage (maxSurge, maxUnavailable). */
export function validateIntOrPercent(value: unknown, path: string, maxHundred: boolean): FieldCause[] {
  if (value === undefined || value === null) return []
  if (typeof value === 'number') return nonNegative(path, value)
  const s = str(value)
  const errs = each(path, value, isValidPercent(s))
  if (errs.length === 0 && maxHundred && Number.parseInt(s, 10) > 100) errs.push(invalid(path, value, 'must not be greater than 100%'))
  return errs
}

function isZero(value: unknown): boolean {
  return value === 0 || value === '0%'
}

function validateRollingUpdate(ru: Obj, path: string, defaultSurge: unknown, defaultUnavailable: unknown): FieldCause[] {
  const errs = [
    ...validateIntOrPercent(ru.maxUnavailable, `${path}.maxUnavailable`, true),
    ...validateIntOrPercent(ru.maxSurge, `${path}.maxSurge`, false),
  ]
  const surge = ru.maxSurge ?? defaultSurge
  const unavailable = ru.maxUnavailable ?? defaultUnavailable
  if (isZero(surge) && isZero(unavailable)) errs.push(invalid(`${path}.maxUnavailable`, unavailable, 'may not be 0 when `maxSurge` is 0'))
  return errs
}

function validateCounts(spec: Obj): FieldCause[] {
  return [
    ...nonNegative('spec.replicas', spec.replicas),
    ...nonNegative('spec.minReadySeconds', spec.minReadySeconds),
    ...nonNegative('spec.revisionHistoryLimit', spec.revisionHistoryLimit),
  ]
}

export function validateDeploymentSpec(spec: Obj): FieldCause[] {
  const errs = validateCounts(spec)
  const before = errs.length
  errs.push(...validateSelector(spec, 'deployment'))
  errs.push(...validateTemplate(spec.template, errs.length === before ? spec.selector : undefined, 'spec.template'))
  const strategy = obj(spec.strategy)
  const type = strategy.type
  const types = ['Recreate', 'RollingUpdate']
  if (type !== undefined && type !== '' && !types.includes(str(type))) errs.push(notSupported('spec.strategy.type', type, types))
  if (type === 'Recreate' && strategy.rollingUpdate !== undefined && strategy.rollingUpdate !== null)
    errs.push(forbidden('spec.strategy.rollingUpdate', "may not be specified when strategy `type` is 'Recreate'"))
  if (type !== 'Recreate') errs.push(...validateRollingUpdate(obj(strategy.rollingUpdate), 'spec.strategy.rollingUpdate', '25%', '25%'))
  const progress = num(spec.progressDeadlineSeconds)
  if (progress !== undefined) {
    errs.push(...nonNegative('spec.progressDeadlineSeconds', progress))
    if (progress <= (num(spec.minReadySeconds) ?? 0))
      errs.push(invalid('spec.progressDeadlineSeconds', progress, 'must be greater than minReadySeconds'))
  }
  return errs
}

export function validateReplicaSetSpec(spec: Obj): FieldCause[] {
  const selectorErrs = validateSelector(spec, 'replicaset')
  const template = validateTemplate(spec.template, selectorErrs.length === 0 ? spec.selector : undefined, 'spec.template')
  return [...validateCounts(spec), ...selectorErrs, ...template]
}

export function validateDaemonSetSpec(spec: Obj): FieldCause[] {
  const errs = validateCounts(spec)
  const before = errs.length
  errs.push(...validateSelector(spec, 'daemonset'))
  errs.push(...validateTemplate(spec.template, errs.length === before ? spec.selector : undefined, 'spec.template'))
  const strategy = obj(spec.updateStrategy)
  const type = strategy.type
  const types = ['OnDelete', 'RollingUpdate']
  if (type !== undefined && type !== '' && !types.includes(str(type))) errs.push(notSupported('spec.updateStrategy.type', type, types))
  if (type !== 'OnDelete') errs.push(...validateRollingUpdate(obj(strategy.rollingUpdate), 'spec.updateStrategy.rollingUpdate', 0, 1))
  return errs
}

export function validateSelectorUpdate(spec: Obj, old: Obj): FieldCause[] {
  return deepEqual(spec.selector, old.selector) ? [] : [immutable('spec.selector', spec.selector ?? null)]
}
