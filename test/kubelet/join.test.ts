// Joining a node as `weft agent --token --ca-cert-hash` does, against a real API server
// and control plane: the CA pinned by hash, a bootstrap token, a CSR approved by the
// csrapproving controller and signed by csrsigning; what must be refused is refused.
import t from 'tap'
import { mkdtemp, rm } from 'node:fs/promises'
import { statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { resources } from '../../src/api/registry.ts'
import { bootstrapTokenSecret, generateBootstrapToken } from '../../src/auth/tokens/bootstrap-token.ts'
import { JOIN_GROUP } from '../../src/cli/token.ts'
import { RestClient } from '../../src/client/index.ts'
import { discoverPinnedCA, nodeCredentials, nodePkiPaths } from '../../src/kubelet/join.ts'
import { createCertificateRequest } from '../../src/pki/csr.ts'
import { generateKeyPair } from '../../src/pki/keys.ts'
import { startCluster, until } from '../helpers/control-plane.ts'
import { testPki } from '../helpers/apiserver.ts'

t.setTimeout(120_000)
const pki = await testPki()
const cluster = await startCluster(t, { signingCa: pki.ca, rootCaPem: pki.ca.certPem }, { socket: true })
const secretInfo = resources.find((r) => r.kind === 'Secret')!
const csrInfo = resources.find((r) => r.kind === 'CertificateSigningRequest')!
const endpoint = { socketPath: cluster.socketPath! }

async function joinToken(): Promise<string> {
  const tok = generateBootstrapToken()
  await cluster.client.create(secretInfo, bootstrapTokenSecret({ id: tok.id, secret: tok.secret, ttlSeconds: 600, groups: [JOIN_GROUP], usages: ['authentication', 'signing'] }) as never)
  return tok.token
}

async function whoami(client: RestClient): Promise<{ username: string; groups: string[] }> {
  const r = await client.request<{ status: { userInfo: { username: string; groups: string[] } } }>('POST', '/apis/authentication.k8s.io/v1/selfsubjectreviews', { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' })
  return r.status.userInfo
}

async function csrVerdict(client: RestClient, cn: string, orgs: string[]): Promise<string> {
  const key = await generateKeyPair('ecdsa-p256')
  const request = await createCertificateRequest(key.privateKeyPem, { commonName: cn, organizations: orgs })
  const created = await client.create<any>(csrInfo, { apiVersion: 'certificates.k8s.io/v1', kind: 'CertificateSigningRequest', metadata: { generateName: 'test-' }, spec: { request: Buffer.from(request).toString('base64'), signerName: 'kubernetes.io/kube-apiserver-client-kubelet', usages: ['digital signature', 'client auth'] } } as never)
  let verdict = ''
  await until(`a verdict on ${cn}`, async () => {
    const csr = await cluster.client.get<any>(csrInfo, created.metadata.name)
    verdict = (csr.status?.conditions ?? []).map((c: { type: string }) => c.type).join(',')
    return verdict !== ''
  }, 20_000)
  return verdict
}

t.test('a node joins with a token and the pinned CA, keeps its certificate and comes back without the token', async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'weft-join-'))
  t.teardown(() => rm(dataDir, { recursive: true, force: true }))
  await t.rejects(discoverPinnedCA(endpoint, `sha256:${'0'.repeat(64)}`), /no certificate the API server showed matches --ca-cert-hash/, 'a wrong pin is refused before anything is sent')
  await t.rejects(discoverPinnedCA(endpoint, 'md5:abc'), /must be sha256: and 64 hex digits/)
  await t.rejects(nodeCredentials({ endpoint, nodeName: 'n1', dataDir }), /has no credentials .* join with --token and --ca-cert-hash/)
  const token = await joinToken()
  const joined = await nodeCredentials({ endpoint, nodeName: 'n1', dataDir, token, caCertHash: pki.caHash })
  t.ok(joined.renewal, 'a joined node renews its own certificate')
  const paths = nodePkiPaths(dataDir)
  for (const f of [paths.key, paths.cert, paths.ca]) t.equal(statSync(f).mode & 0o777, 0o600, f)
  t.equal(statSync(paths.dir).mode & 0o777, 0o700)
  const client = new RestClient(joined.address)
  t.teardown(() => client.close())
  t.same(await whoami(client), { username: 'system:node:n1', groups: ['system:nodes', 'system:authenticated'] })
  const again = await nodeCredentials({ endpoint, nodeName: 'n1', dataDir })
  t.equal(again.address.credentials?.certPem, joined.address.credentials?.certPem, 'the stored certificate, no token needed')
  const csrs = await cluster.client.list<any>(csrInfo)
  const mine = csrs.items.find((c) => c.spec.username.startsWith('system:bootstrap:'))
  t.match(mine.status.conditions[0], { type: 'Approved', reason: 'AutoApproved' })
  t.ok(mine.status.certificate, 'issued')

  t.equal(await csrVerdict(client, 'system:node:n2', ['system:nodes']), 'Denied', 'a node asking for another node\'s name')
  t.equal(await csrVerdict(client, 'system:node:n1', ['system:nodes']), 'Approved', 'a node renewing its own')
})

t.test('a bootstrap token cannot get system:masters or anything but a node identity', async (t) => {
  const token = await joinToken()
  const bootstrapper = new RestClient({ ...endpoint, credentials: { caPem: pki.ca.certPem, token } })
  t.teardown(() => bootstrapper.close())
  t.equal(await csrVerdict(bootstrapper, 'system:node:evil', ['system:masters']), 'Denied')
  t.equal(await csrVerdict(bootstrapper, 'admin', ['system:nodes']), 'Denied')
  const list = await bootstrapper.list(secretInfo, { namespace: 'kube-system' }).then(() => 'allowed', (err: { code?: number }) => err.code)
  t.equal(list, 403, 'a bootstrapper reads no secrets')
})
