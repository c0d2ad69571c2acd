import t from 'tap'
import { findByKind } from '../../src/api/registry.ts'
import type { ResourceInfo } from '../../src/api/registry.ts'
import { validateObject, validateReview, type FieldCause } from '../../src/api/validation/index.ts'
import { pemBlocks, signedStructureProblem } from '../../src/api/validation/pem.ts'
import { b64, certPem, csr, csrPem } from '../helpers/csr-fixtures.ts'

type Obj = Record<string, any>

function info(apiVersion: string, kind: string): ResourceInfo {
  const i = findByKind(apiVersion, kind)
  if (!i) throw new Error(`no ${kind}`)
  return i
}

const rbac = 'rbac.authorization.k8s.io/v1'
const role = info(rbac, 'Role')
const clusterRole = info(rbac, 'ClusterRole')
const binding = info(rbac, 'RoleBinding')
const clusterBinding = info(rbac, 'ClusterRoleBinding')
const sa = info('v1', 'ServiceAccount')
const csrInfo = info('certificates.k8s.io/v1', 'CertificateSigningRequest')

const fields = (causes: FieldCause[]) => causes.map((c) => c.field)
const find = (causes: FieldCause[], field: string) => causes.find((c) => c.field === field)

t.test('Roles: rules need verbs, api groups and resources; non-resource URLs only cluster-wide', async (t) => {
  const good = { metadata: { name: 'reader', namespace: 'default' }, rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'list'] }] }
  t.same(validateObject(role, good), [])
  const bad = validateObject(role, { metadata: { name: 'r', namespace: 'default' }, rules: [{}, { verbs: ['get'], nonResourceURLs: ['/healthz'] }, { verbs: ['get'], apiGroups: [''], resources: ['pods', 'services'], resourceNames: ['x'] }] })
  t.match(find(bad, 'rules[0].verbs'), { reason: 'FieldValueRequired', message: 'Required value: verbs must contain at least one value' })
  t.match(find(bad, 'rules[0].apiGroups'), { message: 'Required value: resource rules must supply at least one api group' })
  t.match(find(bad, 'rules[0].resources'), { message: 'Required value: resource rules must supply at least one resource' })
  t.match(find(bad, 'rules[1].nonResourceURLs'), { reason: 'FieldValueInvalid', message: /namespaced rules cannot apply to non-resource URLs$/ })
  t.match(find(bad, 'rules[2].resourceNames'), { message: /resource names cannot apply to multiple resources/ })

  const urls = { metadata: { name: 'health' }, rules: [{ verbs: ['get'], nonResourceURLs: ['/healthz', '/readyz'] }] }
  t.same(validateObject(clusterRole, urls), [], 'a ClusterRole may name non-resource URLs')
  const mixed = validateObject(clusterRole, { metadata: { name: 'm' }, rules: [{ verbs: ['get'], nonResourceURLs: ['/x'], resources: ['pods'] }] })
  t.match(find(mixed, 'rules[0].nonResourceURLs'), { message: /rules cannot apply to both regular resources and non-resource URLs$/ })
})

t.test('RBAC names are path segments; ClusterRole aggregation rules need selectors', async (t) => {
  t.same(validateObject(clusterRole, { metadata: { name: 'system:controller:Weird_Name' }, rules: [] }), [], 'colons and capitals are fine')
  t.match(validateObject(clusterRole, { metadata: { name: '..' } }), [{ field: 'metadata.name', message: "Invalid value: \"..\": may not be '..'" }])
  t.match(validateObject(clusterRole, { metadata: { name: 'a/b%c' } }), [{ message: /may not contain '\/'/ }, { message: /may not contain '%'/ }])
  const agg = validateObject(clusterRole, { metadata: { name: 'agg' }, aggregationRule: { clusterRoleSelectors: [] } })
  t.match(find(agg, 'aggregationRule.clusterRoleSelectors'), { message: /at least one clusterRoleSelector required if aggregationRule is non-nil/ })
  const sel = validateObject(clusterRole, { metadata: { name: 'agg' }, aggregationRule: { clusterRoleSelectors: [{ matchExpressions: [{ key: 'k', operator: 'Maybe' }] }] } })
  t.ok(find(sel, 'aggregationRule.clusterRoleSelectors[0].matchExpressions[0].operator'), 'selectors are validated as label selectors')
  t.same(validateObject(clusterRole, { metadata: { name: 'agg' }, aggregationRule: { clusterRoleSelectors: [{ matchLabels: { 'rbac.example.com/aggregate-to-view': 'true' } }] } }), [])
})

function rb(mutate: (o: Obj) => void = () => {}): Obj {
  const o: Obj = {
    metadata: { name: 'read-pods', namespace: 'default' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'reader' },
    subjects: [
      { kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: 'jane' },
      { kind: 'Group', apiGroup: 'rbac.authorization.k8s.io', name: 'devs' },
      { kind: 'ServiceAccount', name: 'builder', namespace: 'ci' },
    ],
  }
  mutate(o)
  return o
}

t.test('bindings: roleRef and subjects as upstream', async (t) => {
  t.same(validateObject(binding, rb()), [])
  t.same(validateObject(binding, rb((o) => (o.subjects = [{ kind: 'ServiceAccount', name: 'default' }]))), [], 'a RoleBinding subject SA may leave its namespace out')
  const ref = validateObject(binding, rb((o) => (o.roleRef = { apiGroup: 'example.com', kind: 'Secret', name: '' })))
  t.match(find(ref, 'roleRef.apiGroup'), { reason: 'FieldValueNotSupported', message: 'Unsupported value: "example.com": supported values: "rbac.authorization.k8s.io"' })
  t.match(find(ref, 'roleRef.kind'), { message: 'Unsupported value: "Secret": supported values: "Role", "ClusterRole"' })
  t.match(find(ref, 'roleRef.name'), { reason: 'FieldValueRequired' })

  const crb = (mutate: (o: Obj) => void) => rb((o) => {
    delete o.metadata.namespace
    o.roleRef.kind = 'ClusterRole'
    mutate(o)
  })
  t.same(validateObject(clusterBinding, crb(() => {})), [])
  t.match(find(validateObject(clusterBinding, crb((o) => (o.roleRef.kind = 'Role'))), 'roleRef.kind'), { message: 'Unsupported value: "Role": supported values: "ClusterRole"' })
  t.match(find(validateObject(clusterBinding, crb((o) => delete o.subjects[2].namespace)), 'subjects[2].namespace'), { reason: 'FieldValueRequired' })

  const subjects = validateObject(binding, rb((o) => {
    o.subjects = [
      { kind: 'User', name: 'jane' },
      { kind: 'Group', apiGroup: 'rbac.authorization.k8s.io', name: '' },
      { kind: 'ServiceAccount', apiGroup: 'rbac.authorization.k8s.io', name: 'Not_A_Name' },
      { kind: 'Robot', name: 'r2' },
    ]
  }))
  t.match(find(subjects, 'subjects[0].apiGroup'), { message: 'Unsupported value: "": supported values: "rbac.authorization.k8s.io"' })
  t.same(subjects.filter((c) => c.field === 'subjects[1].name').map((c) => c.message), ['Required value', 'Invalid value: "": group name cannot be empty'])
  t.match(find(subjects, 'subjects[2].apiGroup'), { message: 'Unsupported value: "rbac.authorization.k8s.io": supported values: ""' })
  t.match(find(subjects, 'subjects[2].name'), { message: /lowercase RFC 1123 subdomain/ })
  t.match(find(subjects, 'subjects[3].kind'), { message: 'Unsupported value: "Robot": supported values: "ServiceAccount", "User", "Group"' })
})

t.test('roleRef cannot change on update', async (t) => {
  const old = rb((o) => (o.metadata.uid = 'u1'))
  t.same(validateObject(binding, rb((o) => (o.metadata.uid = 'u1')), old), [], 'same roleRef, new subjects fine')
  const changed = validateObject(binding, rb((o) => {
    o.metadata.uid = 'u1'
    o.roleRef.name = 'admin'
  }), old)
  t.same(changed, [{
    reason: 'FieldValueInvalid',
    field: 'roleRef',
    message: 'Invalid value: rbac.RoleRef{APIGroup:"rbac.authorization.k8s.io", Kind:"Role", Name:"admin"}: cannot change roleRef',
  }])
})

t.test('ServiceAccounts are named as DNS subdomains', async (t) => {
  t.same(validateObject(sa, { metadata: { name: 'builder', namespace: 'ci' }, automountServiceAccountToken: false, secrets: [{ name: 's' }] }), [])
  t.ok(find(validateObject(sa, { metadata: { name: 'Builder', namespace: 'ci' } }), 'metadata.name'))
})

t.test('CertificateSigningRequest create rules', async (t) => {
  t.same(validateObject(csrInfo, csr()), [])
  t.same(validateObject(csrInfo, csr('Any Name At All')), [], 'CSR names are not checked')
  const notCsr = validateObject(csrInfo, csr('x', (o) => (o.spec.request = b64(certPem))))
  t.match(find(notCsr, 'spec.request'), { reason: 'FieldValueInvalid', message: /PEM block type must be CERTIFICATE REQUEST$/ })
  const garbage = validateObject(csrInfo, csr('x', (o) => (o.spec.request = b64('-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n'))))
  t.match(find(garbage, 'spec.request'), { message: /x509: malformed certificate request$/ })
  t.match(find(validateObject(csrInfo, csr('x', (o) => delete o.spec.request)), 'spec.request'), { message: /PEM block type must be CERTIFICATE REQUEST/ })

  const usages = validateObject(csrInfo, csr('x', (o) => (o.spec.usages = ['client auth', 'flying', 'client auth'])))
  t.match(find(usages, 'spec.usages[1]'), { reason: 'FieldValueNotSupported', message: /^Unsupported value: "flying": supported values: "any", "cert sign", / })
  t.match(find(usages, 'spec.usages[2]'), { reason: 'FieldValueDuplicate' })
  t.match(find(validateObject(csrInfo, csr('x', (o) => (o.spec.usages = []))), 'spec.usages'), { message: 'Required value: usages must be provided' })

  const signer = (name: string | undefined) => validateObject(csrInfo, csr('x', (o) => (o.spec.signerName = name))).filter((c) => c.field === 'spec.signerName').map((c) => c.message)
  t.same(signer(undefined), ['Required value: signerName must be provided'])
  t.same(signer('kubernetes.io/legacy-unknown'), ['Invalid value: "kubernetes.io/legacy-unknown": the legacy signerName is not allowed via this API version'])
  t.same(signer('example.com'), ["Invalid value: \"example.com\": must be a fully qualified domain and path of the form 'example.com/signer-name'"])
  t.same(signer('localhost/signer'), ['Invalid value: "localhost": should be a domain with at least two segments separated by dots'])
  t.match(signer('Example.com/signer'), [/^Invalid value: "Example.com": validating label "Example": a lowercase RFC 1123 label/])
  t.match(signer('example.com/Signer'), [/^Invalid value: "Signer": validating label "Signer": a lowercase RFC 1123 subdomain/])
  t.same(signer('example.com/ns.name'), [])

  t.match(find(validateObject(csrInfo, csr('x', (o) => (o.spec.expirationSeconds = 599))), 'spec.expirationSeconds'), { message: 'Invalid value: 599: may not specify a duration less than 600 seconds (10 minutes)' })
  t.same(validateObject(csrInfo, csr('x', (o) => (o.spec.expirationSeconds = 600))), [])
})

t.test('the request check can be handed a full parser', async (t) => {
  const seen: string[] = []
  const hooks = { checkCertificateRequest: (pem: string) => (seen.push(pem), 'x509: ECDSA verification failure') }
  const causes = validateObject(csrInfo, csr(), undefined, undefined, hooks)
  t.equal(seen[0], csrPem.trimEnd(), 'the hook sees the PEM block')
  t.match(find(causes, 'spec.request'), { message: /x509: ECDSA verification failure$/ })
  t.same(validateObject(csrInfo, csr(), undefined, undefined, { checkCertificateRequest: () => undefined }), [])
})

function stored(mutate: (o: Obj) => void = () => {}): Obj {
  return csr('n', (o) => {
    o.metadata.uid = 'u'
    o.status = {}
    mutate(o)
  })
}

const approved = { type: 'Approved', status: 'True', reason: 'AutoApproved', lastUpdateTime: '2024-01-01T00:00:00Z' }
const denied = { type: 'Denied', status: 'True', reason: 'No' }

t.test('CSR conditions and certificate per subresource', async (t) => {
  const approve = stored((o) => (o.status.conditions = [approved]))
  t.same(validateObject(csrInfo, approve, stored(), 'approval'), [], '/approval may add Approved')
  t.match(validateObject(csrInfo, approve, stored(), 'status'), [{ field: 'status.conditions', message: 'Forbidden: updates may not add a condition of type "Approved"' }])
  t.match(validateObject(csrInfo, approve, stored(), undefined), [{ message: /may not add a condition of type "Approved"/ }])
  const both = validateObject(csrInfo, stored((o) => (o.status.conditions = [approved, denied])), stored(), 'approval')
  t.match(find(both, 'status.conditions[1].type'), { message: 'Invalid value: "Denied": Approved and Denied conditions are mutually exclusive' })
  const twice = validateObject(csrInfo, stored((o) => (o.status.conditions = [approved, approved])), stored(), 'approval')
  t.match(find(twice, 'status.conditions[1].type'), { reason: 'FieldValueDuplicate' })
  const removed = validateObject(csrInfo, stored(), approve, 'approval')
  t.match(removed, [{ field: 'status.conditions', message: 'Forbidden: updates may not remove a condition of type "Approved"' }])
  const falseApproval = validateObject(csrInfo, stored((o) => (o.status.conditions = [{ ...approved, status: 'False' }])), stored(), 'approval')
  t.match(find(falseApproval, 'status.conditions[0].status'), { message: 'Unsupported value: "False": supported values: "True"' })
  const modified = validateObject(csrInfo, stored((o) => (o.status.conditions = [{ ...approved, reason: 'Changed' }])), approve, 'status')
  t.match(modified, [{ message: 'Forbidden: updates may not modify a condition of type "Approved"' }])

  const issued = stored((o) => {
    o.status.conditions = [approved]
    o.status.certificate = b64(certPem)
  })
  t.same(validateObject(csrInfo, issued, approve, 'status'), [], '/status sets the certificate')
  t.match(validateObject(csrInfo, issued, approve, 'approval'), [{ field: 'status.certificate', message: 'Forbidden: updates may not set certificate content' }])
  const reissued = stored((o) => {
    o.status.conditions = [approved]
    o.status.certificate = b64(certPem + certPem)
  })
  t.match(validateObject(csrInfo, reissued, issued, 'status'), [{ message: 'Forbidden: updates may not modify existing certificate content' }])
  const notCert = stored((o) => {
    o.status.conditions = [approved]
    o.status.certificate = b64(csrPem)
  })
  t.match(find(validateObject(csrInfo, notCert, approve, 'status'), 'status.certificate'), { message: 'Invalid value: "<certificate data>": only CERTIFICATE PEM blocks are allowed, found "CERTIFICATE REQUEST"' })
  const empty = stored((o) => (o.status.certificate = b64('not pem')))
  t.match(find(validateObject(csrInfo, empty, stored(), 'status'), 'status.certificate'), { message: /must contain at least one CERTIFICATE PEM block/ })
  const failed = stored((o) => (o.status.conditions = [{ type: 'Failed', status: 'True', reason: 'SignerError' }]))
  t.same(validateObject(csrInfo, failed, stored(), 'status'), [], '/status may add Failed')
})

t.test('PEM and DER shape', async (t) => {
  const blocks = pemBlocks(`junk before\n${csrPem}between\n${certPem}`)
  t.same(blocks.map((b) => b.type), ['CERTIFICATE REQUEST', 'CERTIFICATE'])
  t.equal(signedStructureProblem(blocks[0].bytes, 'certificate request'), undefined)
  t.equal(signedStructureProblem(blocks[1].bytes, 'certificate'), undefined)
  t.equal(signedStructureProblem(Buffer.concat([blocks[1].bytes, Buffer.from([0])]), 'certificate'), 'x509: trailing data after certificate')
  t.equal(signedStructureProblem(blocks[1].bytes.subarray(0, 40), 'certificate'), 'x509: malformed certificate')
  t.same(pemBlocks('-----BEGIN X-----\nno end'), [])
  const headers = pemBlocks('-----BEGIN CERTIFICATE-----\nProc-Type: 4,ENCRYPTED\n\nAAAA\n-----END CERTIFICATE-----\n')
  t.equal(headers[0].headers, true)
  t.same(pemBlocks('-----BEGIN '.repeat(10000)), [], 'unterminated markers end the scan')
})

t.test('review bodies', async (t) => {
  const sar = (spec: Obj, metadata: Obj = {}) => ({ apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview', metadata, spec })
  const resourceAttributes = { namespace: 'default', verb: 'get', resource: 'pods' }
  t.same(validateReview('SubjectAccessReview', sar({ user: 'jane', resourceAttributes })), [])
  t.same(validateReview('SubjectAccessReview', sar({ groups: ['devs'], nonResourceAttributes: { path: '/healthz', verb: 'get' } }, { creationTimestamp: null })), [])
  t.same(fields(validateReview('SubjectAccessReview', sar({}))), ['spec.resourceAttributes', 'spec.user'])
  t.match(validateReview('SubjectAccessReview', sar({ user: 'u' })), [{ message: 'Invalid value: null: exactly one of nonResourceAttributes or resourceAttributes must be specified' }])
  t.match(validateReview('SubjectAccessReview', sar({ user: 'u', resourceAttributes, nonResourceAttributes: { path: '/' } })), [{ field: 'spec.nonResourceAttributes', message: /cannot be specified in combination with resourceAttributes$/ }])
  t.match(validateReview('SubjectAccessReview', sar({ resourceAttributes })), [{ field: 'spec.user', message: 'Invalid value: "": at least one of user or group must be specified' }])
  t.match(validateReview('SubjectAccessReview', sar({ user: 'u', resourceAttributes }, { name: 'x' })), [{ field: 'metadata', message: /must be empty$/ }])
  const selectors = validateReview('SubjectAccessReview', sar({ user: 'u', resourceAttributes: { ...resourceAttributes, fieldSelector: {}, labelSelector: { rawSelector: 'a=b', requirements: [{ key: 'a', operator: 'In' }] } } }))
  t.same(fields(selectors), ['spec.resourceAttributes.fieldSelector.requirements', 'spec.resourceAttributes.labelSelector.rawSelector', 'spec.resourceAttributes.labelSelector.requirements[0].values'])

  t.same(validateReview('SelfSubjectAccessReview', { metadata: {}, spec: { resourceAttributes } }), [], 'no user needed for the self review')
  const local = (spec: Obj, namespace = 'default') => ({ metadata: { namespace }, spec })
  t.same(validateReview('LocalSubjectAccessReview', local({ user: 'u', resourceAttributes })), [])
  t.match(validateReview('LocalSubjectAccessReview', local({ user: 'u', resourceAttributes }, 'other')), [{ field: 'spec.resourceAttributes.namespace', message: 'Invalid value: "default": must match metadata.namespace' }])
  t.match(validateReview('LocalSubjectAccessReview', local({ user: 'u', nonResourceAttributes: { path: '/' } })), [{ field: 'spec.nonResourceAttributes', message: /disallowed on this kind of request$/ }])
  t.match(validateReview('LocalSubjectAccessReview', { metadata: { namespace: 'default', labels: { a: 'b' } }, spec: { user: 'u', resourceAttributes } }), [{ field: 'metadata', message: /must be empty except for namespace$/ }])
  for (const kind of ['TokenReview', 'SelfSubjectReview', 'SelfSubjectRulesReview'] as const) t.same(validateReview(kind, { metadata: {}, spec: {} }), [], kind)
})
