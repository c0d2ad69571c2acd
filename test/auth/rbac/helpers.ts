// Builders for RBAC test objects and requests.
import type { V1ClusterRole, V1ClusterRoleBinding, V1PolicyRule, V1Role, V1RoleBinding } from '@kubernetes/client-node'
import type { NonResourceAttributes, ResourceAttributes, UserInfo } from '../../../src/auth/types.ts'
import type { PolicyRule } from '../../../src/auth/rbac/rules.ts'

/** A parsed rule: `rule({ verbs: ['get'], resources: ['pods'] })`, apiGroups defaulting to ['']. */
export function rule(partial: Partial<PolicyRule>): PolicyRule {
  return { verbs: [], apiGroups: [''], resources: [], resourceNames: [], nonResourceURLs: [], ...partial }
}

export function urlRule(verbs: string[], urls: string[]): PolicyRule {
  return { verbs, apiGroups: [], resources: [], resourceNames: [], nonResourceURLs: urls }
}

export function user(username: string, groups: string[] = []): UserInfo {
  return { username, groups }
}

export function res(u: UserInfo, verb: string, resource: string, more: Partial<ResourceAttributes> = {}): ResourceAttributes {
  return { resourceRequest: true, user: u, verb, namespace: '', apiGroup: '', apiVersion: 'v1', resource, subresource: '', name: '', ...more }
}

export function nonRes(u: UserInfo, verb: string, path: string): NonResourceAttributes {
  return { resourceRequest: false, user: u, verb, path }
}

export function clusterRole(name: string, rules: V1PolicyRule[], extra: Partial<V1ClusterRole> = {}): V1ClusterRole {
  return { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name }, rules, ...extra }
}

export function role(namespace: string, name: string, rules: V1PolicyRule[]): V1Role {
  return { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { namespace, name }, rules }
}

/** Subjects as `User:alice`, `Group:devs`, `ServiceAccount:ns/name` (or `ServiceAccount:name` for no namespace). */
function subjects(list: string[]): V1RoleBinding['subjects'] {
  return list.map((s) => {
    const colon = s.indexOf(':')
    const kind = s.slice(0, colon)
    const rest = s.slice(colon + 1)
    if (kind === 'ServiceAccount') {
      const slash = rest.indexOf('/')
      return slash < 0 ? { kind, name: rest } : { kind, namespace: rest.slice(0, slash), name: rest.slice(slash + 1) }
    }
    return { kind, apiGroup: 'rbac.authorization.k8s.io', name: rest }
  })
}

export function clusterRoleBinding(name: string, roleName: string, subs: string[]): V1ClusterRoleBinding {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: { name },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: roleName },
    subjects: subjects(subs),
  }
}

export function roleBinding(namespace: string, name: string, ref: { kind: 'Role' | 'ClusterRole'; name: string }, subs: string[]): V1RoleBinding {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: { namespace, name },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', ...ref },
    subjects: subjects(subs),
  }
}
