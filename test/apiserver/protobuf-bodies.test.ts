// Protobuf request bodies through parseBody and the server: decoded for the kinds in the
// schema table, 400 when malformed or of the wrong kind, 415 (with its hint) for the rest.
import t from 'tap'
import { bodyKind, parseBody } from '../../src/apiserver/http-io.ts'
import { resolveRequest, type ResourceRequest } from '../../src/apiserver/request-info.ts'
import { ApiError } from '../../src/util/errors.ts'
import { kubectlBodies } from '../helpers/protobuf-kubectl-bodies.ts'
import { call, startTestServer, userCredentials } from '../helpers/apiserver.ts'
import { encodeObject } from '../helpers/protobuf.ts'

const protobuf = 'application/vnd.kubernetes.protobuf'
const body = (kind: string) => Buffer.from(kubectlBodies[kind], 'hex')
const request = (method: string, path: string) => resolveRequest(method, path, new URLSearchParams()) as ResourceRequest

t.test('bodyKind: the kind a create or update body must be', async (t) => {
  t.same(bodyKind(request('POST', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews')), { apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectAccessReview' })
  t.same(bodyKind(request('POST', '/api/v1/namespaces/ci/serviceaccounts/robot/token')), { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest' })
  t.same(bodyKind(request('PUT', '/apis/certificates.k8s.io/v1/certificatesigningrequests/bob/approval')), { apiVersion: 'certificates.k8s.io/v1', kind: 'CertificateSigningRequest' })
  t.same(bodyKind(request('POST', '/api/v1/namespaces/ci/configmaps')), { apiVersion: 'v1', kind: 'ConfigMap' })
  t.equal(bodyKind(request('DELETE', '/api/v1/namespaces/ci/serviceaccounts/robot')), undefined, 'DeleteOptions are not the resource')
})

t.test('parseBody decodes protobuf only for a kind in the table', async (t) => {
  const sa = { apiVersion: 'v1', kind: 'ServiceAccount' }
  t.same(parseBody(body('ServiceAccount'), protobuf, sa), { kind: 'ServiceAccount', apiVersion: 'v1', metadata: { name: 'robot' } })
  const refused = (fn: () => unknown) => {
    try {
      fn()
    } catch (err) {
      return err as ApiError
    }
    throw new Error('expected a refusal')
  }
  const noKind = refused(() => parseBody(body('ServiceAccount'), protobuf))
  t.equal(noKind.code, 415, 'no expected kind: as before')
  t.match(noKind.message, /weft decodes Kubernetes protobuf only for the security kinds/)
  t.equal(refused(() => parseBody(body('ServiceAccount'), protobuf, { apiVersion: 'v1', kind: 'ConfigMap' })).code, 415)
  const wrong = refused(() => parseBody(body('TokenRequest'), protobuf, sa))
  t.equal(wrong.code, 400)
  t.equal(wrong.reason, 'BadRequest')
  t.match(wrong.message, /not valid Kubernetes protobuf: the body is a TokenRequest \(authentication.k8s.io\/v1\), but this request takes a ServiceAccount \(v1\)/)
  const truncated = refused(() => parseBody(body('ServiceAccount').subarray(0, 40), protobuf, sa))
  t.equal(truncated.code, 400)
  t.match(truncated.message, /runs past the end/)
  t.same(parseBody(Buffer.from('{"kind":"ServiceAccount"}'), 'application/json', sa), { kind: 'ServiceAccount' }, 'JSON is unchanged')
})

t.test('over HTTPS: protobuf reviews are answered, bad bodies are Status errors', async (t) => {
  const { url } = await startTestServer(t)
  const headers = { 'content-type': protobuf }
  const sar = await call(url, 'POST', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', body('SelfSubjectAccessReview'), headers)
  t.equal(sar.status, 201)
  t.same(sar.body.status, { allowed: true })
  t.same(sar.body.spec.resourceAttributes, { namespace: 'shop', verb: 'list', resource: 'pods', subresource: 'log' })
  const dev = await userCredentials('dana', ['dev'])
  const danaSar = await call(url, 'POST', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', body('SelfSubjectAccessReview'), headers, dev)
  t.equal(danaSar.body.status.allowed, false)
  for (const groups of [['dev'], ['dev', 'system:authenticated']]) {
    const json = { apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview', spec: { user: 'dana', groups, extra: { scopes: ['a'] }, nonResourceAttributes: { path: '/healthz', verb: 'get' } } }
    const asProtobuf = await call(url, 'POST', '/apis/authorization.k8s.io/v1/subjectaccessreviews', encodeObject(json, 'authorization.v1.SubjectAccessReview'), headers)
    const asJson = await call(url, 'POST', '/apis/authorization.k8s.io/v1/subjectaccessreviews', json)
    t.equal(asProtobuf.status, 201, JSON.stringify(asProtobuf.body))
    t.same(asProtobuf.body, asJson.body, `the same answer as for JSON (groups ${groups})`)
    t.equal(asProtobuf.body.status.allowed, groups.includes('system:authenticated'), 'only system:authenticated may read /healthz')
  }
  const wrongKind = await call(url, 'POST', '/apis/authentication.k8s.io/v1/tokenreviews', body('SelfSubjectReview'), headers)
  t.equal(wrongKind.status, 400)
  t.equal(wrongKind.body.kind, 'Status')
  t.match(wrongKind.body.message, /but this request takes a TokenReview/)
  const garbage = await call(url, 'POST', '/apis/authentication.k8s.io/v1/selfsubjectreviews', Buffer.from('k8s\0\x0a\xff\xff\xff\xff\x0f', 'latin1'), headers)
  t.equal(garbage.status, 400)
  t.match(garbage.body.message, /not valid Kubernetes protobuf: length .* is beyond the 3145728-byte limit/)
  const deleteOptions = await call(url, 'DELETE', '/api/v1/namespaces/default/serviceaccounts/default', Buffer.from('k8s\0', 'latin1'), headers)
  t.equal(deleteOptions.status, 415, 'a protobuf DeleteOptions is still refused with the hint')
})
