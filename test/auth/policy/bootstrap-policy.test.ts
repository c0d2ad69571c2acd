import t from 'tap'
import type { RbacV1Subject, V1ClusterRole, V1ClusterRoleBinding, V1PolicyRule, V1Role, V1RoleBinding } from '@kubernetes/client-node'
import { defaultClusterRoleBindings, defaultClusterRoles, defaultRoleBindings, defaultRoles } from '../../../src/auth/policy/bootstrap-policy.ts'

const clusterRoles = defaultClusterRoles()
const clusterBindings = defaultClusterRoleBindings()
const roles = defaultRoles()
const roleBindings = defaultRoleBindings()

const byName = <T extends { metadata?: { name?: string } }>(items: T[], name: string): T => {
  const found = items.find((i) => i.metadata?.name === name)
  if (!found) throw new Error(`no ${name}`)
  return found
}
const nsKey = (o: { metadata?: { namespace?: string; name?: string } }) => `${o.metadata?.namespace}/${o.metadata?.name}`
const subjectText = (s: RbacV1Subject) => (s.kind === 'ServiceAccount' ? `ServiceAccount:${s.namespace}/${s.name}` : `${s.kind}:${s.name}`)
const subjectsOf = (b: V1ClusterRoleBinding | V1RoleBinding) => (b.subjects ?? []).map(subjectText).sort()

/** Whether any rule grants verb on group/resource (exact or `*`), as RBAC matches rules. */
function grants(rules: V1PolicyRule[], verb: string, apiGroup: string, resource: string, name?: string): boolean {
  const has = (list: string[] | undefined, v: string) => !!list && (list.includes(v) || list.includes('*'))
  return rules.some((r) => has(r.verbs, verb) && has(r.apiGroups, apiGroup) && has(r.resources, resource) && (!r.resourceNames?.length || (name !== undefined && r.resourceNames.includes(name))))
}

function ruleProblems(rules: V1PolicyRule[] | undefined, clusterScoped: boolean): string[] {
  const problems: string[] = []
  for (const [i, r] of (rules ?? []).entries()) {
    if (!r.verbs?.length || r.verbs.some((v) => !v)) problems.push(`rule ${i}: no verbs`)
    const resourceRule = !!(r.resources?.length || r.apiGroups?.length)
    const urlRule = !!r.nonResourceURLs?.length
    if (resourceRule === urlRule) problems.push(`rule ${i}: needs resources+apiGroups or nonResourceURLs, not both or neither`)
    if (resourceRule && (!r.resources?.length || !r.apiGroups?.length)) problems.push(`rule ${i}: resources without apiGroups or the reverse`)
    if (urlRule && !clusterScoped) problems.push(`rule ${i}: nonResourceURLs in a namespaced Role`)
    if (urlRule && r.resourceNames?.length) problems.push(`rule ${i}: resourceNames on a URL rule`)
  }
  return problems
}

function subjectProblems(s: RbacV1Subject): string[] {
  if (!s.name) return ['subject without a name']
  switch (s.kind) {
    case 'User':
    case 'Group':
      return s.apiGroup === 'rbac.authorization.k8s.io' && s.namespace === undefined ? [] : [`${s.kind} ${s.name}: apiGroup must be rbac.authorization.k8s.io and no namespace`]
    case 'ServiceAccount':
      return (s.apiGroup ?? '') === '' && !!s.namespace ? [] : [`ServiceAccount ${s.name}: needs a namespace and the core group`]
    default:
      return [`unknown subject kind ${s.kind}`]
  }
}

t.test('names are unique within each kind (and namespace)', async (t) => {
  const dupes = (keys: string[]) => keys.filter((k, i) => keys.indexOf(k) !== i)
  t.same(dupes(clusterRoles.map((r) => r.metadata!.name!)), [])
  t.same(dupes(clusterBindings.map((r) => r.metadata!.name!)), [])
  t.same(dupes(roles.map(nsKey)), [])
  t.same(dupes(roleBindings.map(nsKey)), [])
  for (const r of [...roles, ...roleBindings]) t.ok(r.metadata?.namespace, `${r.metadata?.name} has a namespace`)
  for (const r of [...clusterRoles, ...clusterBindings]) t.equal(r.metadata?.namespace, undefined, `${r.metadata?.name} is cluster-scoped`)
})

t.test('every rule is well formed; URL rules only in ClusterRoles', async (t) => {
  for (const r of clusterRoles) t.same(ruleProblems(r.rules, true), [], r.metadata!.name!)
  for (const r of roles) t.same(ruleProblems(r.rules, false), [], nsKey(r))
  t.ok(ruleProblems([{ verbs: ['get'], nonResourceURLs: ['/x'] }], false).length, 'the check refuses a URL rule in a Role')
  t.ok(ruleProblems([{ verbs: [], apiGroups: [''], resources: ['pods'] }], true).length, 'the check refuses a rule without verbs')
  t.ok(ruleProblems([{ verbs: ['get'], resources: ['pods'] }], true).length, 'the check refuses resources without apiGroups')
})

t.test("every binding's roleRef exists and every subject is well formed", async (t) => {
  const clusterRoleNames = new Set(clusterRoles.map((r) => r.metadata!.name!))
  const roleKeys = new Set(roles.map(nsKey))
  for (const b of clusterBindings) {
    t.equal(b.roleRef.apiGroup, 'rbac.authorization.k8s.io')
    t.equal(b.roleRef.kind, 'ClusterRole', `${b.metadata!.name} refers to a ClusterRole`)
    t.ok(clusterRoleNames.has(b.roleRef.name), `${b.metadata!.name} → ${b.roleRef.name} exists`)
    for (const s of b.subjects ?? []) t.same(subjectProblems(s), [], b.metadata!.name!)
  }
  for (const b of roleBindings) {
    const exists = b.roleRef.kind === 'Role' ? roleKeys.has(`${b.metadata!.namespace}/${b.roleRef.name}`) : clusterRoleNames.has(b.roleRef.name)
    t.ok(exists, `${nsKey(b)} → ${b.roleRef.kind} ${b.roleRef.name} exists`)
    for (const s of b.subjects ?? []) t.same(subjectProblems(s), [], nsKey(b))
  }
  t.ok(subjectProblems({ kind: 'ServiceAccount', name: 'x' }).length, 'the check refuses a ServiceAccount without a namespace')
  t.ok(subjectProblems({ kind: 'User', name: 'x' }).length, 'the check refuses a User without the RBAC apiGroup')
})

t.test('every object carries the bootstrapping label and the autoupdate annotation', async (t) => {
  for (const o of [...clusterRoles, ...clusterBindings, ...roles, ...roleBindings]) {
    t.equal(o.metadata?.labels?.['kubernetes.io/bootstrapping'], 'rbac-defaults', o.metadata!.name!)
    t.equal(o.metadata?.annotations?.['rbac.authorization.kubernetes.io/autoupdate'], 'true', o.metadata!.name!)
    t.equal(o.apiVersion, 'rbac.authorization.k8s.io/v1')
  }
  t.equal(byName(clusterRoles, 'view').kind, 'ClusterRole')
  t.equal(byName(clusterBindings, 'cluster-admin').kind, 'ClusterRoleBinding')
  t.equal(roles[0].kind, 'Role')
  t.equal(roleBindings[0].kind, 'RoleBinding')
})

t.test('the roles the brief names are all there', async (t) => {
  const names = new Set(clusterRoles.map((r) => r.metadata!.name!))
  for (const n of [
    'cluster-admin', 'admin', 'edit', 'view', 'system:aggregate-to-admin', 'system:aggregate-to-edit', 'system:aggregate-to-view',
    'system:basic-user', 'system:discovery', 'system:public-info-viewer', 'system:monitoring', 'system:auth-delegator', 'system:node',
    'system:node-proxier', 'system:node-bootstrapper', 'system:kube-scheduler', 'system:kube-controller-manager', 'system:kube-dns',
    'system:kubelet-api-admin', 'system:certificates.k8s.io:certificatesigningrequests:nodeclient',
    'system:certificates.k8s.io:certificatesigningrequests:selfnodeclient', 'system:certificates.k8s.io:kube-apiserver-client-kubelet-approver',
    'system:service-account-issuer-discovery', 'system:volume-scheduler', 'system:coredns', 'weft:ingress', 'weft:network-policy-agent',
    ...['deployment-controller', 'replicaset-controller', 'daemon-set-controller', 'endpointslice-controller', 'namespace-controller', 'node-controller',
      'pod-garbage-collector', 'generic-garbage-collector', 'service-controller', 'clusterrole-aggregation-controller', 'certificate-controller',
      'service-account-controller', 'root-ca-cert-publisher', 'job-controller', 'cronjob-controller', 'ttl-after-finished-controller', 'statefulset-controller',
      'replication-controller', 'horizontal-pod-autoscaler', 'disruption-controller', 'persistent-volume-binder', 'pvc-protection-controller', 'pv-protection-controller',
      'local-path-provisioner', 'resourcequota-controller'].map((c) => `system:controller:${c}`),
  ]) t.ok(names.has(n), n)
  t.notOk(names.has('system:heapster'))
  const roleKeys = new Set(roles.map(nsKey))
  for (const k of ['kube-system/system:controller:bootstrap-signer', 'kube-public/system:controller:bootstrap-signer', 'kube-system/system:controller:token-cleaner', 'kube-public/kubeadm:bootstrap-signer-clusterinfo']) t.ok(roleKeys.has(k), k)
})

t.test("the statefulset controller's role is upstream's", async (t) => {
  const rules = byName(clusterRoles, 'system:controller:statefulset-controller').rules!
  for (const [verb, group, resource] of [
    ['watch', 'apps', 'statefulsets'], ['update', 'apps', 'statefulsets/status'], ['create', '', 'pods'], ['update', '', 'pods'],
    ['create', 'apps', 'controllerrevisions'], ['delete', 'apps', 'controllerrevisions'], ['create', '', 'persistentvolumeclaims'], ['update', '', 'persistentvolumeclaims'],
  ]) t.ok(grants(rules, verb, group, resource), `${verb} ${group}/${resource}`)
  t.notOk(grants(rules, 'update', 'apps', 'statefulsets'), 'it never writes the spec')
  t.notOk(grants(rules, 'delete', 'apps', 'statefulsets'))
})

t.test("the disruption controller's role: read budgets and workloads, write budget status, pod status and scale reads", async (t) => {
  const rules = byName(clusterRoles, 'system:controller:disruption-controller').rules!
  for (const [verb, g, r] of [['watch', 'policy', 'poddisruptionbudgets'], ['update', 'policy', 'poddisruptionbudgets/status'], ['list', 'apps', 'replicasets'], ['list', 'apps', 'deployments'], ['list', 'apps', 'statefulsets'], ['get', 'apps', '*/scale'], ['update', '', 'pods/status'], ['create', '', 'events']]) t.ok(grants(rules, verb, g, r), `${verb} ${g}/${r}`)
  t.notOk(grants(rules, 'update', 'policy', 'poddisruptionbudgets'), 'never the spec')
  t.notOk(grants(rules, 'delete', '', 'pods'))
  t.ok(grants(byName(clusterRoles, 'system:aggregate-to-edit').rules!, 'create', '', 'pods/eviction'), 'edit (and so admin) may evict')
})

t.test('aggregated roles: admin ⊇ edit ⊇ view by label, with empty rules until aggregation', async (t) => {
  const selector = (r: V1ClusterRole) => r.aggregationRule?.clusterRoleSelectors?.[0]?.matchLabels
  t.same(selector(byName(clusterRoles, 'admin')), { 'rbac.authorization.k8s.io/aggregate-to-admin': 'true' })
  t.same(selector(byName(clusterRoles, 'edit')), { 'rbac.authorization.k8s.io/aggregate-to-edit': 'true' })
  t.same(selector(byName(clusterRoles, 'view')), { 'rbac.authorization.k8s.io/aggregate-to-view': 'true' })
  t.equal(byName(clusterRoles, 'edit').metadata?.labels?.['rbac.authorization.k8s.io/aggregate-to-admin'], 'true')
  t.equal(byName(clusterRoles, 'view').metadata?.labels?.['rbac.authorization.k8s.io/aggregate-to-edit'], 'true')
  t.equal(byName(clusterRoles, 'system:aggregate-to-view').metadata?.labels?.['rbac.authorization.k8s.io/aggregate-to-view'], 'true')
  t.same(byName(clusterRoles, 'admin').rules, [])
  t.ok(grants(byName(clusterRoles, 'system:aggregate-to-view').rules!, 'list', 'discovery.k8s.io', 'endpointslices'))
  t.notOk(grants(byName(clusterRoles, 'system:aggregate-to-view').rules!, 'get', '', 'secrets'), 'view does not read secrets')
  t.ok(grants(byName(clusterRoles, 'system:aggregate-to-edit').rules!, 'create', 'networking.k8s.io', 'ingresses'))
  t.ok(grants(byName(clusterRoles, 'system:aggregate-to-admin').rules!, 'create', 'rbac.authorization.k8s.io', 'rolebindings'))
})

t.test('the batch controllers may do what their controllers do, and no more', async (t) => {
  const rules = (c: string) => byName(clusterRoles, `system:controller:${c}`).rules!
  t.ok(grants(rules('job-controller'), 'patch', '', 'pods'), 'the Job controller takes its finalizer off pods')
  t.ok(grants(rules('job-controller'), 'update', 'batch', 'jobs/status'))
  t.notOk(grants(rules('job-controller'), 'delete', 'batch', 'jobs'))
  t.ok(grants(rules('cronjob-controller'), 'create', 'batch', 'jobs'))
  t.ok(grants(rules('cronjob-controller'), 'update', 'batch', 'cronjobs/status'))
  t.notOk(grants(rules('cronjob-controller'), 'create', '', 'pods'))
  t.ok(grants(rules('ttl-after-finished-controller'), 'delete', 'batch', 'jobs'))
  t.notOk(grants(rules('ttl-after-finished-controller'), 'update', 'batch', 'jobs'))
})

t.test('upstream bindings, as upstream has them', async (t) => {
  const expect: Record<string, string[]> = {
    'cluster-admin': ['Group:system:masters'],
    'system:basic-user': ['Group:system:authenticated'],
    'system:discovery': ['Group:system:authenticated'],
    'system:public-info-viewer': ['Group:system:authenticated', 'Group:system:unauthenticated'],
    'system:monitoring': ['Group:system:monitoring'],
    'system:service-account-issuer-discovery': ['Group:system:serviceaccounts'],
    'system:node-proxier': ['User:system:kube-proxy'],
    'system:kube-scheduler': ['User:system:kube-scheduler'],
    'system:volume-scheduler': ['User:system:kube-scheduler'],
    'system:kube-controller-manager': ['User:system:kube-controller-manager'],
    'system:kube-dns': ['ServiceAccount:kube-system/kube-dns'],
    'system:node': [],
  }
  for (const [name, subjects] of Object.entries(expect)) t.same(subjectsOf(byName(clusterBindings, name)), subjects, name)
  t.same(subjectsOf(byName(clusterBindings, 'system:controller:deployment-controller')), ['ServiceAccount:kube-system/deployment-controller', 'User:system:kube-controller-manager'])
  for (const b of clusterBindings.filter((b) => b.metadata!.name!.startsWith('system:controller:'))) {
    const controller = b.metadata!.name!.slice('system:controller:'.length)
    t.equal(b.roleRef.name, b.metadata!.name, `${controller} binds its own role`)
    t.same(subjectsOf(b), [`ServiceAccount:kube-system/${controller}`, 'User:system:kube-controller-manager'], controller)
  }
})

t.test("weft's own bindings", async (t) => {
  const binding = (name: string) => byName(clusterBindings, name)
  t.equal(binding('weft:kubelet-api-admin').roleRef.name, 'system:kubelet-api-admin')
  t.same(subjectsOf(binding('weft:kubelet-api-admin')), ['User:apiserver-kubelet-client'])
  t.same(subjectsOf(binding('system:coredns')), ['ServiceAccount:kube-system/coredns'])
  t.same(subjectsOf(binding('weft:ingress')), ['ServiceAccount:weft-ingress/weft-ingress'])
  t.equal(binding('weft:node-proxier').roleRef.name, 'system:node-proxier')
  t.same(subjectsOf(binding('weft:node-proxier')), ['Group:system:nodes'])
  t.equal(binding('weft:network-policy-agent').roleRef.name, 'weft:network-policy-agent')
  t.same(subjectsOf(binding('weft:network-policy-agent')), ['Group:system:nodes'])
  t.equal(binding('kubeadm:kubelet-bootstrap').roleRef.name, 'system:node-bootstrapper')
  t.same(subjectsOf(binding('kubeadm:kubelet-bootstrap')), ['Group:system:bootstrappers:kubeadm:default-node-token'])
  t.equal(binding('kubeadm:node-autoapprove-bootstrap').roleRef.name, 'system:certificates.k8s.io:certificatesigningrequests:nodeclient')
  t.equal(binding('kubeadm:node-autoapprove-certificate-rotation').roleRef.name, 'system:certificates.k8s.io:certificatesigningrequests:selfnodeclient')
  t.same(subjectsOf(binding('kubeadm:node-autoapprove-certificate-rotation')), ['Group:system:nodes'])
  const clusterInfo = roleBindings.find((b) => nsKey(b) === 'kube-public/kubeadm:bootstrap-signer-clusterinfo')!
  t.same(subjectsOf(clusterInfo), ['User:system:anonymous'])
  const clusterInfoRole = roles.find((r) => nsKey(r) === 'kube-public/kubeadm:bootstrap-signer-clusterinfo')!
  t.ok(grants(clusterInfoRole.rules!, 'get', '', 'configmaps', 'cluster-info'))
  t.notOk(grants(clusterInfoRole.rules!, 'get', '', 'configmaps', 'other'), 'only cluster-info')
  t.notOk(grants(clusterInfoRole.rules!, 'list', '', 'configmaps'), 'no list')
})

t.test('what the node components need is granted', async (t) => {
  const proxier = byName(clusterRoles, 'system:node-proxier').rules!
  for (const [verb, g, r] of [['list', '', 'services'], ['watch', 'discovery.k8s.io', 'endpointslices'], ['list', '', 'nodes'], ['create', '', 'events']]) t.ok(grants(proxier, verb, g, r), `node-proxier ${verb} ${r}`)
  const ingress = byName(clusterRoles, 'weft:ingress').rules!
  for (const [verb, g, r] of [['watch', 'networking.k8s.io', 'ingresses'], ['list', 'networking.k8s.io', 'ingressclasses'], ['patch', 'networking.k8s.io', 'ingresses/status'], ['list', '', 'secrets'], ['list', 'discovery.k8s.io', 'endpointslices'], ['create', '', 'events']])
    t.ok(grants(ingress, verb, g, r), `ingress ${verb} ${r}`)
  t.notOk(grants(ingress, 'update', 'networking.k8s.io', 'ingresses'), 'ingress does not rewrite specs')
  t.notOk(grants(ingress, 'get', '', 'configmaps'))
  const ingressRole = (roles as V1Role[]).find((r) => nsKey(r) === 'weft-ingress/weft:ingress')!
  t.ok(grants(ingressRole.rules!, 'update', 'coordination.k8s.io', 'leases'))
  t.ok(grants(ingressRole.rules!, 'watch', '', 'pods'))
  const netpol = byName(clusterRoles, 'weft:network-policy-agent').rules!
  for (const verb of ['list', 'watch']) t.ok(grants(netpol, verb, 'networking.k8s.io', 'networkpolicies'), `network-policy-agent ${verb} networkpolicies`)
  // A policy's peers can be any pod of any namespace: cluster-wide list/watch of both, as upstream's policy agents have.
  for (const [verb, r] of [['list', 'pods'], ['watch', 'pods'], ['list', 'namespaces'], ['watch', 'namespaces']]) t.ok(grants(netpol, verb, '', r), `network-policy-agent ${verb} ${r}`)
  for (const [verb, g, r] of [['update', 'networking.k8s.io', 'networkpolicies'], ['get', '', 'pods'], ['update', '', 'pods'], ['patch', '', 'namespaces'], ['list', '', 'secrets'], ['get', '', 'secrets'], ['list', '', 'configmaps']]) t.notOk(grants(netpol, verb, g, r), `network-policy-agent may not ${verb} ${r}`)
  // Users get NetworkPolicies as upstream's aggregated roles grant them.
  for (const v of ['create', 'delete', 'deletecollection', 'patch', 'update']) t.ok(grants(byName(clusterRoles, 'system:aggregate-to-edit').rules!, v, 'networking.k8s.io', 'networkpolicies'), `edit ${v} networkpolicies`)
  for (const v of ['get', 'list', 'watch']) t.ok(grants(byName(clusterRoles, 'system:aggregate-to-view').rules!, v, 'networking.k8s.io', 'networkpolicies'), `view ${v} networkpolicies`)
  t.notOk(grants(byName(clusterRoles, 'system:aggregate-to-view').rules!, 'create', 'networking.k8s.io', 'networkpolicies'), 'view does not write them')
  const coredns = byName(clusterRoles, 'system:coredns').rules!
  for (const r of ['endpoints', 'services', 'pods', 'namespaces']) t.ok(grants(coredns, 'watch', '', r), `coredns watch ${r}`)
  t.ok(grants(coredns, 'list', 'discovery.k8s.io', 'endpointslices'))
  t.notOk(grants(coredns, 'get', '', 'secrets'))
})

t.test('every call returns fresh objects', async (t) => {
  const a = defaultClusterRoles()
  a[0].rules![0].verbs.push('mutated')
  a[0].metadata!.labels!['x'] = 'y'
  const b = defaultClusterRoles()
  t.notOk(b[0].rules![0].verbs.includes('mutated'))
  t.equal(b[0].metadata!.labels!['x'], undefined)
  t.same(JSON.parse(JSON.stringify(defaultRoleBindings())), defaultRoleBindings(), 'plain JSON')
})
