// Builders for the RBAC objects of the default policy: plain JSON with the metadata upstream's
// bootstrap policy puts on every default (plugin/pkg/auth/authorizer/rbac/bootstrappolicy).
import type { RbacV1Subject, V1ClusterRole, V1ClusterRoleBinding, V1PolicyRule, V1Role, V1RoleBinding } from '@kubernetes/client-node'

export const RBAC_GROUP = 'rbac.authorization.k8s.io'
const API_VERSION = `${RBAC_GROUP}/v1`

export const READ = ['get', 'list', 'watch']
export const READ_WRITE = ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete', 'deletecollection']
export const WRITE = ['create', 'delete', 'deletecollection', 'patch', 'update']

function defaultMetadata(name: string, namespace?: string, labels: Record<string, string> = {}) {
  return {
    name,
    ...(namespace === undefined ? {} : { namespace }),
    labels: { 'kubernetes.io/bootstrapping': 'rbac-defaults', ...labels },
    annotations: { 'rbac.authorization.kubernetes.io/autoupdate': 'true' },
  }
}

/** A resource rule; verbs and names are copied so no two objects share an array. */
export function rule(verbs: string[], apiGroups: string[], resources: string[], resourceNames?: string[]): V1PolicyRule {
  return { verbs: [...verbs], apiGroups: [...apiGroups], resources: [...resources], ...(resourceNames ? { resourceNames: [...resourceNames] } : {}) }
}

export function urlRule(verbs: string[], nonResourceURLs: string[]): V1PolicyRule {
  return { verbs: [...verbs], nonResourceURLs: [...nonResourceURLs] }
}

/** Upstream's eventsRule(): every controller may record events through either API group. */
export function eventsRule(): V1PolicyRule {
  return rule(['create', 'update', 'patch'], ['', 'events.k8s.io'], ['events'])
}

export function clusterRole(name: string, rules: V1PolicyRule[], labels?: Record<string, string>): V1ClusterRole {
  return { apiVersion: API_VERSION, kind: 'ClusterRole', metadata: defaultMetadata(name, undefined, labels), rules }
}

/** A ClusterRole whose rules the clusterrole-aggregation-controller fills from the roles labelled `aggregate-to-<label>`. */
export function aggregatedClusterRole(name: string, aggregateFrom: string, labels?: Record<string, string>): V1ClusterRole {
  return {
    apiVersion: API_VERSION,
    kind: 'ClusterRole',
    metadata: defaultMetadata(name, undefined, labels),
    aggregationRule: { clusterRoleSelectors: [{ matchLabels: { [`rbac.authorization.k8s.io/aggregate-to-${aggregateFrom}`]: 'true' } }] },
    rules: [],
  }
}

export function role(namespace: string, name: string, rules: V1PolicyRule[]): V1Role {
  return { apiVersion: API_VERSION, kind: 'Role', metadata: defaultMetadata(name, namespace), rules }
}

export function user(name: string): RbacV1Subject {
  return { apiGroup: RBAC_GROUP, kind: 'User', name }
}

export function group(name: string): RbacV1Subject {
  return { apiGroup: RBAC_GROUP, kind: 'Group', name }
}

export function serviceAccount(namespace: string, name: string): RbacV1Subject {
  return { kind: 'ServiceAccount', name, namespace }
}

export function clusterRoleBinding(name: string, roleName: string, subjects: RbacV1Subject[]): V1ClusterRoleBinding {
  return { apiVersion: API_VERSION, kind: 'ClusterRoleBinding', metadata: defaultMetadata(name), roleRef: { apiGroup: RBAC_GROUP, kind: 'ClusterRole', name: roleName }, subjects }
}

export function roleBinding(namespace: string, name: string, roleRef: { kind: 'Role' | 'ClusterRole'; name: string }, subjects: RbacV1Subject[]): V1RoleBinding {
  return { apiVersion: API_VERSION, kind: 'RoleBinding', metadata: defaultMetadata(name, namespace), roleRef: { apiGroup: RBAC_GROUP, ...roleRef }, subjects }
}
