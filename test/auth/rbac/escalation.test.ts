import t from 'tap'
import { RbacAuthorizer } from '../../../src/auth/rbac/authorizer.ts'
import { checkBindingWrite, checkRoleWrite, confirmNoEscalation } from '../../../src/auth/rbac/escalation.ts'
import type { BindingWrite, EscalationVerdict, RoleWrite } from '../../../src/auth/rbac/escalation.ts'
import type { UserInfo } from '../../../src/auth/types.ts'
import { clusterRole, clusterRoleBinding, role, roleBinding, rule, user } from './helpers.ts'

function world(): RbacAuthorizer {
  const a = new RbacAuthorizer()
  a.upsert(clusterRole('pods-and-config', [
    { apiGroups: [''], resources: ['pods', 'configmaps'], verbs: ['get', 'list', 'create'] },
  ]))
  a.upsert(clusterRole('rbac-writer', [{ apiGroups: ['rbac.authorization.k8s.io'], resources: ['roles', 'rolebindings', 'clusterroles', 'clusterrolebindings'], verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'] }]))
  a.upsert(clusterRole('escalator', [{ apiGroups: ['rbac.authorization.k8s.io'], resources: ['roles'], verbs: ['escalate'] }]))
  a.upsert(clusterRole('escalate-one', [{ apiGroups: ['rbac.authorization.k8s.io'], resources: ['roles'], verbs: ['escalate'], resourceNames: ['special'] }]))
  a.upsert(clusterRole('bind-admin', [{ apiGroups: ['rbac.authorization.k8s.io'], resources: ['clusterroles'], verbs: ['bind'], resourceNames: ['admin'] }]))
  a.upsert(clusterRole('admin', [{ apiGroups: ['*'], resources: ['*'], verbs: ['*'] }]))
  a.upsert(clusterRole('cluster-admin', [{ apiGroups: ['*'], resources: ['*'], verbs: ['*'] }, { verbs: ['*'], nonResourceURLs: ['*'] }]))
  a.upsert(roleBinding('team', 'alice-work', { kind: 'ClusterRole', name: 'pods-and-config' }, ['User:alice']))
  a.upsert(roleBinding('team', 'alice-rbac', { kind: 'ClusterRole', name: 'rbac-writer' }, ['User:alice', 'User:bob', 'User:carol', 'User:dave']))
  a.upsert(roleBinding('team', 'bob-escalate', { kind: 'ClusterRole', name: 'escalator' }, ['User:bob']))
  a.upsert(roleBinding('team', 'carol-escalate', { kind: 'ClusterRole', name: 'escalate-one' }, ['User:carol']))
  a.upsert(roleBinding('team', 'dave-bind', { kind: 'ClusterRole', name: 'bind-admin' }, ['User:dave']))
  a.upsert(clusterRoleBinding('root', 'cluster-admin', ['User:root']))
  return a
}

function roleWrite(a: RbacAuthorizer, u: UserInfo, over: Partial<RoleWrite>): RoleWrite {
  return { kind: 'Role', operation: 'create', user: u, namespace: 'team', object: role('team', 'r', []), authorizer: a, resolver: a, ...over }
}

function bindingWrite(a: RbacAuthorizer, u: UserInfo, over: Partial<BindingWrite>): BindingWrite {
  return { kind: 'RoleBinding', operation: 'create', user: u, namespace: 'team', object: roleBinding('team', 'b', { kind: 'ClusterRole', name: 'admin' }, ['User:x']), authorizer: a, resolver: a, ...over }
}

function refusal(v: EscalationVerdict): { code: number; reason: string; message: string } | undefined {
  return v.allowed ? undefined : { code: v.error.code, reason: v.error.reason, message: v.error.message }
}

const alice = user('alice', ['devs', 'system:authenticated'])

t.test('a role within the writer\'s own rules may be written', async (t) => {
  const a = world()
  const v = checkRoleWrite(roleWrite(a, alice, { object: role('team', 'r', [{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'list'] }]) }))
  t.same(v, { allowed: true })
})

t.test('a role beyond them is Forbidden with upstream\'s message', async (t) => {
  const a = world()
  const v = checkRoleWrite(roleWrite(a, alice, {
    object: role('team', 'nsadmin', [
      { apiGroups: [''], resources: ['pods', 'secrets'], verbs: ['get', 'delete'] },
      { apiGroups: [''], resources: ['configmaps'], resourceNames: ['c'], verbs: ['get'] },
    ]),
  }))
  t.same(refusal(v), {
    code: 403,
    reason: 'Forbidden',
    message:
      'roles.rbac.authorization.k8s.io "nsadmin" is forbidden: user "alice" (groups=["devs" "system:authenticated"]) is attempting to grant RBAC permissions not currently held:\n' +
      '{APIGroups:[""], Resources:["pods"], Verbs:["delete"]}\n' +
      '{APIGroups:[""], Resources:["secrets"], Verbs:["get" "delete"]}',
  })
  t.equal(checkRoleWrite(roleWrite(a, alice, { namespace: 'other', object: role('other', 'r', [{ apiGroups: [''], resources: ['pods'], verbs: ['get'] }]) })).allowed, false, 'rules held in one namespace do not count in another')
})

t.test('escalate on roles, or membership of system:masters, skips the check', async (t) => {
  const a = world()
  const big = role('team', 'special', [{ apiGroups: ['*'], resources: ['*'], verbs: ['*'] }])
  t.equal(checkRoleWrite(roleWrite(a, user('bob'), { object: big })).allowed, true)
  t.equal(checkRoleWrite(roleWrite(a, user('mallory', ['system:masters']), { object: big })).allowed, true)
  t.equal(checkRoleWrite(roleWrite(a, user('mallory'), { object: big })).allowed, false)
  // escalate limited to one name: a create is POSTed to the collection and names nothing.
  t.equal(checkRoleWrite(roleWrite(a, user('carol'), { object: big })).allowed, false, 'create: no name to match')
  t.equal(checkRoleWrite(roleWrite(a, user('carol'), { operation: 'update', object: big, oldObject: role('team', 'special', []) })).allowed, true, 'update of that name')
  a.upsert(clusterRole('rbac-star', [{ apiGroups: ['rbac.authorization.k8s.io'], resources: ['roles'], verbs: ['*'] }]))
  a.upsert(roleBinding('team', 'erin-star', { kind: 'ClusterRole', name: 'rbac-star' }, ['User:erin']))
  t.equal(checkRoleWrite(roleWrite(a, user('erin'), { object: big })).allowed, true, 'verb * includes escalate')
  const other = role('team', 'other', big.rules!)
  t.equal(checkRoleWrite(roleWrite(a, user('carol'), { operation: 'update', object: other, oldObject: role('team', 'other', []) })).allowed, false, 'update of another name')
})

t.test('an update that only touches garbage-collector fields is allowed', async (t) => {
  const a = world()
  const old = role('team', 'big', [{ apiGroups: ['*'], resources: ['*'], verbs: ['*'] }])
  old.metadata!.resourceVersion = '5'
  const next = structuredClone(old)
  next.metadata!.finalizers = ['foregroundDeletion']
  next.metadata!.ownerReferences = [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'o', uid: 'u' }]
  t.equal(checkRoleWrite(roleWrite(a, alice, { operation: 'update', object: next, oldObject: old })).allowed, true)
  next.metadata!.labels = { a: 'b' }
  t.equal(checkRoleWrite(roleWrite(a, alice, { operation: 'update', object: next, oldObject: old })).allowed, false)
})

t.test('ClusterRoles: cluster-wide rules only, and an aggregationRule needs everything', async (t) => {
  const a = world()
  const cr = clusterRole('readers', [{ apiGroups: [''], resources: ['pods'], verbs: ['get'] }])
  t.match(refusal(checkRoleWrite(roleWrite(a, alice, { kind: 'ClusterRole', namespace: '', object: cr }))), {
    message: /^clusterroles\.rbac\.authorization\.k8s\.io "readers" is forbidden: user "alice"/,
  })
  a.upsert(clusterRoleBinding('alice-pods', 'pods-and-config', ['User:alice']))
  t.equal(checkRoleWrite(roleWrite(a, alice, { kind: 'ClusterRole', namespace: '', object: cr })).allowed, true)
  const agg = clusterRole('agg', [], { aggregationRule: { clusterRoleSelectors: [{ matchLabels: { a: 'b' } }] } })
  t.same(refusal(checkRoleWrite(roleWrite(a, alice, { kind: 'ClusterRole', namespace: '', object: agg }))), {
    code: 403,
    reason: 'Forbidden',
    message: 'clusterroles.rbac.authorization.k8s.io "agg" is forbidden: must have cluster-admin privileges to use the aggregationRule',
  })
  t.equal(checkRoleWrite(roleWrite(a, alice, { kind: 'ClusterRole', operation: 'update', namespace: '', object: cr, oldObject: agg })).allowed, false, 'removing an aggregationRule needs it too')
  t.equal(checkRoleWrite(roleWrite(a, user('root'), { kind: 'ClusterRole', namespace: '', object: agg })).allowed, true, 'cluster-admin holds everything')
})

t.test('a nameless create (generateName) and resolution errors read as upstream', async (t) => {
  const a = world()
  a.upsert(roleBinding('team', 'broken', { kind: 'Role', name: 'gone' }, ['User:alice']))
  const obj = role('team', '', [{ apiGroups: [''], resources: ['secrets'], verbs: ['get'] }])
  t.equal(
    refusal(checkRoleWrite(roleWrite(a, alice, { object: obj })))?.message,
    'roles.rbac.authorization.k8s.io is forbidden: user "alice" (groups=["devs" "system:authenticated"]) is attempting to grant RBAC permissions not currently held:\n' +
      '{APIGroups:[""], Resources:["secrets"], Verbs:["get"]}; resolution errors: [role.rbac.authorization.k8s.io "gone" not found]',
  )
})

t.test('malformed rules are refused, not crashed on', async (t) => {
  const a = world()
  t.throws(() => checkRoleWrite(roleWrite(a, alice, { object: { kind: 'Role', metadata: { name: 'r' }, rules: [{ verbs: [1] }] } as never })), /verbs\[0\] must be a string/)
})

t.test('bindings: bind on the role, or holding all its rules', async (t) => {
  const a = world()
  t.equal(checkBindingWrite(bindingWrite(a, user('dave'), {})).allowed, true, 'dave may bind admin')
  const refused = refusal(checkBindingWrite(bindingWrite(a, alice, {})))
  t.same(refused, {
    code: 403,
    reason: 'Forbidden',
    message:
      'rolebindings.rbac.authorization.k8s.io "b" is forbidden: user "alice" (groups=["devs" "system:authenticated"]) is attempting to grant RBAC permissions not currently held:\n' +
      '{APIGroups:["*"], Resources:["*"], Verbs:["*"]}',
  })
  const podsBinding = roleBinding('team', 'b2', { kind: 'ClusterRole', name: 'pods-and-config' }, ['User:x'])
  t.equal(checkBindingWrite(bindingWrite(a, alice, { object: podsBinding })).allowed, true, 'alice holds every rule of pods-and-config here')
  t.equal(checkBindingWrite(bindingWrite(a, alice, { namespace: 'elsewhere', object: podsBinding })).allowed, false, 'but not in another namespace')
  t.equal(checkBindingWrite(bindingWrite(a, user('dave'), { namespace: 'elsewhere' })).allowed, false, 'bind is granted per namespace')
  t.equal(checkBindingWrite(bindingWrite(a, user('x', ['system:masters']), {})).allowed, true)
})

t.test('ClusterRoleBindings are checked cluster-wide', async (t) => {
  const a = world()
  const crb = clusterRoleBinding('c', 'pods-and-config', ['User:x'])
  t.match(refusal(checkBindingWrite(bindingWrite(a, alice, { kind: 'ClusterRoleBinding', namespace: '', object: crb }))), { message: /^clusterrolebindings\.rbac\.authorization\.k8s\.io "c" is forbidden: / })
  t.equal(checkBindingWrite(bindingWrite(a, user('root'), { kind: 'ClusterRoleBinding', namespace: '', object: crb })).allowed, true)
})

t.test('binding a role that does not exist: NotFound unless bind is held', async (t) => {
  const a = world()
  const ghost = roleBinding('team', 'g', { kind: 'Role', name: 'ghost' }, ['User:x'])
  t.same(refusal(checkBindingWrite(bindingWrite(a, alice, { object: ghost }))), { code: 404, reason: 'NotFound', message: 'roles.rbac.authorization.k8s.io "ghost" not found' })
  a.upsert(clusterRole('bind-any-role', [{ apiGroups: ['rbac.authorization.k8s.io'], resources: ['roles'], verbs: ['bind'] }]))
  a.upsert(roleBinding('team', 'alice-bind', { kind: 'ClusterRole', name: 'bind-any-role' }, ['User:alice']))
  t.equal(checkBindingWrite(bindingWrite(a, alice, { object: ghost })).allowed, true)
  t.throws(() => checkBindingWrite(bindingWrite(a, user('eve'), { object: { kind: 'RoleBinding', metadata: { name: 'x' } } as never })), /roleRef is required/)
})

t.test('confirmNoEscalation de-duplicates and sorts the missing rules', async (t) => {
  const msg = confirmNoEscalation(user('u'), { rules: [], errors: [] }, [
    rule({ verbs: ['list'], resources: ['b'] }),
    rule({ verbs: ['get'], resources: ['a'], resourceNames: ['n'] }),
    rule({ verbs: ['get'], resources: ['a'], resourceNames: ['n'] }),
  ])
  t.equal(msg, 'user "u" (groups=[]) is attempting to grant RBAC permissions not currently held:\n{APIGroups:[""], Resources:["a"], ResourceNames:["n"], Verbs:["get"]}\n{APIGroups:[""], Resources:["b"], Verbs:["list"]}')
  t.equal(confirmNoEscalation(user('u'), { rules: [rule({ verbs: ['*'], resources: ['*'] })], errors: [] }, [rule({ verbs: ['get'], resources: ['a'] })]), undefined)
})
