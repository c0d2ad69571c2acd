import t from 'tap'
import { resolveRequest, type ResourceRequest } from '../../src/apiserver/request-info.ts'
import { decodeReview } from '../../src/apiserver/reviews.ts'
import { ApiError } from '../../src/util/errors.ts'
import { call, startTestServer } from '../helpers/apiserver.ts'
import { b64, certPem, csr } from '../helpers/csr-fixtures.ts'

type Obj = Record<string, any>

const tableAccept = { accept: 'application/json;as=Table;v=v1;g=meta.k8s.io' }
const csrs = '/apis/certificates.k8s.io/v1/certificatesigningrequests'

t.test('discovery lists the new kinds with their verbs, short names and subresources', async (t) => {
  const { url } = await startTestServer(t)
  const core = (await call(url, 'GET', '/api/v1')).body.resources as Obj[]
  t.match(core.find((r) => r.name === 'serviceaccounts'), { kind: 'ServiceAccount', namespaced: true, shortNames: ['sa'] })
  t.same(core.find((r) => r.name === 'serviceaccounts/token'), {
    name: 'serviceaccounts/token', singularName: '', namespaced: true, group: 'authentication.k8s.io', version: 'v1', kind: 'TokenRequest', verbs: ['create'],
  })
  const rbac = (await call(url, 'GET', '/apis/rbac.authorization.k8s.io/v1')).body.resources as Obj[]
  t.same(rbac.map((r) => [r.name, r.namespaced]), [['roles', true], ['clusterroles', false], ['rolebindings', true], ['clusterrolebindings', false]])
  const certs = (await call(url, 'GET', '/apis/certificates.k8s.io/v1')).body.resources as Obj[]
  t.match(certs.find((r) => r.name === 'certificatesigningrequests'), { namespaced: false, shortNames: ['csr'], kind: 'CertificateSigningRequest' })
  t.same(certs.filter((r) => r.name.includes('/')).map((r) => [r.name, r.verbs]), [['certificatesigningrequests/status', ['get', 'patch', 'update']], ['certificatesigningrequests/approval', ['get', 'patch', 'update']]])
  const authn = (await call(url, 'GET', '/apis/authentication.k8s.io/v1')).body.resources as Obj[]
  t.same(authn.map((r) => [r.name, r.kind, r.namespaced, r.verbs]), [['tokenreviews', 'TokenReview', false, ['create']], ['selfsubjectreviews', 'SelfSubjectReview', false, ['create']]])
  const authz = (await call(url, 'GET', '/apis/authorization.k8s.io/v1')).body.resources as Obj[]
  t.same(authz.map((r) => [r.name, r.namespaced, r.verbs]), [
    ['subjectaccessreviews', false, ['create']],
    ['selfsubjectaccessreviews', false, ['create']],
    ['localsubjectaccessreviews', true, ['create']],
    ['selfsubjectrulesreviews', false, ['create']],
  ])
  const accept = 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList'
  const aggregated = (await call(url, 'GET', '/api', undefined, { accept })).body
  const sa = aggregated.items[0].versions[0].resources.find((r: Obj) => r.resource === 'serviceaccounts')
  t.same(sa.subresources, [{ subresource: 'token', responseKind: { group: 'authentication.k8s.io', version: 'v1', kind: 'TokenRequest' }, verbs: ['create'] }])
})

t.test('create-only kinds answer POST to their collection and refuse every other verb', async (t) => {
  const { url } = await startTestServer(t)
  const sar = { apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview', spec: { user: 'jane', nonResourceAttributes: { path: '/healthz', verb: 'get' } } }
  t.equal((await call(url, 'POST', '/apis/authorization.k8s.io/v1/subjectaccessreviews', sar)).status, 201, 'POST is answered')
  for (const [method, path] of [
    ['GET', '/apis/authorization.k8s.io/v1/subjectaccessreviews'],
    ['GET', '/apis/authorization.k8s.io/v1/subjectaccessreviews?watch=true'],
    ['GET', '/apis/authentication.k8s.io/v1/tokenreviews/x'],
    ['DELETE', '/apis/authentication.k8s.io/v1/tokenreviews'],
  ]) {
    const res = await call(url, method, path, method === 'POST' ? sar : undefined)
    t.equal(res.status, 405, `${method} ${path}`)
    t.equal(res.body.reason, 'MethodNotAllowed')
  }
  t.equal((await call(url, 'GET', '/apis/authorization.k8s.io/v1/namespaces/default/subjectaccessreviews')).status, 404, 'cluster-scoped kinds have no namespaced path')

  await call(url, 'POST', '/api/v1/namespaces/default/serviceaccounts', { metadata: { name: 'builder' } })
  for (const method of ['GET', 'PUT', 'PATCH', 'DELETE']) {
    const res = await call(url, method, '/api/v1/namespaces/default/serviceaccounts/builder/token', method === 'PUT' || method === 'PATCH' ? {} : undefined, method === 'PATCH' ? { 'content-type': 'application/merge-patch+json' } : {})
    t.equal(res.status, 405, `${method} serviceaccounts/token`)
  }
  t.equal((await call(url, 'GET', '/api/v1/namespaces/default/pods/x/status?watch=true')).status, 405, 'no subresource takes watch')
})

t.test('request routing resolves the create-only kinds', async (t) => {
  const local = resolveRequest('POST', '/apis/authorization.k8s.io/v1/namespaces/team/localsubjectaccessreviews', new URLSearchParams()) as ResourceRequest
  t.match(local, { kind: 'resource', namespace: 'team', verb: 'create', info: { kind: 'LocalSubjectAccessReview', createOnly: true } })
  const token = resolveRequest('POST', '/api/v1/namespaces/team/serviceaccounts/builder/token', new URLSearchParams()) as ResourceRequest
  t.match(token, { name: 'builder', subresource: 'token', verb: 'create', info: { kind: 'ServiceAccount' } })
})

function review(path: string, body: unknown, query = ''): Obj {
  const r = resolveRequest('POST', path, new URLSearchParams(query)) as ResourceRequest
  return decodeReview(r, body, new URLSearchParams(query))
}

function refusal(fn: () => unknown): { code: number; message: string; causes?: unknown } {
  try {
    fn()
  } catch (err) {
    if (err instanceof ApiError) return { code: err.code, message: err.message, causes: err.details?.causes }
    throw err
  }
  throw new Error('expected a refusal')
}

t.test('decodeReview: the request checks upstream makes before answering', async (t) => {
  const tr = review('/apis/authentication.k8s.io/v1/tokenreviews', { spec: { token: 'abc' } })
  t.match(tr, { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', metadata: {}, spec: { token: 'abc' } })
  t.match(refusal(() => review('/apis/authentication.k8s.io/v1/tokenreviews', { spec: {} })), { code: 400, message: 'token is required for TokenReview in authentication' })
  t.match(refusal(() => review('/apis/authentication.k8s.io/v1/tokenreviews', { kind: 'SubjectAccessReview', spec: { token: 'x' } })), { code: 400 })
  t.match(refusal(() => review('/apis/authentication.k8s.io/v1/tokenreviews', { spec: { token: 'x', extra: 1 } }, 'fieldValidation=Strict')), { code: 400, message: /unknown field "spec.extra"/ })
  t.match(refusal(() => review('/apis/authentication.k8s.io/v1/tokenreviews', { spec: { token: 5 } })), { code: 400 })
  const warnings: string[] = []
  const r = resolveRequest('POST', '/apis/authentication.k8s.io/v1/tokenreviews', new URLSearchParams()) as ResourceRequest
  decodeReview(r, { spec: { token: 'x', extra: 1 } }, new URLSearchParams(), warnings)
  t.same(warnings, ['unknown field "spec.extra"'])

  const lsar = review('/apis/authorization.k8s.io/v1/namespaces/team/localsubjectaccessreviews', { spec: { user: 'u', resourceAttributes: { namespace: 'team', verb: 'get', resource: 'pods' } } })
  t.equal(lsar.metadata.namespace, 'team', 'the namespace comes from the path')
  t.match(refusal(() => review('/apis/authorization.k8s.io/v1/namespaces/team/localsubjectaccessreviews', { metadata: { namespace: 'other' }, spec: { user: 'u', resourceAttributes: { namespace: 'other' } } })), { code: 400, message: /does not match the namespace sent on the request/ })
  const mismatch = refusal(() => review('/apis/authorization.k8s.io/v1/namespaces/team/localsubjectaccessreviews', { spec: { user: 'u', resourceAttributes: { namespace: 'other' } } }))
  t.match(mismatch, { code: 422, message: /LocalSubjectAccessReview.authorization.k8s.io "" is invalid/, causes: [{ field: 'spec.resourceAttributes.namespace' }] })
  t.match(refusal(() => review('/apis/authorization.k8s.io/v1/subjectaccessreviews', { spec: { resourceAttributes: { verb: 'get' } } })), { code: 422, causes: [{ field: 'spec.user' }] })
  t.match(refusal(() => review('/apis/authorization.k8s.io/v1/selfsubjectrulesreviews', { spec: {} })), { code: 400, message: 'no namespace on request' })
  t.match(review('/apis/authorization.k8s.io/v1/selfsubjectrulesreviews', { spec: { namespace: 'team' } }), { kind: 'SelfSubjectRulesReview' })
  t.match(review('/apis/authentication.k8s.io/v1/selfsubjectreviews', {}), { kind: 'SelfSubjectReview' })
  const get = resolveRequest('GET', '/apis/authentication.k8s.io/v1/tokenreviews', new URLSearchParams()) as ResourceRequest
  t.match(refusal(() => decodeReview(get, {}, new URLSearchParams())), { code: 405 })
})

t.test('RBAC objects: defaults, validation and an immutable roleRef', async (t) => {
  const { url } = await startTestServer(t)
  const rbac = '/apis/rbac.authorization.k8s.io/v1'
  const role = await call(url, 'POST', `${rbac}/namespaces/default/roles`, { metadata: { name: 'reader' }, rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['get'] }] })
  t.equal(role.status, 201)
  const badRole = await call(url, 'POST', `${rbac}/namespaces/default/roles`, { metadata: { name: 'bad' }, rules: [{ verbs: ['get'], nonResourceURLs: ['/x'] }] })
  t.equal(badRole.status, 422)
  t.equal(badRole.body.message, 'Role.rbac.authorization.k8s.io "bad" is invalid: rules[0].nonResourceURLs: Invalid value: []string{"/x"}: namespaced rules cannot apply to non-resource URLs')

  const created = await call(url, 'POST', `${rbac}/namespaces/default/rolebindings`, {
    metadata: { name: 'read' },
    roleRef: { kind: 'Role', name: 'reader' },
    subjects: [{ kind: 'User', name: 'jane' }, { kind: 'ServiceAccount', name: 'builder', namespace: 'ci' }],
  })
  t.equal(created.status, 201)
  t.equal(created.body.roleRef.apiGroup, 'rbac.authorization.k8s.io', 'roleRef.apiGroup defaulted')
  t.equal(created.body.subjects[0].apiGroup, 'rbac.authorization.k8s.io', 'User subjects default to the RBAC group')
  t.notOk(created.body.subjects[1].apiGroup, 'ServiceAccount subjects stay in the core group')

  const next = structuredClone(created.body)
  next.roleRef.name = 'admin'
  const put = await call(url, 'PUT', `${rbac}/namespaces/default/rolebindings/read`, next)
  t.equal(put.status, 422)
  t.match(put.body.details.causes, [{ field: 'roleRef', message: 'Invalid value: rbac.RoleRef{APIGroup:"rbac.authorization.k8s.io", Kind:"Role", Name:"admin"}: cannot change roleRef' }])
  const patch = await call(url, 'PATCH', `${rbac}/namespaces/default/rolebindings/read`, { roleRef: { kind: 'ClusterRole' } }, { 'content-type': 'application/merge-patch+json' })
  t.equal(patch.status, 422, 'a patch cannot change it either')
  const subjects = await call(url, 'PATCH', `${rbac}/namespaces/default/rolebindings/read`, { subjects: [{ kind: 'Group', name: 'devs', apiGroup: 'rbac.authorization.k8s.io' }] }, { 'content-type': 'application/merge-patch+json' })
  t.equal(subjects.status, 200, 'subjects may change')

  const crb = await call(url, 'POST', `${rbac}/clusterrolebindings`, { metadata: { name: 'x' }, roleRef: { kind: 'Role', name: 'reader' }, subjects: [{ kind: 'ServiceAccount', name: 'builder' }] })
  t.equal(crb.status, 422)
  t.same(crb.body.details.causes.map((c: Obj) => c.field), ['roleRef.kind', 'subjects[0].namespace'])

  const table = await call(url, 'GET', `${rbac}/namespaces/default/rolebindings`, undefined, tableAccept)
  t.same(table.body.columnDefinitions.map((c: Obj) => c.name), ['Name', 'Role', 'Age', 'Users', 'Groups', 'ServiceAccounts'])
  t.same(table.body.rows[0].cells.slice(0, 2), ['read', 'Role/reader'])
  const roles = await call(url, 'GET', `${rbac}/namespaces/default/roles`, undefined, tableAccept)
  t.same(roles.body.columnDefinitions.map((c: Obj) => c.name), ['Name', 'Created At'], 'Roles print with the default columns, as upstream')
})

t.test('ServiceAccounts keep only secret names', async (t) => {
  const { url } = await startTestServer(t)
  const res = await call(url, 'POST', '/api/v1/namespaces/default/serviceaccounts', {
    metadata: { name: 'builder' },
    secrets: [{ name: 'tok', namespace: 'elsewhere', uid: 'u' }],
    imagePullSecrets: [{ name: 'registry' }],
    automountServiceAccountToken: false,
  })
  t.equal(res.status, 201)
  t.same(res.body.secrets, [{ name: 'tok' }])
  t.same(res.body.imagePullSecrets, [{ name: 'registry' }])
  t.equal(res.body.automountServiceAccountToken, false)
  const table = await call(url, 'GET', '/api/v1/namespaces/default/serviceaccounts', undefined, tableAccept)
  t.same(table.body.columnDefinitions.map((c: Obj) => c.name), ['Name', 'Secrets', 'Age'])
  t.same(table.body.rows[0].cells.slice(0, 2), ['builder', 1])
})

t.test('CSR: the requester is stamped on create, status starts empty, spec never changes', async (t) => {
  const { url } = await startTestServer(t)
  const body = csr('node-1', (o) => {
    o.spec.username = 'someone-else'
    o.spec.groups = ['system:masters']
    o.spec.uid = 'forged'
    o.spec.extra = { scopes: ['all'] }
    o.status = { conditions: [{ type: 'Approved', status: 'True' }], certificate: b64(certPem) }
  })
  const created = await call(url, 'POST', csrs, body)
  t.equal(created.status, 201)
  t.equal(created.body.spec.username, 'kubernetes-admin', 'the requester, not what the body said')
  t.same(created.body.spec.groups, ['system:masters', 'system:authenticated'])
  t.notOk(created.body.spec.uid)
  t.notOk(created.body.spec.extra)
  t.same(created.body.status, {}, 'no one creates an approved request')

  const invalidCsr = await call(url, 'POST', csrs, csr('bad', (o) => (o.spec.request = b64('hello'))))
  t.equal(invalidCsr.status, 422)
  t.match(invalidCsr.body.details.causes, [{ field: 'spec.request', message: /PEM block type must be CERTIFICATE REQUEST/ }])

  const edit = structuredClone(created.body)
  edit.spec.usages = ['server auth']
  edit.status = { conditions: [{ type: 'Approved', status: 'True' }] }
  edit.metadata.labels = { touched: 'yes' }
  const updated = await call(url, 'PUT', `${csrs}/node-1`, edit)
  t.equal(updated.status, 200)
  t.same(updated.body.spec, created.body.spec, 'spec is kept as created')
  t.same(updated.body.status, {}, 'the main resource cannot change status')
  t.equal(updated.body.metadata.labels.touched, 'yes', 'metadata may change')

  const table = await call(url, 'GET', csrs, undefined, tableAccept)
  t.same(table.body.columnDefinitions.map((c: Obj) => c.name), ['Name', 'Age', 'SignerName', 'Requestor', 'RequestedDuration', 'Condition'])
  t.same(table.body.rows[0].cells.filter((_: unknown, i: number) => i !== 1), ['node-1', 'kubernetes.io/kube-apiserver-client-kubelet', 'kubernetes-admin', '24h', 'Pending'])
})

t.test('CSR: approval and status subresources each change only their part', async (t) => {
  const { url } = await startTestServer(t)
  const created = (await call(url, 'POST', csrs, csr('node-1'))).body

  const viaStatus = structuredClone(created)
  viaStatus.status = { conditions: [{ type: 'Approved', status: 'True', reason: 'Self' }] }
  const selfApprove = await call(url, 'PUT', `${csrs}/node-1/status`, viaStatus)
  t.equal(selfApprove.status, 422, '/status cannot approve')
  t.match(selfApprove.body.details.causes, [{ field: 'status.conditions', message: 'Forbidden: updates may not add a condition of type "Approved"' }])

  const approval = structuredClone(created)
  approval.spec.usages = ['server auth']
  approval.status = { conditions: [{ type: 'Approved', status: 'True', reason: 'AdminApproved', message: 'ok' }], certificate: b64(certPem) }
  const approved = await call(url, 'PUT', `${csrs}/node-1/approval`, approval)
  t.equal(approved.status, 200)
  t.same(approved.body.spec, created.spec, '/approval leaves spec alone')
  t.notOk(approved.body.status.certificate, '/approval leaves the certificate alone')
  const cond = approved.body.status.conditions[0]
  t.match(cond, { type: 'Approved', status: 'True', reason: 'AdminApproved' })
  t.match(cond.lastUpdateTime, /^\d{4}-/, 'timestamps filled in')
  t.equal(cond.lastTransitionTime, cond.lastUpdateTime)

  const deny = await call(url, 'PATCH', `${csrs}/node-1/approval`, { status: { conditions: [cond, { type: 'Denied', status: 'True' }] } }, { 'content-type': 'application/merge-patch+json' })
  t.equal(deny.status, 422, 'not both Approved and Denied')
  const unapprove = await call(url, 'PATCH', `${csrs}/node-1/approval`, { status: { conditions: [] } }, { 'content-type': 'application/merge-patch+json' })
  t.equal(unapprove.status, 422, 'an approval is not taken back')
  t.match(unapprove.body.details.causes, [{ message: 'Forbidden: updates may not remove a condition of type "Approved"' }])

  const issue = await call(url, 'PATCH', `${csrs}/node-1/status`, { status: { certificate: b64(certPem) } }, { 'content-type': 'application/merge-patch+json' })
  t.equal(issue.status, 200)
  t.equal(issue.body.status.certificate, b64(certPem))
  t.same(issue.body.status.conditions, approved.body.status.conditions, 'the approval is kept')
  const reissue = await call(url, 'PATCH', `${csrs}/node-1/status`, { status: { certificate: b64(certPem + certPem) } }, { 'content-type': 'application/merge-patch+json' })
  t.equal(reissue.status, 422)
  t.match(reissue.body.details.causes, [{ field: 'status.certificate', message: 'Forbidden: updates may not modify existing certificate content' }])

  const fail = await call(url, 'PATCH', `${csrs}/node-1/status`, { status: { conditions: [cond, { type: 'Failed', status: 'True', reason: 'SignerError' }] } }, { 'content-type': 'application/merge-patch+json' })
  t.equal(fail.status, 200, '/status may add Failed')
  const table = await call(url, 'GET', `${csrs}/node-1`, undefined, tableAccept)
  t.equal(table.body.rows[0].cells[5], 'Approved,Failed,Issued')
  const bySigner = await call(url, 'GET', `${csrs}?fieldSelector=spec.signerName%3Dkubernetes.io%2Fkube-apiserver-client-kubelet`)
  t.same(bySigner.body.items.map((o: Obj) => o.metadata.name), ['node-1'], 'CSRs select on spec.signerName')
  t.same((await call(url, 'GET', `${csrs}?fieldSelector=spec.signerName%3Dexample.com%2Fother`)).body.items, [])
  t.equal((await call(url, 'GET', `${csrs}?fieldSelector=spec.usages%3Dx`)).status, 400)
  const got = await call(url, 'GET', `${csrs}/node-1/approval`)
  t.equal(got.status, 200, 'GET on /approval reads the object')
  t.equal(got.body.kind, 'CertificateSigningRequest')
})

t.test('CSR request check hook is used by the server', async (t) => {
  const { url, server } = await startTestServer(t)
  server.handler.validationHooks.checkCertificateRequest = () => 'x509: signature does not verify'
  const res = await call(url, 'POST', csrs, csr('node-1'))
  t.equal(res.status, 422)
  t.match(res.body.details.causes, [{ field: 'spec.request', message: /x509: signature does not verify$/ }])
})
