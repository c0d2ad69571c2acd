// The four RBAC kinds as slim internal shapes, parsed once at the informer boundary from
// plain Kubernetes JSON. Anything malformed is refused with a message naming the field.
import type { V1ClusterRole, V1ClusterRoleBinding, V1PolicyRule, V1Role, V1RoleBinding } from '@kubernetes/client-node'
import { badRequest } from '../../util/errors.ts'
import type { PolicyRule } from './rules.ts'

export type RoleKind = 'Role' | 'ClusterRole'
export type BindingKind = 'RoleBinding' | 'ClusterRoleBinding'
export type RbacKind = RoleKind | BindingKind
export type RbacObject = V1Role | V1ClusterRole | V1RoleBinding | V1ClusterRoleBinding

export const RBAC_KINDS: readonly RbacKind[] = ['Role', 'ClusterRole', 'RoleBinding', 'ClusterRoleBinding']

export interface Subject {
  kind: string
  apiGroup: string
  name: string
  /** '' when the subject gives none. */
  namespace: string
}

export interface RoleRef {
  apiGroup: string
  kind: string
  name: string
}

export interface ParsedRole {
  kind: RoleKind
  /** '' for a ClusterRole. */
  namespace: string
  name: string
  rules: PolicyRule[]
}

export interface ParsedBinding {
  kind: BindingKind
  /** '' for a ClusterRoleBinding. */
  namespace: string
  name: string
  roleRef: RoleRef
  subjects: Subject[]
}

export function isRbacKind(kind: unknown): kind is RbacKind {
  return typeof kind === 'string' && (RBAC_KINDS as readonly string[]).includes(kind)
}

export function isClusterScoped(kind: RbacKind): boolean {
  return kind === 'ClusterRole' || kind === 'ClusterRoleBinding'
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function optionalString(value: unknown, field: string): string {
  if (value === undefined || value === null) return ''
  if (typeof value !== 'string') throw badRequest(`${field} must be a string`)
  return value
}

function requiredString(value: unknown, field: string): string {
  const s = optionalString(value, field)
  if (s === '') throw badRequest(`${field} is required`)
  return s
}

function stringList(value: unknown, field: string): string[] {
  if (value === undefined || value === null) return []
  if (!Array.isArray(value)) throw badRequest(`${field} must be a list of strings`)
  for (let i = 0; i < value.length; i++) {
    if (typeof value[i] !== 'string') throw badRequest(`${field}[${i}] must be a string`)
  }
  return [...(value as string[])]
}

/** One rule, every list copied and present. */
export function parsePolicyRule(value: unknown, field = 'rule'): PolicyRule {
  if (!isRecord(value)) throw badRequest(`${field} must be an object`)
  return {
    verbs: stringList(value.verbs, `${field}.verbs`),
    apiGroups: stringList(value.apiGroups, `${field}.apiGroups`),
    resources: stringList(value.resources, `${field}.resources`),
    resourceNames: stringList(value.resourceNames, `${field}.resourceNames`),
    nonResourceURLs: stringList(value.nonResourceURLs, `${field}.nonResourceURLs`),
  }
}

export function parsePolicyRules(value: unknown, field = 'rules'): PolicyRule[] {
  if (value === undefined || value === null) return []
  if (!Array.isArray(value)) throw badRequest(`${field} must be a list`)
  return value.map((r, i) => parsePolicyRule(r, `${field}[${i}]`))
}

/** Back to the wire shape, leaving out empty optional lists as the API server does. */
export function toV1PolicyRule(rule: PolicyRule): V1PolicyRule {
  const out: V1PolicyRule = { verbs: [...rule.verbs] }
  if (rule.apiGroups.length) out.apiGroups = [...rule.apiGroups]
  if (rule.resources.length) out.resources = [...rule.resources]
  if (rule.resourceNames.length) out.resourceNames = [...rule.resourceNames]
  if (rule.nonResourceURLs.length) out.nonResourceURLs = [...rule.nonResourceURLs]
  return out
}

function parseMeta(obj: Record<string, unknown>, kind: RbacKind): { namespace: string; name: string } {
  if (!isRecord(obj.metadata)) throw badRequest(`${kind}: metadata must be an object`)
  const name = requiredString(obj.metadata.name, `${kind}: metadata.name`)
  if (isClusterScoped(kind)) return { namespace: '', name }
  const namespace = requiredString(obj.metadata.namespace, `${kind} ${JSON.stringify(name)}: metadata.namespace`)
  return { namespace, name }
}

function parseSubject(value: unknown, field: string): Subject {
  if (!isRecord(value)) throw badRequest(`${field} must be an object`)
  return {
    kind: optionalString(value.kind, `${field}.kind`),
    apiGroup: optionalString(value.apiGroup, `${field}.apiGroup`),
    name: optionalString(value.name, `${field}.name`),
    namespace: optionalString(value.namespace, `${field}.namespace`),
  }
}

function parseRoleRef(value: unknown, field: string): RoleRef {
  if (!isRecord(value)) throw badRequest(`${field} is required`)
  return {
    apiGroup: optionalString(value.apiGroup, `${field}.apiGroup`),
    kind: requiredString(value.kind, `${field}.kind`),
    name: requiredString(value.name, `${field}.name`),
  }
}

/**
 * Parses one RBAC object. The kind comes from `obj.kind`, or from `kind` for list items
 * (which carry none); when both are given they must agree.
 */
export function parseRbacObject(obj: unknown, kind?: RbacKind): ParsedRole | ParsedBinding {
  if (!isRecord(obj)) throw badRequest('an RBAC object must be a JSON object')
  const given = obj.kind
  if (given !== undefined && given !== null && !isRbacKind(given)) {
    throw badRequest(`kind ${JSON.stringify(given)} is not one of ${RBAC_KINDS.join(', ')}`)
  }
  if (kind !== undefined && isRbacKind(given) && given !== kind) {
    throw badRequest(`object of kind ${given} given where ${kind} was expected`)
  }
  const k = kind ?? (isRbacKind(given) ? given : undefined)
  if (k === undefined) throw badRequest(`an RBAC object needs a kind (${RBAC_KINDS.join(', ')})`)
  const { namespace, name } = parseMeta(obj, k)
  const where = namespace ? `${k} ${namespace}/${name}` : `${k} ${name}`
  if (k === 'Role' || k === 'ClusterRole') {
    return { kind: k, namespace, name, rules: parsePolicyRules(obj.rules, `${where}: rules`) }
  }
  const subjects = obj.subjects
  if (subjects !== undefined && subjects !== null && !Array.isArray(subjects)) {
    throw badRequest(`${where}: subjects must be a list`)
  }
  return {
    kind: k,
    namespace,
    name,
    roleRef: parseRoleRef(obj.roleRef, `${where}: roleRef`),
    subjects: ((subjects ?? []) as unknown[]).map((s, i) => parseSubject(s, `${where}: subjects[${i}]`)),
  }
}
