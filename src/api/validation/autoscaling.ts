// autoscaling/v2 HorizontalPodAutoscaler, as upstream's ValidateHorizontalPodAutoscaler:
// the target, the replica bounds, each metric's source and target, the behavior's rules.
import { parseQuantity } from '../quantity.ts'
import type { FieldCause, Obj } from './field.ts'
import { arr, invalid, isObj, notSupported, num, obj, required, str } from './field.ts'

const metricTypes = ['ContainerResource', 'External', 'Object', 'Pods', 'Resource']
const sourceField: Record<string, string> = { Resource: 'resource', ContainerResource: 'containerResource', Pods: 'pods', Object: 'object', External: 'external' }

function positiveQuantity(value: unknown, path: string): FieldCause[] {
  if (value === undefined || value === null) return []
  try {
    return parseQuantity(value as string) > 0 ? [] : [invalid(path, value, 'must be positive')]
  } catch {
    return [invalid(path, value, "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")]
  }
}

function validateTarget(target: Obj, path: string, resource: boolean): FieldCause[] {
  const errs: FieldCause[] = []
  const types = resource ? ['AverageValue', 'Utilization'] : ['AverageValue', 'Utilization', 'Value']
  if (!target.type) errs.push(required(`${path}.type`, 'must specify a metric target type'))
  else if (!types.includes(str(target.type))) errs.push(notSupported(`${path}.type`, target.type, types))
  if (target.type === 'Utilization') {
    const u = num(target.averageUtilization)
    if (u === undefined) errs.push(required(`${path}.averageUtilization`, 'must set averageUtilization when metric target type is Utilization'))
    else if (u < 1) errs.push(invalid(`${path}.averageUtilization`, u, 'must be greater than 0'))
  }
  if (target.type === 'AverageValue' && target.averageValue === undefined) errs.push(required(`${path}.averageValue`, 'must set averageValue when metric target type is AverageValue'))
  if (target.type === 'Value' && target.value === undefined) errs.push(required(`${path}.value`, 'must set value when metric target type is Value'))
  errs.push(...positiveQuantity(target.averageValue, `${path}.averageValue`), ...positiveQuantity(target.value, `${path}.value`))
  return errs
}

function validateMetric(m: Obj, path: string): FieldCause[] {
  if (!m.type) return [required(`${path}.type`, 'must specify a metric source type')]
  if (!metricTypes.includes(str(m.type))) return [notSupported(`${path}.type`, m.type, metricTypes)]
  const field = sourceField[str(m.type)]
  const source = m[field]
  if (!isObj(source)) return [required(`${path}.${field}`, `must populate information for the given metric source`)]
  const errs: FieldCause[] = []
  for (const other of Object.values(sourceField)) {
    if (other !== field && m[other] !== undefined && m[other] !== null) errs.push(invalid(`${path}.${other}`, '', 'must populate the given metric source only'))
  }
  const resource = m.type === 'Resource' || m.type === 'ContainerResource'
  if (resource) {
    if (!source.name) errs.push(required(`${path}.${field}.name`, 'must specify a resource name'))
    if (m.type === 'ContainerResource' && !source.container) errs.push(required(`${path}.${field}.container`, 'must specify a container'))
  } else if (!isObj(source.metric) || !obj(source.metric).name) errs.push(required(`${path}.${field}.metric.name`, 'must specify a metric name'))
  if (m.type === 'Object' && (!isObj(source.describedObject) || !obj(source.describedObject).kind || !obj(source.describedObject).name)) {
    errs.push(required(`${path}.object.describedObject`, 'must specify the kind and name of the object'))
  }
  if (!isObj(source.target)) errs.push(required(`${path}.${field}.target`, 'must specify a metric target'))
  else errs.push(...validateTarget(source.target, `${path}.${field}.target`, resource))
  return errs
}

function validateRules(rules: unknown, path: string): FieldCause[] {
  if (!isObj(rules)) return []
  const errs: FieldCause[] = []
  const window = num(rules.stabilizationWindowSeconds)
  if (window !== undefined && (window < 0 || window > 3600)) errs.push(invalid(`${path}.stabilizationWindowSeconds`, window, 'must be less than or equal to 3600 and greater than or equal to 0'))
  const select = rules.selectPolicy
  if (select !== undefined && !['Disabled', 'Max', 'Min'].includes(str(select))) errs.push(notSupported(`${path}.selectPolicy`, select, ['Disabled', 'Max', 'Min']))
  const policies = arr(rules.policies)
  if (rules.policies !== undefined && policies.length === 0) errs.push(required(`${path}.policies`, 'must specify at least one Policy'))
  policies.forEach((p, i) => {
    const policy = obj(p)
    const at = `${path}.policies[${i}]`
    if (!['Percent', 'Pods'].includes(str(policy.type))) errs.push(notSupported(`${at}.type`, policy.type, ['Percent', 'Pods']))
    const value = num(policy.value)
    if (value === undefined || value <= 0) errs.push(invalid(`${at}.value`, policy.value, 'must be greater than zero'))
    const period = num(policy.periodSeconds)
    if (period === undefined || period <= 0 || period > 1800) errs.push(invalid(`${at}.periodSeconds`, policy.periodSeconds, 'must be greater than zero and less than or equal to 1800'))
  })
  return errs
}

export function validateHorizontalPodAutoscalerSpec(spec: Obj): FieldCause[] {
  const errs: FieldCause[] = []
  const ref = obj(spec.scaleTargetRef)
  if (!ref.kind) errs.push(required('spec.scaleTargetRef.kind'))
  if (!ref.name) errs.push(required('spec.scaleTargetRef.name'))
  const min = num(spec.minReplicas)
  const max = num(spec.maxReplicas)
  if (min !== undefined && min < 1) errs.push(invalid('spec.minReplicas', min, 'must be greater than or equal to 1'))
  if (max === undefined) errs.push(required('spec.maxReplicas'))
  else if (max < 1) errs.push(invalid('spec.maxReplicas', max, 'must be greater than 0'))
  else if (min !== undefined && max < min) errs.push(invalid('spec.maxReplicas', max, 'must be greater than or equal to `minReplicas`'))
  arr(spec.metrics).forEach((m, i) => errs.push(...validateMetric(obj(m), `spec.metrics[${i}]`)))
  if (isObj(spec.behavior)) {
    errs.push(...validateRules(spec.behavior.scaleUp, 'spec.behavior.scaleUp'), ...validateRules(spec.behavior.scaleDown, 'spec.behavior.scaleDown'))
  }
  return errs
}
