// StatefulSets (pkg/apis/apps/validation: ValidateStatefulSetSpec, ValidateStatefulSetUpdate,
// ValidateStatefulSetStatus). As upstream, the pod template is checked for its labels,
// annotations, restartPolicy and activeDeadlineSeconds only, not as a whole pod spec.
import type { FieldCause, Obj } from './field.ts'
import { deepEqual, forbidden, invalid, isObj, nonNegative, notSupported, num, obj, required, str, strMap } from './field.ts'
import { intOrPercentValue, validateIntOrPercent, validateSelector } from './apps.ts'
import { selectorMatches, validateAnnotations, validateLabels } from './meta.ts'

const policies = ['OrderedReady', 'Parallel']
const retentionTypes = ['Retain', 'Delete']

function validatePodManagementPolicy(policy: unknown): FieldCause[] {
  const path = 'spec.podManagementPolicy'
  if (policy === undefined || policy === null || policy === '') return [required(path)]
  return policies.includes(str(policy)) ? [] : [invalid(path, policy, "must be 'OrderedReady' or 'Parallel'")]
}

function validateUpdateStrategy(strategy: Obj): FieldCause[] {
  const path = 'spec.updateStrategy'
  const type = strategy.type
  const rolling = strategy.rollingUpdate
  if (type === undefined || type === null || type === '') return [required(path)]
  if (type === 'OnDelete') {
    return isObj(rolling) ? [invalid(`${path}.rollingUpdate`, rolling, "only allowed for updateStrategy 'RollingUpdate'")] : []
  }
  if (type !== 'RollingUpdate') return [invalid(path, strategy, "must be 'RollingUpdate' or 'OnDelete'")]
  if (!isObj(rolling)) return []
  const errs = nonNegative(`${path}.rollingUpdate.partition`, rolling.partition)
  const maxUnavailable = rolling.maxUnavailable
  if (maxUnavailable !== undefined && maxUnavailable !== null) {
    const field = `${path}.rollingUpdate.maxUnavailable`
    errs.push(...validateIntOrPercent(maxUnavailable, field, true))
    if (intOrPercentValue(maxUnavailable) === 0) errs.push(invalid(field, maxUnavailable, 'cannot be 0'))
  }
  return errs
}

function validateRetentionPolicy(policy: unknown): FieldCause[] {
  if (!isObj(policy)) return []
  const errs: FieldCause[] = []
  for (const key of ['whenDeleted', 'whenScaled']) {
    const value = policy[key] ?? ''
    if (!retentionTypes.includes(str(value))) errs.push(notSupported(`spec.persistentVolumeClaimRetentionPolicy.${key}`, value, retentionTypes))
  }
  return errs
}

/** ValidatePodTemplateSpecForStatefulSet; upstream files the label and annotation errors under `spec.template.labels` and `.annotations`. */
function validateTemplate(template: unknown, selector: unknown): FieldCause[] {
  if (!isObj(template)) return [required('spec.template')]
  const meta = obj(template.metadata)
  const labels = strMap(meta.labels)
  const errs: FieldCause[] = []
  if (isObj(selector) && !selectorMatches(selector, labels)) errs.push(invalid('spec.template.metadata.labels', labels, '`selector` does not match template `labels`'))
  errs.push(...validateLabels(meta.labels, 'spec.template.labels'))
  errs.push(...validateAnnotations(meta.annotations, 'spec.template.annotations'))
  return errs
}

export function validateStatefulSetSpec(spec: Obj): FieldCause[] {
  const errs = [...validatePodManagementPolicy(spec.podManagementPolicy), ...validateUpdateStrategy(obj(spec.updateStrategy)), ...validateRetentionPolicy(spec.persistentVolumeClaimRetentionPolicy)]
  errs.push(...nonNegative('spec.replicas', spec.replicas))
  errs.push(...nonNegative('spec.minReadySeconds', spec.minReadySeconds))
  if (isObj(spec.ordinals)) errs.push(...nonNegative('spec.ordinals.start', spec.ordinals.start))
  const selectorErrs = validateSelector(spec, 'statefulset')
  errs.push(...selectorErrs)
  errs.push(...validateTemplate(spec.template, selectorErrs.length === 0 ? spec.selector : undefined))
  if (!isObj(spec.template)) return errs
  const podSpec = obj(spec.template.spec)
  const restartPolicy = podSpec.restartPolicy
  if (restartPolicy !== 'Always') errs.push(notSupported('spec.template.spec.restartPolicy', restartPolicy ?? '', ['Always']))
  if (podSpec.activeDeadlineSeconds !== undefined && podSpec.activeDeadlineSeconds !== null) {
    errs.push(forbidden('spec.template.spec.activeDeadlineSeconds', 'activeDeadlineSeconds in StatefulSet is not Supported'))
  }
  return errs
}

/** The spec fields an update may change; every other difference is refused with upstream's one message. */
const mutableSpecFields = ['replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy', 'minReadySeconds']

export function validateStatefulSetUpdate(spec: Obj, old: Obj): FieldCause[] {
  const next = { ...spec }
  const prev = { ...old }
  for (const key of mutableSpecFields) {
    delete next[key]
    delete prev[key]
  }
  if (deepEqual(next, prev)) return []
  return [
    forbidden(
      'spec',
      "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
    ),
  ]
}

const counted = ['readyReplicas', 'currentReplicas', 'updatedReplicas', 'availableReplicas'] as const

/** ValidateStatefulSetStatusUpdate. */
export function validateStatefulSetStatus(status: Obj, oldStatus: Obj): FieldCause[] {
  const errs: FieldCause[] = []
  for (const key of ['replicas', ...counted, 'observedGeneration', 'collisionCount']) errs.push(...nonNegative(`status.${key}`, status[key]))
  const replicas = num(status.replicas) ?? 0
  for (const key of counted) {
    const value = num(status[key]) ?? 0
    if (value > replicas) errs.push(invalid(`status.${key}`, value, 'cannot be greater than status.replicas'))
  }
  const available = num(status.availableReplicas) ?? 0
  if (available > (num(status.readyReplicas) ?? 0)) errs.push(invalid('status.availableReplicas', available, 'cannot be greater than status.readyReplicas'))
  const collisions = num(status.collisionCount)
  const oldCollisions = num(oldStatus.collisionCount)
  if (oldCollisions !== undefined && (collisions === undefined || collisions < oldCollisions)) {
    errs.push(invalid('status.collisionCount', collisions ?? 0, 'cannot be decremented'))
  }
  return errs
}
