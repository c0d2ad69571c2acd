// The request bodies of the create-only review kinds (k8s.io/kubernetes/pkg/apis/authorization/
// validation; TokenReview, SelfSubjectReview and SelfSubjectRulesReview have no field rules,
// only the request checks in src/apiserver/reviews.ts).
import { isQualifiedName } from '../names.ts'
import type { FieldCause, Obj } from './field.ts'
import { arr, each, forbidden, invalid, isObj, obj, required, str } from './field.ts'

export const reviewKinds = [
  'TokenReview',
  'SelfSubjectReview',
  'SubjectAccessReview',
  'SelfSubjectAccessReview',
  'LocalSubjectAccessReview',
  'SelfSubjectRulesReview',
] as const

export type ReviewKind = (typeof reviewKinds)[number]

export function isReviewKind(kind: string): kind is ReviewKind {
  return (reviewKinds as readonly string[]).includes(kind)
}

function isEmptyValue(value: unknown): boolean {
  if (value === undefined || value === null || value === '' || value === 0 || value === false) return true
  if (Array.isArray(value)) return value.length === 0
  if (isObj(value)) return Object.values(value).every(isEmptyValue)
  return false
}

/** Upstream compares the whole ObjectMeta with the zero value, managedFields (and what `except` names) aside. */
function metadataNotEmpty(meta: Obj, except: string[]): boolean {
  return Object.entries(meta).some(([k, v]) => k !== 'managedFields' && !except.includes(k) && !isEmptyValue(v))
}

function validateRequirements(selector: unknown, path: string, labels: boolean): FieldCause[] {
  if (!isObj(selector)) return []
  const errs: FieldCause[] = []
  const raw = str(selector.rawSelector)
  const requirements = arr(selector.requirements)
  if (raw && requirements.length > 0) errs.push(invalid(`${path}.rawSelector`, raw, 'may not specified at the same time as requirements'))
  if (!raw && requirements.length === 0) errs.push(required(`${path}.requirements`, `when ${path} is specified, requirements or rawSelector is required`))
  requirements.forEach((item, i) => {
    const req = obj(item)
    const at = `${path}.requirements[${i}]`
    const values = arr(req.values)
    const op = str(req.operator)
    // Unknown operators pass: a newer client may know operators this server does not.
    if ((op === 'In' || op === 'NotIn') && values.length === 0) errs.push(required(`${at}.values`, "must be specified when `operator` is 'In' or 'NotIn'"))
    if ((op === 'Exists' || op === 'DoesNotExist') && values.length > 0) errs.push(forbidden(`${at}.values`, "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"))
    const key = str(req.key)
    if (labels) errs.push(...each(`${at}.key`, key, isQualifiedName(key)))
    else if (!key) errs.push(required(`${at}.key`, 'must be specified'))
  })
  return errs
}

function validateAccessSpec(spec: Obj, needsSubject: boolean): FieldCause[] {
  const errs: FieldCause[] = []
  const resource = isObj(spec.resourceAttributes) ? spec.resourceAttributes : undefined
  const nonResource = isObj(spec.nonResourceAttributes) ? spec.nonResourceAttributes : undefined
  if (resource && nonResource) errs.push(invalid('spec.nonResourceAttributes', nonResource, 'cannot be specified in combination with resourceAttributes'))
  if (!resource && !nonResource) errs.push(invalid('spec.resourceAttributes', null, 'exactly one of nonResourceAttributes or resourceAttributes must be specified'))
  if (needsSubject && !str(spec.user) && arr(spec.groups).length === 0) {
    errs.push(invalid('spec.user', str(spec.user), 'at least one of user or group must be specified'))
  }
  if (resource) {
    errs.push(...validateRequirements(resource.fieldSelector, 'spec.resourceAttributes.fieldSelector', false))
    errs.push(...validateRequirements(resource.labelSelector, 'spec.resourceAttributes.labelSelector', true))
  }
  return errs
}

/** The field causes (422) a review request body answers with; empty when it is valid. */
export function validateReview(kind: ReviewKind, body: object): FieldCause[] {
  const o = body as Obj
  const meta = obj(o.metadata)
  const spec = obj(o.spec)
  switch (kind) {
    case 'SubjectAccessReview':
    case 'SelfSubjectAccessReview': {
      const errs = validateAccessSpec(spec, kind === 'SubjectAccessReview')
      if (metadataNotEmpty(meta, [])) errs.push(invalid('metadata', meta, 'must be empty'))
      return errs
    }
    case 'LocalSubjectAccessReview': {
      const errs = validateAccessSpec(spec, true)
      if (metadataNotEmpty(meta, ['namespace'])) errs.push(invalid('metadata', meta, 'must be empty except for namespace'))
      const resource = isObj(spec.resourceAttributes) ? spec.resourceAttributes : undefined
      if (resource && str(resource.namespace) !== str(meta.namespace)) {
        errs.push(invalid('spec.resourceAttributes.namespace', str(resource.namespace), 'must match metadata.namespace'))
      }
      if (isObj(spec.nonResourceAttributes)) errs.push(invalid('spec.nonResourceAttributes', spec.nonResourceAttributes, 'disallowed on this kind of request'))
      return errs
    }
    case 'TokenReview':
    case 'SelfSubjectReview':
    case 'SelfSubjectRulesReview':
      return []
  }
}
