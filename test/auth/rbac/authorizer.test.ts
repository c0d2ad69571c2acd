import t from 'tap'
import { RbacAuthorizer } from '../../../src/auth/rbac/authorizer.ts'
import { clusterRole, clusterRoleBinding, nonRes, res, role, roleBinding, user } from './helpers.ts'

const podsReader = [{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'list'] }]

t.test('ClusterRoleBinding to a user, with the upstream reason text', async (t) => {
  const a = new RbacAuthorizer()
  a.upsert(clusterRole('pod-reader', podsReader))
  a.upsert(clusterRoleBinding('read-pods', 'pod-reader', ['User:alice']))
  const d = a.authorize(res(user('alice'), 'get', 'pods', { namespace: 'ns1' }))
  t.same(d, { decision: 'allow', reason: 'RBAC: allowed by ClusterRoleBinding "read-pods" of ClusterRole "pod-reader" to User "alice"' })
  t.same(a.authorize(res(user('alice'), 'delete', 'pods', { namespace: 'ns1' })), { decision: 'noOpinion', reason: '' })
  t.same(a.authorize(res(user('bob'), 'get', 'pods')), { decision: 'noOpinion', reason: '' })
})

t.test('groups: any of the user\'s groups, and the first applying subject is named', async (t) => {
  const a = new RbacAuthorizer()
  a.upsert(clusterRole('pod-reader', podsReader))
  a.upsert(clusterRoleBinding('b', 'pod-reader', ['User:carol', 'Group:devs', 'Group:ops']))
  t.equal(a.authorize(res(user('bob', ['x', 'ops', 'devs']), 'list', 'pods')).reason, 'RBAC: allowed by ClusterRoleBinding "b" of ClusterRole "pod-reader" to Group "devs"')
  t.equal(a.authorize(res(user('dave', ['devsx']), 'list', 'pods')).decision, 'noOpinion')
  t.equal(a.authorize(res(user('devs'), 'list', 'pods')).decision, 'noOpinion', 'a group name is not a username')
})

t.test('RoleBinding to a Role, only in its namespace', async (t) => {
  const a = new RbacAuthorizer()
  a.upsert(role('ns1', 'editor', [{ apiGroups: ['apps'], resources: ['deployments'], verbs: ['*'] }]))
  a.upsert(roleBinding('ns1', 'edit', { kind: 'Role', name: 'editor' }, ['User:alice']))
  const alice = user('alice')
  t.same(a.authorize(res(alice, 'update', 'deployments', { namespace: 'ns1', apiGroup: 'apps', name: 'web' })), {
    decision: 'allow',
    reason: 'RBAC: allowed by RoleBinding "edit/ns1" of Role "editor" to User "alice"',
  })
  t.equal(a.authorize(res(alice, 'update', 'deployments', { namespace: 'ns2', apiGroup: 'apps' })).decision, 'noOpinion')
  t.equal(a.authorize(res(alice, 'list', 'deployments', { namespace: '', apiGroup: 'apps' })).decision, 'noOpinion', 'cluster-wide requests see no RoleBindings')
})

t.test('RoleBinding to a ClusterRole applies its rules within the namespace', async (t) => {
  const a = new RbacAuthorizer()
  a.upsert(clusterRole('admin', [{ apiGroups: ['*'], resources: ['*'], verbs: ['*'] }]))
  a.upsert(roleBinding('ns1', 'admins', { kind: 'ClusterRole', name: 'admin' }, ['User:admin', 'Group:admins']))
  t.equal(a.authorize(res(user('admin'), 'get', 'Pods', { namespace: 'ns1' })).reason, 'RBAC: allowed by RoleBinding "admins/ns1" of ClusterRole "admin" to User "admin"')
  t.equal(a.authorize(res(user('joe', ['group1', 'admins']), 'watch', 'Foobar', { namespace: 'ns1' })).decision, 'allow')
  t.equal(a.authorize(res(user('admin'), 'GET', 'Pods', { namespace: 'ns2' })).decision, 'noOpinion')
  t.equal(a.authorize(res(user('admin'), 'GET', 'Nodes')).decision, 'noOpinion')
})

t.test('service accounts: by namespace and name; a RoleBinding subject without namespace means the binding\'s', async (t) => {
  const a = new RbacAuthorizer()
  a.upsert(clusterRole('view', podsReader))
  a.upsert(roleBinding('team', 'local', { kind: 'ClusterRole', name: 'view' }, ['ServiceAccount:builder']))
  a.upsert(roleBinding('team', 'remote', { kind: 'ClusterRole', name: 'view' }, ['ServiceAccount:ci/deployer']))
  a.upsert(clusterRoleBinding('everywhere', 'view', ['ServiceAccount:kube-system/dns']))
  a.upsert(clusterRoleBinding('nowhere', 'view', ['ServiceAccount:orphan']))
  const sa = (ns: string, name: string) => user(`system:serviceaccount:${ns}:${name}`, ['system:serviceaccounts', `system:serviceaccounts:${ns}`])
  t.equal(a.authorize(res(sa('team', 'builder'), 'get', 'pods', { namespace: 'team' })).reason, 'RBAC: allowed by RoleBinding "local/team" of ClusterRole "view" to ServiceAccount "builder/team"')
  t.equal(a.authorize(res(sa('ci', 'deployer'), 'get', 'pods', { namespace: 'team' })).reason, 'RBAC: allowed by RoleBinding "remote/team" of ClusterRole "view" to ServiceAccount "deployer/ci"')
  t.equal(a.authorize(res(sa('kube-system', 'dns'), 'list', 'pods')).reason, 'RBAC: allowed by ClusterRoleBinding "everywhere" of ClusterRole "view" to ServiceAccount "dns/kube-system"')
  t.equal(a.authorize(res(sa('other', 'builder'), 'get', 'pods', { namespace: 'team' })).decision, 'noOpinion')
  t.equal(a.authorize(res(sa('', 'orphan'), 'get', 'pods')).decision, 'noOpinion', 'an SA subject without namespace in a ClusterRoleBinding matches nobody')
  t.equal(a.authorize(res(user('system:serviceaccount::orphan'), 'get', 'pods')).decision, 'noOpinion')
  t.equal(a.authorize(res(user('builder'), 'get', 'pods', { namespace: 'team' })).decision, 'noOpinion', 'a bare name is not the service account')
})

t.test('a binding to a missing role grants nothing; the reason names what is missing, as upstream', async (t) => {
  const a = new RbacAuthorizer()
  a.upsert(clusterRoleBinding('dangling', 'ghost', ['User:alice']))
  a.upsert(roleBinding('ns1', 'dangling-role', { kind: 'Role', name: 'nope' }, ['User:alice']))
  const d = a.authorize(res(user('alice'), 'get', 'pods', { namespace: 'ns1' }))
  t.same(d, {
    decision: 'noOpinion',
    reason: 'RBAC: [clusterrole.rbac.authorization.k8s.io "ghost" not found, role.rbac.authorization.k8s.io "nope" not found]',
  })
  t.same(a.authorize(res(user('alice'), 'get', 'pods')), { decision: 'noOpinion', reason: 'RBAC: clusterrole.rbac.authorization.k8s.io "ghost" not found' })
  t.equal(a.authorize(res(user('bob'), 'get', 'pods')).reason, '', 'other users see no errors')
  a.upsert(clusterRole('ghost', podsReader))
  t.equal(a.authorize(res(user('alice'), 'get', 'pods')).decision, 'allow', 'the role arriving later takes effect without touching the binding')
  a.remove('ClusterRole', '', 'ghost')
  t.equal(a.authorize(res(user('alice'), 'get', 'pods')).decision, 'noOpinion', 'and removing it takes it away')
})

t.test('a Role referenced from another namespace is not found', async (t) => {
  const a = new RbacAuthorizer()
  a.upsert(role('ns2', 'r', podsReader))
  a.upsert(roleBinding('ns1', 'b', { kind: 'Role', name: 'r' }, ['User:alice']))
  t.equal(a.authorize(res(user('alice'), 'get', 'pods', { namespace: 'ns1' })).decision, 'noOpinion')
  t.equal(a.authorize(res(user('alice'), 'get', 'pods', { namespace: 'ns2' })).decision, 'noOpinion')
})

t.test('resourceNames and subresources through the authorizer', async (t) => {
  const a = new RbacAuthorizer()
  a.upsert(clusterRole('cm', [
    { apiGroups: [''], resources: ['configmaps'], resourceNames: ['app-config'], verbs: ['get', 'update'] },
    { apiGroups: [''], resources: ['pods/log', 'pods/status'], verbs: ['get'] },
  ]))
  a.upsert(roleBinding('ns', 'b', { kind: 'ClusterRole', name: 'cm' }, ['User:u']))
  const u = user('u')
  t.equal(a.authorize(res(u, 'get', 'configmaps', { namespace: 'ns', name: 'app-config' })).decision, 'allow')
  t.equal(a.authorize(res(u, 'get', 'configmaps', { namespace: 'ns', name: 'other' })).decision, 'noOpinion')
  t.equal(a.authorize(res(u, 'list', 'configmaps', { namespace: 'ns' })).decision, 'noOpinion')
  t.equal(a.authorize(res(u, 'get', 'pods', { namespace: 'ns', subresource: 'log', name: 'p' })).decision, 'allow')
  t.equal(a.authorize(res(u, 'get', 'pods', { namespace: 'ns', name: 'p' })).decision, 'noOpinion')
  t.equal(a.authorize(res(u, 'get', 'pods', { namespace: 'ns', subresource: 'exec', name: 'p' })).decision, 'noOpinion')
})

t.test('non-resource URLs (upstream TestAuthorizer)', async (t) => {
  const a = new RbacAuthorizer()
  a.upsert(clusterRole('non-resource-url-getter', [{ verbs: ['get'], nonResourceURLs: ['/apis'] }]))
  a.upsert(clusterRole('non-resource-url', [{ verbs: ['*'], nonResourceURLs: ['/apis'] }]))
  a.upsert(clusterRole('non-resource-url-prefix', [{ verbs: ['get'], nonResourceURLs: ['/apis/*'] }]))
  a.upsert(clusterRoleBinding('b1', 'non-resource-url-getter', ['User:foo', 'Group:bar']))
  a.upsert(clusterRoleBinding('b2', 'non-resource-url', ['User:admin', 'Group:admin']))
  a.upsert(clusterRoleBinding('b3', 'non-resource-url-prefix', ['User:prefixed', 'Group:prefixed']))
  const pass: [string, string[], string, string][] = [
    ['foo', [], 'get', '/apis'],
    ['', ['bar'], 'get', '/apis'],
    ['admin', [], 'watch', '/apis'],
    ['', ['admin'], 'watch', '/apis'],
    ['prefixed', [], 'get', '/apis/v1'],
    ['', ['prefixed'], 'get', '/apis/v1/foobar'],
  ]
  const fail: [string, string[], string, string][] = [
    ['foo', [], 'watch', '/apis'],
    ['', ['bar'], 'watch', '/apis'],
    ['foo', [], 'get', '/api/v1'],
    ['admin', [], 'get', '/api/v1'],
    ['prefixed', [], 'get', '/api/v1'],
    ['prefixed', [], 'get', '/apis'],
  ]
  for (const [n, g, v, p] of pass) t.equal(a.authorize(nonRes(user(n, g), v, p)).decision, 'allow', `${n}/${g} ${v} ${p}`)
  for (const [n, g, v, p] of fail) t.equal(a.authorize(nonRes(user(n, g), v, p)).decision, 'noOpinion', `${n}/${g} ${v} ${p}`)
  t.equal(a.authorize(nonRes(user('foo'), 'get', '/apis')).reason, 'RBAC: allowed by ClusterRoleBinding "b1" of ClusterRole "non-resource-url-getter" to User "foo"')
})

t.test('names in reasons are quoted as Go %q does', async (t) => {
  const a = new RbacAuthorizer()
  a.upsert(clusterRole('r"1', podsReader))
  a.upsert(clusterRoleBinding('b\n1', 'r"1', ['User:é\u0001']))
  t.equal(a.authorize(res(user('é\u0001'), 'get', 'pods')).reason, 'RBAC: allowed by ClusterRoleBinding "b\\n1" of ClusterRole "r\\"1" to User "é\\x01"')
})

t.test('ClusterRoleBindings are consulted before RoleBindings, bindings in arrival order', async (t) => {
  const a = new RbacAuthorizer()
  a.upsert(clusterRole('view', podsReader))
  a.upsert(roleBinding('ns', 'rb', { kind: 'ClusterRole', name: 'view' }, ['User:u']))
  a.upsert(clusterRoleBinding('z-first', 'view', ['User:u']))
  a.upsert(clusterRoleBinding('a-second', 'view', ['Group:g']))
  t.match(a.authorize(res(user('u', ['g']), 'get', 'pods', { namespace: 'ns' })).reason, /ClusterRoleBinding "z-first"/)
  a.upsert(clusterRoleBinding('z-first', 'view', ['User:u', 'Group:g']))
  t.match(a.authorize(res(user('u', ['g']), 'get', 'pods', { namespace: 'ns' })).reason, /ClusterRoleBinding "z-first"/, 'an update keeps its place')
  a.remove('ClusterRoleBinding', '', 'z-first')
  t.match(a.authorize(res(user('u', ['g']), 'get', 'pods', { namespace: 'ns' })).reason, /ClusterRoleBinding "a-second"/)
  a.remove('ClusterRoleBinding', '', 'a-second')
  t.match(a.authorize(res(user('u', ['g']), 'get', 'pods', { namespace: 'ns' })).reason, /RoleBinding "rb\/ns"/)
})

t.test('updates re-file a binding under its new subjects; removals forget it', async (t) => {
  const a = new RbacAuthorizer()
  a.upsert(clusterRole('view', podsReader))
  a.upsert(roleBinding('ns', 'b', { kind: 'ClusterRole', name: 'view' }, ['User:alice']))
  t.equal(a.authorize(res(user('alice'), 'get', 'pods', { namespace: 'ns' })).decision, 'allow')
  a.upsert(roleBinding('ns', 'b', { kind: 'ClusterRole', name: 'view' }, ['User:bob']))
  t.equal(a.authorize(res(user('alice'), 'get', 'pods', { namespace: 'ns' })).decision, 'noOpinion')
  t.equal(a.authorize(res(user('bob'), 'get', 'pods', { namespace: 'ns' })).decision, 'allow')
  t.ok(a.remove('RoleBinding', 'ns', 'b'))
  t.notOk(a.remove('RoleBinding', 'ns', 'b'))
  t.equal(a.authorize(res(user('bob'), 'get', 'pods', { namespace: 'ns' })).decision, 'noOpinion')
  t.same(a.bindings('ns'), [])
})

t.test('list items without kind, and malformed objects refused whole', async (t) => {
  const a = new RbacAuthorizer()
  a.upsert({ metadata: { name: 'view' }, rules: podsReader }, 'ClusterRole')
  a.upsert({ metadata: { name: 'b' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'view' }, subjects: [{ kind: 'User', name: 'u' }] }, 'ClusterRoleBinding')
  t.equal(a.authorize(res(user('u'), 'get', 'pods')).decision, 'allow')
  t.throws(() => a.upsert({ metadata: { name: 'x' } }), /needs a kind/)
  t.throws(() => a.upsert({ kind: 'Pod', metadata: { name: 'x' } }), /not one of/)
  t.throws(() => a.upsert({ kind: 'Role', metadata: { name: 'x' }, rules: [] }), /metadata.namespace is required/)
  t.throws(() => a.upsert(clusterRole('view', [{ verbs: 'get' as unknown as string[] }])), /rules\[0\]\.verbs must be a list/)
  t.throws(() => a.upsert({ kind: 'ClusterRoleBinding', metadata: { name: 'b' }, subjects: [] }), /roleRef is required/)
  t.throws(() => a.upsert({ kind: 'ClusterRoleBinding', metadata: { name: 'b' }, roleRef: { kind: 'ClusterRole', name: 'view' }, subjects: [{ kind: 'User', name: 7 }] }), /subjects\[0\]\.name must be a string/)
  t.throws(() => a.upsert(clusterRole('view', []), 'Role'), /expected/)
  t.equal(a.authorize(res(user('u'), 'get', 'pods')).decision, 'allow', 'refused updates change nothing')
  t.throws(() => a.remove('Pod' as 'Role', 'ns', 'x'), /not an RBAC kind/)
})

t.test('unknown subject and roleRef kinds grant nothing', async (t) => {
  const a = new RbacAuthorizer()
  a.upsert(clusterRole('view', podsReader))
  a.upsert({ kind: 'ClusterRoleBinding', metadata: { name: 'b' }, roleRef: { kind: 'ClusterRole', name: 'view' }, subjects: [{ kind: 'user', name: 'u' }, { kind: 'Robot', name: 'u' }] })
  a.upsert({ kind: 'ClusterRoleBinding', metadata: { name: 'c' }, roleRef: { kind: 'Thing', name: 'view' }, subjects: [{ kind: 'User', name: 'v' }] })
  t.same(a.authorize(res(user('u'), 'get', 'pods')), { decision: 'noOpinion', reason: '' })
  t.same(a.authorize(res(user('v'), 'get', 'pods')), { decision: 'noOpinion', reason: 'RBAC: unsupported role reference kind: "Thing"' })
})

t.test('rulesFor: cluster-wide and namespaced rules split as SelfSubjectRulesReview reports them', async (t) => {
  const a = new RbacAuthorizer()
  a.upsert(clusterRole('discovery', [{ verbs: ['get'], nonResourceURLs: ['/api', '/api/*'] }]))
  a.upsert(clusterRole('cm', [{ apiGroups: [''], resources: ['configmaps'], resourceNames: ['c'], verbs: ['get'] }]))
  a.upsert(role('ns', 'pods', podsReader))
  a.upsert(clusterRoleBinding('d', 'discovery', ['Group:system:authenticated']))
  a.upsert(roleBinding('ns', 'p', { kind: 'Role', name: 'pods' }, ['User:u']))
  a.upsert(roleBinding('ns', 'c', { kind: 'ClusterRole', name: 'cm' }, ['User:u']))
  a.upsert(roleBinding('ns', 'gone', { kind: 'Role', name: 'gone' }, ['User:u']))
  const u = user('u', ['system:authenticated'])
  t.same(a.rulesFor(u, 'ns'), {
    resourceRules: [
      { verbs: ['get', 'list'], apiGroups: [''], resources: ['pods'] },
      { verbs: ['get'], apiGroups: [''], resources: ['configmaps'], resourceNames: ['c'] },
    ],
    nonResourceRules: [{ verbs: ['get'], nonResourceURLs: ['/api', '/api/*'] }],
    incomplete: false,
    evaluationError: 'role.rbac.authorization.k8s.io "gone" not found',
  })
  t.same(a.rulesFor(u, ''), { resourceRules: [], nonResourceRules: [{ verbs: ['get'], nonResourceURLs: ['/api', '/api/*'] }], incomplete: false })
  const review = a.rulesFor(u, 'ns')
  review.resourceRules[0].verbs.push('delete')
  t.equal(a.authorize(res(u, 'delete', 'pods', { namespace: 'ns' })).decision, 'noOpinion', 'the review is a copy')
})

t.test('policyRulesFor hands out rules that cannot be changed', async (t) => {
  const a = new RbacAuthorizer()
  a.upsert(clusterRole('view', podsReader))
  a.upsert(clusterRoleBinding('b', 'view', ['User:u']))
  const { rules } = a.policyRulesFor(user('u'), '')
  t.throws(() => rules[0].verbs.push('delete'))
  t.equal(a.authorize(res(user('u'), 'delete', 'pods')).decision, 'noOpinion')
})
