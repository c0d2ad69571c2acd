// Privilege-escalation prevention for writes of Roles, ClusterRoles and their bindings, as
// upstream's policy-based RBAC REST storage (pkg/registry/rbac/*/policybased): a caller may
// only write a role holding rules it already holds, unless it may `escalate`; and may only
// bind a role it holds every rule of, unless it may `bind` that role.
import type { V1ClusterRole, V1ClusterRoleBinding, V1Role, V1RoleBinding } from '@kubernetes/client-node'
import { ApiError, badRequest, forbidden, internal, notFound } from '../../util/errors.ts'
import type { Authorizer, ResourceAttributes, UserInfo } from '../types.ts'
import type { PolicyRulesResult } from './authorizer.ts'
import { compactRules, compactString, covers } from './covers.ts'
import { isOnlyMutatingGCFields } from './gc-fields.ts'
import { aggregateMessage, goQuote, goQuoteList, goStringCompare } from './go-format.ts'
import type { BindingKind, RoleKind, RoleRef } from './objects.ts'
import { parsePolicyRules } from './objects.ts'
import type { PolicyRule } from './rules.ts'

export const RBAC_GROUP = 'rbac.authorization.k8s.io'
/** Members can do anything: the API server's own loopback identity is one (user.SystemPrivilegedGroup). */
export const SYSTEM_PRIVILEGED_GROUP = 'system:masters'

/** What the checks need to know about RBAC state: RbacAuthorizer is one. */
export interface EscalationResolver {
  policyRulesFor(user: UserInfo, namespace: string): PolicyRulesResult
  roleReferenceRules(ref: RoleRef, bindingNamespace: string): PolicyRule[] | { error: string; notFound: boolean }
}

export type EscalationVerdict = { allowed: true } | { allowed: false; error: ApiError }

const ALLOWED: EscalationVerdict = { allowed: true }

/** `*` on everything: what setting an aggregationRule requires. */
export const FULL_AUTHORITY: readonly PolicyRule[] = [
  { verbs: ['*'], apiGroups: ['*'], resources: ['*'], resourceNames: [], nonResourceURLs: [] },
  { verbs: ['*'], apiGroups: [], resources: [], resourceNames: [], nonResourceURLs: ['*'] },
]

export function escalationAllowed(user: UserInfo): boolean {
  return user.groups.includes(SYSTEM_PRIVILEGED_GROUP)
}

/**
 * upstream ConfirmNoEscalation: undefined when `owner` covers `rules`, else the message naming
 * what is missing (compacted, one rule a line, sorted).
 */
export function confirmNoEscalation(user: UserInfo, owner: PolicyRulesResult, rules: readonly PolicyRule[]): string | undefined {
  const { covered, missing } = covers(owner.rules, rules)
  if (covered) return undefined
  const lines = [...new Set(compactRules(missing).map(compactString))].sort(goStringCompare)
  let msg = `user ${goQuote(user.username)} (groups=${goQuoteList(user.groups)}) is attempting to grant RBAC permissions not currently held:\n${lines.join('\n')}`
  if (owner.errors.length > 0) msg += `; resolution errors: [${aggregateMessage(owner.errors)}]`
  return msg
}

function asks(authorizer: Authorizer, attrs: ResourceAttributes): boolean {
  try {
    return authorizer.authorize(attrs).decision === 'allow'
  } catch {
    return false
  }
}

function objectName(obj: unknown): string {
  if (typeof obj !== 'object' || obj === null) return ''
  const meta = (obj as { metadata?: unknown }).metadata
  if (typeof meta !== 'object' || meta === null) return ''
  const name = (meta as { name?: unknown }).name
  return typeof name === 'string' ? name : ''
}

function hasAggregationRule(obj: unknown): boolean {
  if (typeof obj !== 'object' || obj === null) return false
  const rule = (obj as { aggregationRule?: unknown }).aggregationRule
  if (typeof rule !== 'object' || rule === null) return false
  const selectors = (rule as { clusterRoleSelectors?: unknown }).clusterRoleSelectors
  return Array.isArray(selectors) && selectors.length > 0
}

export interface RoleWrite {
  kind: RoleKind
  operation: 'create' | 'update'
  user: UserInfo
  /** The request's namespace ('' for a ClusterRole). */
  namespace: string
  /** The object as written. */
  object: V1Role | V1ClusterRole
  /** The stored object, for an update. */
  oldObject?: V1Role | V1ClusterRole
  authorizer: Authorizer
  resolver: EscalationResolver
}

/** Decides a create or update of a Role or ClusterRole. Throws a 400 ApiError for malformed rules. */
export function checkRoleWrite(w: RoleWrite): EscalationVerdict {
  if (escalationAllowed(w.user)) return ALLOWED
  const resource = w.kind === 'Role' ? 'roles' : 'clusterroles'
  const name = objectName(w.object)
  const escalate: ResourceAttributes = {
    resourceRequest: true,
    user: w.user,
    verb: 'escalate',
    namespace: w.namespace,
    apiGroup: RBAC_GROUP,
    apiVersion: '*',
    resource,
    subresource: '',
    // The request's name: a create is POSTed to the collection and names nothing.
    name: w.operation === 'create' ? '' : name,
  }
  if (asks(w.authorizer, escalate)) return ALLOWED
  if (w.operation === 'update' && w.oldObject !== undefined && isOnlyMutatingGCFields(w.object, w.oldObject)) return ALLOWED

  const rules = parsePolicyRules((w.object as { rules?: unknown }).rules)
  const owner = w.resolver.policyRulesFor(w.user, w.namespace)
  const missing = confirmNoEscalation(w.user, owner, rules)
  if (missing !== undefined) return { allowed: false, error: forbidden({ group: RBAC_GROUP, resource }, name, missing) }

  if (w.kind === 'ClusterRole') {
    const aggregates = hasAggregationRule(w.object) || (w.operation === 'update' && hasAggregationRule(w.oldObject))
    if (aggregates && confirmNoEscalation(w.user, owner, FULL_AUTHORITY) !== undefined) {
      return { allowed: false, error: forbidden({ group: RBAC_GROUP, resource }, name, 'must have cluster-admin privileges to use the aggregationRule') }
    }
  }
  return ALLOWED
}

export interface BindingWrite {
  kind: BindingKind
  operation: 'create' | 'update'
  user: UserInfo
  /** The request's namespace ('' for a ClusterRoleBinding). */
  namespace: string
  object: V1RoleBinding | V1ClusterRoleBinding
  oldObject?: V1RoleBinding | V1ClusterRoleBinding
  authorizer: Authorizer
  resolver: EscalationResolver
}

function parseRoleRef(obj: unknown): RoleRef {
  const ref = typeof obj === 'object' && obj !== null ? (obj as { roleRef?: unknown }).roleRef : undefined
  if (typeof ref !== 'object' || ref === null) throw badRequest('roleRef is required')
  const { apiGroup, kind, name } = ref as Record<string, unknown>
  if (typeof kind !== 'string' || typeof name !== 'string') throw badRequest('roleRef.kind and roleRef.name must be strings')
  if (apiGroup !== undefined && apiGroup !== null && typeof apiGroup !== 'string') throw badRequest('roleRef.apiGroup must be a string')
  return { apiGroup: typeof apiGroup === 'string' ? apiGroup : '', kind, name }
}

/** upstream BindingAuthorized: may the user `bind` the referenced role in the binding's namespace? */
export function bindingAuthorized(user: UserInfo, ref: RoleRef, namespace: string, authorizer: Authorizer): boolean {
  let resource: string
  if (ref.kind === 'ClusterRole') resource = 'clusterroles'
  else if (ref.kind === 'Role') resource = 'roles'
  else return false
  return asks(authorizer, {
    resourceRequest: true,
    user,
    verb: 'bind',
    namespace,
    apiGroup: ref.apiGroup,
    apiVersion: '',
    resource,
    subresource: '',
    name: ref.name,
  })
}

/** Decides a create or update of a RoleBinding or ClusterRoleBinding. Throws a 400 ApiError for a malformed roleRef. */
export function checkBindingWrite(w: BindingWrite): EscalationVerdict {
  if (escalationAllowed(w.user)) return ALLOWED
  if (w.operation === 'update' && w.oldObject !== undefined && isOnlyMutatingGCFields(w.object, w.oldObject)) return ALLOWED
  const ref = parseRoleRef(w.object)
  if (bindingAuthorized(w.user, ref, w.namespace, w.authorizer)) return ALLOWED

  const rules = w.resolver.roleReferenceRules(ref, w.namespace)
  if (!Array.isArray(rules)) {
    const error = rules.notFound
      ? notFound({ group: RBAC_GROUP, resource: ref.kind === 'Role' ? 'roles' : 'clusterroles' }, ref.name)
      : internal(rules.error)
    return { allowed: false, error }
  }
  const owner = w.resolver.policyRulesFor(w.user, w.namespace)
  const missing = confirmNoEscalation(w.user, owner, rules)
  if (missing === undefined) return ALLOWED
  const resource = w.kind === 'RoleBinding' ? 'rolebindings' : 'clusterrolebindings'
  return { allowed: false, error: forbidden({ group: RBAC_GROUP, resource }, objectName(w.object), missing) }
}
