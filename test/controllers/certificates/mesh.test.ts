import t from 'tap'
import type { V1CertificateSigningRequest, V1Pod } from '@kubernetes/client-node'
import { resources } from '../../../src/api/registry.ts'
import { withVerdict } from '../../../src/controllers/certificates/approve.ts'
import type { ParsedRequest } from '../../../src/controllers/certificates/csr.ts'
import { judgeMesh, meshRequest, planMeshSigning, reconcileMeshRoot, runsAs } from '../../../src/controllers/certificates/mesh.ts'
import { withFailure } from '../../../src/controllers/certificates/sign.ts'

const TD = 'cluster.local'
const usages = ['digital signature', 'key encipherment', 'client auth', 'server auth']
const req = (extra: Partial<ParsedRequest> = {}): ParsedRequest => ({ commonName: 'web', organizations: ['shop'], dnsNames: [], ipAddresses: [], emailAddresses: [], uris: ['spiffe://cluster.local/ns/shop/sa/web'], publicKeyAlgorithm: 'ECDSA-P256', ...extra })
const csr = (username = 'system:node:n1', groups = ['system:nodes', 'system:authenticated'], spec: Partial<V1CertificateSigningRequest['spec']> = {}): V1CertificateSigningRequest => ({
  metadata: { name: 'mesh-x' },
  spec: { request: '', signerName: 'weft.dev/mesh', usages, username, groups, ...spec },
})
const yes = async () => true
const no = async () => false

t.test('a node asking for a service account of its own pods: the identity it names', async (t) => {
  t.same(meshRequest(csr(), req(), TD), { node: 'n1', identity: { trustDomain: TD, namespace: 'shop', serviceAccount: 'web' } })
  t.same(meshRequest(csr(undefined, undefined, { usages: ['client auth', 'server auth'] }), req(), TD), { node: 'n1', identity: { trustDomain: TD, namespace: 'shop', serviceAccount: 'web' } }, 'the two auth usages alone')
})

t.test('every other shape is refused with its reason', async (t) => {
  const cases: Array<[string, V1CertificateSigningRequest, ParsedRequest | Error, RegExp]> = [
    ['a user', csr('alice', ['system:authenticated']), req(), /only a node/],
    ['a node name outside system:nodes', csr('system:node:n1', ['system:authenticated']), req(), /only a node/],
    ['system:node: with no name', csr('system:node:', ['system:nodes']), req(), /only a node/],
    ['a request that does not parse', csr(), new Error('bad PEM'), /cannot be parsed: bad PEM/],
    ['no URI', csr(), req({ uris: [] }), /exactly one URI .* not 0/],
    ['two URIs', csr(), req({ uris: ['spiffe://cluster.local/ns/shop/sa/web', 'spiffe://cluster.local/ns/shop/sa/db'] }), /not 2/],
    ['a DNS name besides', csr(), req({ dnsNames: ['web.shop'] }), /no DNS name/],
    ['an IP besides', csr(), req({ ipAddresses: ['10.0.0.1'] }), /no DNS name, IP address/],
    ['an https URI', csr(), req({ uris: ['https://cluster.local/ns/shop/sa/web'] }), /scheme must be spiffe/],
    ['a path that is not /ns/x/sa/y', csr(), req({ uris: ['spiffe://cluster.local/shop/web'] }), /\/ns\/<namespace>\/sa\/<service account>/],
    ['a dot segment', csr(), req({ uris: ['spiffe://cluster.local/ns/../sa/web'] }), /not allowed/],
    ['another trust domain', csr(), req({ uris: ['spiffe://evil.example/ns/shop/sa/web'] }), /trust domain evil\.example is not the mesh's cluster\.local/],
    ['a subject that names another account', csr(), req({ commonName: 'db' }), /subject must be CN=web, O=shop/],
    ['a subject with two organizations', csr(), req({ organizations: ['shop', 'system:masters'] }), /subject must be/],
    ['an RSA key', csr(), req({ publicKeyAlgorithm: 'RSA' }), /ECDSA P-256/],
    ['client auth only', csr(undefined, undefined, { usages: ['digital signature', 'client auth'] }), req(), /usages/],
    ['a CA usage', csr(undefined, undefined, { usages: [...usages, 'cert sign'] }), req(), /usages/],
  ]
  for (const [what, c, r, reason] of cases) {
    const got = meshRequest(c, r, TD)
    t.match(got, { problem: reason }, what)
    t.match(await judgeMesh(c, r, TD, yes), { deny: reason }, `${what}: denied`)
  }
})

t.test('the approver approves only when the node runs a pod as the account, and decides once', async (t) => {
  t.match(await judgeMesh(csr(), req(), TD, yes), { approve: /shop\/web for node n1/ })
  t.match(await judgeMesh(csr(), req(), TD, no), { deny: /node n1 has no pod running as service account shop\/web/ })
  const approved = withVerdict(csr(), { approve: 'ok' }, new Date())
  t.equal(await judgeMesh(approved, req(), TD, yes), undefined, 'decided')
  t.equal(await judgeMesh(csr(undefined, undefined, { signerName: 'kubernetes.io/kubelet-serving' }), req(), TD, yes), undefined, 'another signer')
})

t.test('the signer checks again, and signs for the shorter of its lifetime and the request', async (t) => {
  const approved = (c = csr()) => withVerdict(c, { approve: 'ok' }, new Date())
  t.equal(await planMeshSigning(csr(), req(), TD, 86400, yes), undefined, 'not approved')
  t.same(await planMeshSigning(approved(), req(), TD, 86400, yes), { sign: { seconds: 86400 } })
  t.same(await planMeshSigning(approved(csr(undefined, undefined, { expirationSeconds: 3600 })), req(), TD, 86400, yes), { sign: { seconds: 3600 } })
  t.same(await planMeshSigning(approved(csr(undefined, undefined, { expirationSeconds: 7 * 86400 })), req(), TD, 86400, yes), { sign: { seconds: 86400 } }, 'never past the lifetime')
  t.match(await planMeshSigning(approved(), req(), TD, 86400, no), { fail: /has no pod running as/ }, 'an approval by hand does not get around the node restriction')
  t.match(await planMeshSigning(approved(csr('alice', ['system:authenticated'])), req(), TD, 86400, yes), { fail: /only a node/ })
  t.equal(await planMeshSigning(withFailure(approved(), 'no', new Date()), req(), TD, 86400, yes), undefined, 'failed once')
  t.equal(await planMeshSigning({ ...approved(), status: { ...approved().status, certificate: 'x' } }, req(), TD, 86400, yes), undefined, 'signed once')
  const denied = withVerdict(csr(), { deny: 'no' }, new Date())
  t.equal(await planMeshSigning(denied, req(), TD, 86400, yes), undefined, 'denied')
})

t.test('runsAs: a pod of the node, in the namespace, as the account (default: default), not finished', async (t) => {
  const pod = (ns: string, sa: string | undefined, node = 'n1', phase = 'Running'): V1Pod => ({ metadata: { namespace: ns, name: 'p' }, spec: { nodeName: node, serviceAccountName: sa, containers: [] }, status: { phase } })
  const id = { trustDomain: TD, namespace: 'shop', serviceAccount: 'web' }
  t.ok(runsAs([pod('shop', 'web')], 'n1', id))
  t.ok(runsAs([pod('shop', undefined)], 'n1', { ...id, serviceAccount: 'default' }))
  t.notOk(runsAs([pod('shop', 'web', 'n2')], 'n1', id), 'another node')
  t.notOk(runsAs([pod('other', 'web')], 'n1', id), 'another namespace')
  t.notOk(runsAs([pod('shop', 'db')], 'n1', id), 'another account')
  t.notOk(runsAs([pod('shop', 'web', 'n1', 'Succeeded')], 'n1', id), 'finished')
  t.ok(runsAs([pod('shop', 'web', 'n1', 'Pending')], 'n1', id), 'pending: starting, needs its identity')
})

t.test('the mesh root ConfigMap is created, left alone when right, and put back when edited', async (t) => {
  const info = resources.find((r) => r.kind === 'ConfigMap')!
  const [create] = reconcileMeshRoot(undefined, 'ROOT', info)
  t.match(create, { verb: 'create', object: { metadata: { name: 'weft-mesh-root-cert', namespace: 'kube-system' }, data: { 'root-cert.pem': 'ROOT' } } })
  const existing = { metadata: { name: 'weft-mesh-root-cert', namespace: 'kube-system', resourceVersion: '5' }, data: { 'root-cert.pem': 'ROOT' } }
  t.same(reconcileMeshRoot(existing, 'ROOT', info), [])
  t.match(reconcileMeshRoot({ ...existing, data: { 'root-cert.pem': 'EVIL', extra: 'x' } }, 'ROOT', info), [{ verb: 'update', object: { metadata: { resourceVersion: '5' }, data: { 'root-cert.pem': 'ROOT' } } }])
  t.same(Object.keys((reconcileMeshRoot({ ...existing, data: { "root-cert.pem": "EVIL", extra: "x" } }, "ROOT", info)[0] as unknown as { object: { data: object } }).object.data), ['root-cert.pem'])
})
