import t from 'tap'
import type { V1CertificateSigningRequest } from '@kubernetes/client-node'
import { judge, withVerdict } from '../../../src/controllers/certificates/approve.ts'
import { planSigning, withFailure } from '../../../src/controllers/certificates/sign.ts'
import type { ParsedRequest } from '../../../src/controllers/certificates/csr.ts'

const nodeReq = (cn = 'system:node:n1', extra: Partial<ParsedRequest> = {}): ParsedRequest => ({ commonName: cn, organizations: ['system:nodes'], dnsNames: [], ipAddresses: [], emailAddresses: [], uris: [], ...extra })
const csr = (username: string, groups: string[], spec: Partial<V1CertificateSigningRequest['spec']> = {}): V1CertificateSigningRequest => ({
  metadata: { name: 'c' },
  spec: { request: '', signerName: 'kubernetes.io/kube-apiserver-client-kubelet', usages: ['digital signature', 'client auth'], username, groups, ...spec },
})
const bootstrapper = ['system:bootstrappers', 'system:bootstrappers:kubeadm:default-node-token', 'system:authenticated']
const allowAll = () => true

t.test('a bootstrapper allowed nodeclient gets its node certificate approved', async (t) => {
  const v = judge(csr('system:bootstrap:abcdef', bootstrapper), nodeReq(), (u, sub) => sub === 'nodeclient' && u.groups.includes('system:bootstrappers'))
  t.match(v, { approve: /kubelet client certificate/ })
  const after = withVerdict(csr('x', []), v!, new Date())
  t.match(after.status!.conditions![0], { type: 'Approved', status: 'True', reason: 'AutoApproved' })
  t.equal(judge(after, nodeReq(), allowAll), undefined, 'decided once')
})

t.test('a node renews only its own identity (selfnodeclient)', async (t) => {
  t.match(judge(csr('system:node:n1', ['system:nodes']), nodeReq(), (_u, sub) => sub === 'selfnodeclient'), { approve: /self/ })
  t.match(judge(csr('system:node:n2', ['system:nodes']), nodeReq('system:node:n1'), allowAll), { deny: /may not request a certificate for "system:node:n1"/ })
})

t.test('system:masters and other shapes from bootstrappers are denied; others without permission are left alone', async (t) => {
  t.match(judge(csr('system:bootstrap:abcdef', bootstrapper), nodeReq('system:node:n1', { organizations: ['system:masters'] }), allowAll), { deny: /organization/ })
  t.match(judge(csr('system:bootstrap:abcdef', bootstrapper), nodeReq('system:node:n1', { dnsNames: ['evil'] }), allowAll), { deny: /alternative names/ })
  t.match(judge(csr('system:bootstrap:abcdef', bootstrapper, { usages: ['server auth'] }), nodeReq(), allowAll), { deny: /usages/ })
  t.match(judge(csr('system:bootstrap:abcdef', bootstrapper), new Error('bad PEM'), allowAll), { deny: /cannot be parsed/ })
  t.equal(judge(csr('alice', ['system:authenticated']), nodeReq(), () => false), undefined, 'no permission: pending for a human')
  t.match(judge(csr('alice', []), nodeReq(), allowAll), { approve: /SubjectAccessReview/ }, 'anyone the authorizer allows nodeclient')
  t.equal(judge(csr('x', [], { signerName: 'example.com/other' }), nodeReq(), allowAll), undefined, 'other signers are not ours')
})

t.test('the signer signs approved requests within its rules and fails the rest', async (t) => {
  const approved = (c: V1CertificateSigningRequest) => withVerdict(c, { approve: 'ok' }, new Date())
  t.equal(planSigning(csr('a', []), nodeReq()), undefined, 'not approved: nothing')
  t.same(planSigning(approved(csr('a', [])), nodeReq()), { sign: { usages: ['client'], seconds: 365 * 24 * 3600 } })
  t.same(planSigning(approved(csr('a', [], { expirationSeconds: 60 })), nodeReq()), { sign: { usages: ['client'], seconds: 600 } }, 'at least 10 minutes')
  t.match(planSigning(approved(csr('a', [], { signerName: 'kubernetes.io/kube-apiserver-client' })), nodeReq('root', { organizations: ['system:masters'] })), { fail: /system:masters/ })
  t.same(planSigning(approved(csr('a', [], { signerName: 'kubernetes.io/kube-apiserver-client' })), nodeReq('bob', { organizations: ['dev'] })), { sign: { usages: ['client'], seconds: 365 * 24 * 3600 } })
  t.match(planSigning(approved(csr('a', [], { signerName: 'kubernetes.io/kubelet-serving', usages: ['server auth'] })), nodeReq()), { fail: /at least one DNS name/ })
  t.match(planSigning(approved(csr('a', [], { signerName: 'kubernetes.io/kubelet-serving', usages: ['server auth', 'digital signature'] })), nodeReq('system:node:n1', { ipAddresses: ['10.0.0.1'] })), { sign: { usages: ['server'] } })
  const failed = withFailure(approved(csr('a', [])), 'no', new Date())
  t.equal(planSigning(failed, nodeReq()), undefined, 'failed once, left alone')
  t.equal(planSigning({ ...approved(csr('a', [])), status: { ...approved(csr('a', [])).status, certificate: 'x' } }, nodeReq()), undefined, 'signed once')
})

t.test('kubelet serving requests: approved only for the node itself, its own name and addresses', async (t) => {
  const node = {
    metadata: { name: 'n1' },
    status: {
      addresses: [
        { type: 'InternalIP', address: '10.0.0.1' },
        { type: 'InternalIP', address: 'fd00:0:0::1' },
        { type: 'ExternalIP', address: '203.0.113.9' },
        { type: 'Hostname', address: 'n1.example' },
      ],
    },
  }
  const nodes = (name: string) => (name === 'n1' ? node : undefined)
  const serving = (username = 'system:node:n1', groups = ['system:nodes', 'system:authenticated'], usages = ['digital signature', 'server auth']) => csr(username, groups, { signerName: 'kubernetes.io/kubelet-serving', usages })
  const sans = (extra: Partial<ParsedRequest> = {}) => nodeReq('system:node:n1', { ipAddresses: ['10.0.0.1'], dnsNames: ['n1'], ...extra })
  t.match(judge(serving(), sans(), () => false, nodes), { approve: /serving/ }, 'no SubjectAccessReview needed: the rules are the check')
  t.match(judge(serving(), sans({ ipAddresses: ['10.0.0.1', 'fd00::1', '203.0.113.9'], dnsNames: ['n1', 'n1.example'] }), () => false, nodes), { approve: /serving/ }, 'every address of the Node, IPv6 in any spelling')
  t.match(judge(serving(undefined, undefined, ['key encipherment', 'digital signature', 'server auth']), sans(), () => false, nodes), { approve: /serving/ })
  const pending: Array<[string, V1CertificateSigningRequest, ParsedRequest | Error]> = [
    ['an IP the Node does not have', serving(), sans({ ipAddresses: ['10.0.0.2'] })],
    ['a DNS name that is not the node', serving(), sans({ dnsNames: ['n1', 'kubernetes.default'] })],
    ['another node asking', serving('system:node:n2'), sans()],
    ['a node outside system:nodes', serving('system:node:n1', ['system:authenticated']), sans()],
    ['a bootstrapper', serving('system:bootstrap:abcdef', bootstrapper), sans()],
    ['a user', serving('alice', ['system:nodes']), sans()],
    ['a CN other than the requester', serving(), nodeReq('system:node:n2', { ipAddresses: ['10.0.0.1'] })],
    ['another organization', serving(), sans({ organizations: ['system:nodes', 'system:masters'] })],
    ['client usages', serving(undefined, undefined, ['digital signature', 'server auth', 'client auth']), sans()],
    ['no server auth', serving(undefined, undefined, ['digital signature']), sans()],
    ['an email name', serving(), sans({ emailAddresses: ['a@b.c'] })],
    ['a URI name', serving(), sans({ uris: ['spiffe://x'] })],
    ['no names', serving(), nodeReq('system:node:n1')],
    ['a request that does not parse', serving(), new Error('bad')],
  ]
  for (const [what, c, req] of pending) t.equal(judge(c, req, allowAll, nodes), undefined, `${what}: left pending`)
  t.equal(judge(serving('system:node:ghost'), nodeReq('system:node:ghost', { dnsNames: ['ghost'] }), allowAll, nodes), undefined, 'no Node object: pending')
  t.equal(judge(serving(), sans(), allowAll), undefined, 'no node lookup: pending')
})
