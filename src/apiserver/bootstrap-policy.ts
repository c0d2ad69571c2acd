// The default RBAC policy, put in place at every start as kube-apiserver's rbac/bootstrap-
// roles post-start hook does: missing roles and bindings are created; existing ones that
// carry `rbac.authorization.kubernetes.io/autoupdate: "true"` get back any default rule or
// subject they lost (extra ones a user added are kept); `autoupdate: "false"` ones are left alone.
import { defaultClusterRoleBindings, defaultClusterRoles, defaultRoleBindings, defaultRoles } from '../auth/policy/bootstrap-policy.ts'
import { deepEqual } from './patch-values.ts'
import type { KObject } from './objects.ts'

type Obj = Record<string, any>

const AUTOUPDATE = 'rbac.authorization.kubernetes.io/autoupdate'

export interface PolicyObject {
  kind: string
  namespace: string | undefined
  body: Obj
}

export function defaultPolicy(): PolicyObject[] {
  const ns = (o: Obj) => o.metadata?.namespace as string | undefined
  return [
    ...defaultClusterRoles().map((o) => ({ kind: 'ClusterRole', namespace: undefined, body: o as Obj })),
    ...defaultClusterRoleBindings().map((o) => ({ kind: 'ClusterRoleBinding', namespace: undefined, body: o as Obj })),
    ...defaultRoles().map((o) => ({ kind: 'Role', namespace: ns(o), body: o as Obj })),
    ...defaultRoleBindings().map((o) => ({ kind: 'RoleBinding', namespace: ns(o), body: o as Obj })),
  ]
}

function missing(wanted: unknown[] | undefined, have: unknown[] | undefined): unknown[] {
  return (wanted ?? []).filter((w) => !(have ?? []).some((h) => deepEqual(h, w)))
}

/** The reconciled object, or undefined when `current` needs nothing. */
export function reconcilePolicyObject(wanted: Obj, current: KObject): KObject | undefined {
  if (current.metadata.annotations?.[AUTOUPDATE] === 'false') return undefined
  const next = structuredClone(current)
  let changed = false
  if (wanted.rules) {
    const add = missing(wanted.rules, current.rules)
    if (add.length) {
      next.rules = [...(current.rules ?? []), ...add]
      changed = true
    }
  }
  if (wanted.aggregationRule && !deepEqual(wanted.aggregationRule, current.aggregationRule)) {
    next.aggregationRule = wanted.aggregationRule
    changed = true
  }
  if (wanted.subjects) {
    const add = missing(wanted.subjects, current.subjects)
    if (add.length) {
      next.subjects = [...(current.subjects ?? []), ...add]
      changed = true
    }
  }
  return changed ? next : undefined
}
