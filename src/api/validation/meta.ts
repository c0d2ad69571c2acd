// ObjectMeta, labels, annotations and label selectors (apimachinery's ValidateObjectMeta & co).
import { isDNS1123Label, isQualifiedName, isValidLabelValue } from '../names.ts'
import type { FieldCause, Obj } from './field.ts'
import { arr, each, forbidden, immutable, invalid, isObj, nonNegative, notSupported, obj, required, str, strMap, tooLong, deepEqual } from './field.ts'

export type NameCheck = (name: string) => string[]

export const TotalAnnotationSizeLimitB = 256 * 1024

export function validateLabels(labels: unknown, field: string): FieldCause[] {
  const errs: FieldCause[] = []
  for (const [k, v] of Object.entries(strMap(labels))) {
    errs.push(...each(field, k, isQualifiedName(k)))
    errs.push(...each(field, v, isValidLabelValue(v)))
  }
  return errs
}

export function validateAnnotations(annotations: unknown, field: string): FieldCause[] {
  const errs: FieldCause[] = []
  let size = 0
  for (const [k, v] of Object.entries(strMap(annotations))) {
    errs.push(...each(field, k, isQualifiedName(k.toLowerCase())))
    size += Buffer.byteLength(k) + Buffer.byteLength(v)
  }
  if (size > TotalAnnotationSizeLimitB) errs.push(tooLong(field, TotalAnnotationSizeLimitB))
  return errs
}

export function validateObjectMeta(meta: Obj, namespaced: boolean, nameCheck: NameCheck): FieldCause[] {
  const errs: FieldCause[] = []
  const name = str(meta.name)
  if (!name) errs.push(required('metadata.name', 'name or generateName is required'))
  else errs.push(...each('metadata.name', name, nameCheck(name)))
  const namespace = str(meta.namespace)
  if (namespaced) {
    if (!namespace) errs.push(required('metadata.namespace'))
    else errs.push(...each('metadata.namespace', namespace, isDNS1123Label(namespace)))
  } else if (namespace) {
    errs.push(forbidden('metadata.namespace', 'not allowed on this type'))
  }
  errs.push(...nonNegative('metadata.generation', meta.generation))
  errs.push(...validateLabels(meta.labels, 'metadata.labels'))
  errs.push(...validateAnnotations(meta.annotations, 'metadata.annotations'))
  arr(meta.ownerReferences).forEach((ref, i) => {
    const r = obj(ref)
    const path = `metadata.ownerReferences[${i}]`
    if (!str(r.apiVersion)) errs.push(invalid(`${path}.apiVersion`, str(r.apiVersion), 'version must not be empty'))
    if (!str(r.kind)) errs.push(invalid(`${path}.kind`, str(r.kind), 'kind must not be empty'))
    if (!str(r.name)) errs.push(invalid(`${path}.name`, str(r.name), 'name must not be empty'))
    if (!str(r.uid)) errs.push(invalid(`${path}.uid`, str(r.uid), 'uid must not be empty'))
  })
  arr(meta.finalizers).forEach((f, i) => errs.push(...each(`metadata.finalizers[${i}]`, f, isQualifiedName(str(f)))))
  return errs
}

export function validateObjectMetaUpdate(meta: Obj, old: Obj): FieldCause[] {
  const errs: FieldCause[] = []
  for (const key of ['name', 'namespace', 'uid', 'creationTimestamp']) {
    if (old[key] !== undefined && !deepEqual(meta[key], old[key])) errs.push(immutable(`metadata.${key}`, meta[key] ?? ''))
  }
  return errs
}

const selectorOperators = ['DoesNotExist', 'Exists', 'In', 'NotIn']

export function validateLabelSelector(selector: unknown, field: string): FieldCause[] {
  if (!isObj(selector)) return []
  const errs = validateLabels(selector.matchLabels, `${field}.matchLabels`)
  arr(selector.matchExpressions).forEach((e, i) => {
    const expr = obj(e)
    const path = `${field}.matchExpressions[${i}]`
    const op = str(expr.operator)
    const values = arr(expr.values)
    if (op === 'In' || op === 'NotIn') {
      if (values.length === 0) errs.push(required(`${path}.values`, "must be specified when `operator` is 'In' or 'NotIn'"))
    } else if (op === 'Exists' || op === 'DoesNotExist') {
      if (values.length > 0) errs.push(forbidden(`${path}.values`, "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"))
    } else {
      errs.push(notSupported(`${path}.operator`, op, selectorOperators))
    }
    errs.push(...each(`${path}.key`, str(expr.key), isQualifiedName(str(expr.key))))
    values.forEach((v, j) => errs.push(...each(`${path}.values[${j}]`, v, isValidLabelValue(str(v)))))
  })
  return errs
}

/** Whether a metav1.LabelSelector selects the labels. An empty selector selects everything. */
export function selectorMatches(selector: unknown, labels: Record<string, string>): boolean {
  const s = obj(selector)
  for (const [k, v] of Object.entries(strMap(s.matchLabels))) if (labels[k] !== v) return false
  for (const e of arr(s.matchExpressions)) {
    const expr = obj(e)
    const key = str(expr.key)
    const values = arr(expr.values)
    const has = Object.hasOwn(labels, key)
    switch (str(expr.operator)) {
      case 'In':
        if (!has || !values.includes(labels[key])) return false
        break
      case 'NotIn':
        if (has && values.includes(labels[key])) return false
        break
      case 'Exists':
        if (!has) return false
        break
      case 'DoesNotExist':
        if (has) return false
        break
      default:
        return false
    }
  }
  return true
}

export function isEmptySelector(selector: unknown): boolean {
  const s = obj(selector)
  return Object.keys(strMap(s.matchLabels)).length === 0 && arr(s.matchExpressions).length === 0
}
