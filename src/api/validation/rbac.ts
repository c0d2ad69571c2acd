// RBAC kinds (k8s.io/kubernetes/pkg/apis/rbac/validation): Roles and ClusterRoles, their
// bindings, and the names these may carry.
import { isDNS1123Subdomain } from '../names.ts'
import type { FieldCause, Obj } from './field.ts'
import { arr, deepEqual, each, invalid, isObj, notSupported, obj, required, str } from './field.ts'
import { validateLabelSelector } from './meta.ts'

export const rbacGroup = 'rbac.authorization.k8s.io'

/** path.IsValidPathSegmentName: RBAC's minimal name rule (a name must be usable as one URL segment). */
export function isValidPathSegmentName(name: string): string[] {
  for (const illegal of ['.', '..']) if (name === illegal) return [`may not be '${illegal}'`]
  return ['/', '%'].filter((c) => name.includes(c)).map((c) => `may not contain '${c}'`)
}

function validatePolicyRule(rule: Obj, namespaced: boolean, path: string): FieldCause[] {
  const errs: FieldCause[] = []
  if (arr(rule.verbs).length === 0) errs.push(required(`${path}.verbs`, 'verbs must contain at least one value'))
  const urls = arr(rule.nonResourceURLs)
  if (urls.length > 0) {
    if (namespaced) errs.push(invalid(`${path}.nonResourceURLs`, urls, 'namespaced rules cannot apply to non-resource URLs'))
    if (arr(rule.apiGroups).length > 0 || arr(rule.resources).length > 0 || arr(rule.resourceNames).length > 0) {
      errs.push(invalid(`${path}.nonResourceURLs`, urls, 'rules cannot apply to both regular resources and non-resource URLs'))
    }
    return errs
  }
  if (arr(rule.apiGroups).length === 0) errs.push(required(`${path}.apiGroups`, 'resource rules must supply at least one api group'))
  const resources = arr(rule.resources)
  if (resources.length === 0) errs.push(required(`${path}.resources`, 'resource rules must supply at least one resource'))
  if (arr(rule.resourceNames).length > 0 && resources.length > 1) {
    errs.push(required(`${path}.resourceNames`, 'resource names cannot apply to multiple resources'))
  }
  return errs
}

function validateRules(o: Obj, namespaced: boolean): FieldCause[] {
  return arr(o.rules).flatMap((rule, i) => validatePolicyRule(obj(rule), namespaced, `rules[${i}]`))
}

export function validateRole(o: Obj): FieldCause[] {
  return validateRules(o, true)
}

export function validateClusterRole(o: Obj): FieldCause[] {
  const errs = validateRules(o, false)
  if (isObj(o.aggregationRule)) {
    const selectors = arr(o.aggregationRule.clusterRoleSelectors)
    if (selectors.length === 0) {
      errs.push(required('aggregationRule.clusterRoleSelectors', 'at least one clusterRoleSelector required if aggregationRule is non-nil'))
    }
    selectors.forEach((s, i) => errs.push(...validateLabelSelector(s, `aggregationRule.clusterRoleSelectors[${i}]`)))
  }
  return errs
}

function validateSubject(subject: Obj, namespaced: boolean, path: string): FieldCause[] {
  const errs: FieldCause[] = []
  const name = str(subject.name)
  const apiGroup = str(subject.apiGroup)
  if (!name) errs.push(required(`${path}.name`))
  switch (str(subject.kind)) {
    case 'ServiceAccount':
      if (name) errs.push(...each(`${path}.name`, name, isDNS1123Subdomain(name)))
      if (apiGroup) errs.push(notSupported(`${path}.apiGroup`, apiGroup, ['']))
      if (!namespaced && !str(subject.namespace)) errs.push(required(`${path}.namespace`))
      break
    case 'User':
      if (!name) errs.push(invalid(`${path}.name`, name, 'user name cannot be empty'))
      if (apiGroup !== rbacGroup) errs.push(notSupported(`${path}.apiGroup`, apiGroup, [rbacGroup]))
      break
    case 'Group':
      if (!name) errs.push(invalid(`${path}.name`, name, 'group name cannot be empty'))
      if (apiGroup !== rbacGroup) errs.push(notSupported(`${path}.apiGroup`, apiGroup, [rbacGroup]))
      break
    default:
      errs.push(notSupported(`${path}.kind`, str(subject.kind), ['ServiceAccount', 'User', 'Group']))
  }
  return errs
}

/** The roleRef as Go's `%#v` prints it in upstream's message. */
function roleRefText(ref: Obj): string {
  return `rbac.RoleRef{APIGroup:${JSON.stringify(str(ref.apiGroup))}, Kind:${JSON.stringify(str(ref.kind))}, Name:${JSON.stringify(str(ref.name))}}`
}

/** A RoleBinding (namespaced: may refer to a Role) or a ClusterRoleBinding; `old` on update. */
export function validateBinding(o: Obj, old: Obj | undefined, namespaced: boolean): FieldCause[] {
  const errs: FieldCause[] = []
  const ref = obj(o.roleRef)
  if (str(ref.apiGroup) !== rbacGroup) errs.push(notSupported('roleRef.apiGroup', str(ref.apiGroup), [rbacGroup]))
  const kinds = namespaced ? ['Role', 'ClusterRole'] : ['ClusterRole']
  if (!kinds.includes(str(ref.kind))) errs.push(notSupported('roleRef.kind', str(ref.kind), kinds))
  const refName = str(ref.name)
  if (!refName) errs.push(required('roleRef.name'))
  else errs.push(...each('roleRef.name', refName, isValidPathSegmentName(refName)))
  arr(o.subjects).forEach((s, i) => errs.push(...validateSubject(obj(s), namespaced, `subjects[${i}]`)))
  if (old) {
    const before = obj(old.roleRef)
    const same = ['apiGroup', 'kind', 'name'].every((k) => deepEqual(str(ref[k]), str(before[k])))
    if (!same) errs.push({ reason: 'FieldValueInvalid', field: 'roleRef', message: `Invalid value: ${roleRefText(ref)}: cannot change roleRef` })
  }
  return errs
}
