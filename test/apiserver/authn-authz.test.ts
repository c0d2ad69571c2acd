// Who may call the API server and what they may do: authentication (client certificates,
// service-account and bootstrap tokens, anonymous), RBAC with escalation prevention, the
// node authorizer and NodeRestriction, through the real HTTPS server.
import t from 'tap'
import { Writable } from 'node:stream'
import { pino } from 'pino'
import { createCA, issueCertificate } from '../../src/pki/certificates.ts'
import { bootstrapTokenSecret, generateBootstrapToken } from '../../src/auth/tokens/bootstrap-token.ts'
import type { Credentials } from '../../src/client/index.ts'
import { call, startTestServer, testPki, userCredentials } from '../helpers/apiserver.ts'

const ns = (name: string) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } })
const whoami = { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' }
const SSR = '/apis/authentication.k8s.io/v1/selfsubjectreviews'

t.test('anonymous callers reach health and version only; everything else is 401', async (t) => {
  const { url } = await startTestServer(t)
  const anon: Credentials = { caPem: (await testPki()).ca.certPem }
  for (const path of ['/healthz', '/livez', '/readyz', '/version']) t.equal((await call(url, 'GET', path, undefined, {}, anon)).status, 200, path)
  for (const path of ['/api', '/apis', '/api/v1/namespaces/default/pods', '/metrics', '/openapi/v3']) {
    const res = await call(url, 'GET', path, undefined, {}, anon)
    t.equal(res.status, 401, path)
    t.match(res.body, { kind: 'Status', reason: 'Unauthorized', code: 401 })
  }
})

t.test('client certificates: the CN is the user, each O a group; wrong CA, expired and not-yet-valid are 401', async (t) => {
  const { url } = await startTestServer(t)
  const pki = await testPki()
  const alice = await userCredentials('alice', ['dev', 'qa'])
  const me = await call(url, 'POST', SSR, whoami, {}, alice)
  t.equal(me.status, 201)
  t.same(me.body.status.userInfo, { username: 'alice', groups: ['dev', 'qa', 'system:authenticated'] })
  const otherCA = await createCA('not-the-cluster')
  const foreign = await issueCertificate(otherCA, { commonName: 'mallory', organizations: ['system:masters'], usages: ['client'] })
  const day = 86_400_000
  const expired = await issueCertificate(pki.ca, { commonName: 'old', usages: ['client'], validityDays: 1, now: new Date(Date.now() - 3 * day) })
  const future = await issueCertificate(pki.ca, { commonName: 'early', usages: ['client'], validityDays: 1, now: new Date(Date.now() + 3 * day) })
  const serverOnly = await issueCertificate(pki.ca, { commonName: 'a-server', usages: ['server'] })
  for (const [what, cert] of [['another CA', foreign], ['expired', expired], ['not yet valid', future], ['no client usage', serverOnly]] as const) {
    const res = await call(url, 'GET', '/api/v1/namespaces', undefined, {}, { caPem: pki.ca.certPem, certPem: cert.certPem, keyPem: cert.keyPem })
    t.equal(res.status, 401, what)
  }
})

t.test('bearer tokens: service-account tokens for the API audience; wrong audience, forged or revoked ones are 401, logged without the token', async (t) => {
  const lines: string[] = []
  const log = pino({ level: 'debug' }, new Writable({ write: (chunk, _e, done) => (lines.push(String(chunk)), done()) }))
  const { url, server } = await startTestServer(t, { log })
  const caPem = (await testPki()).ca.certPem
  t.equal((await call(url, 'POST', '/api/v1/namespaces/default/serviceaccounts', { metadata: { name: 'robot' } })).status, 201)
  const issued = await call(url, 'POST', '/api/v1/namespaces/default/serviceaccounts/robot/token', { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 600 } })
  t.equal(issued.status, 201)
  const token: string = issued.body.status.token
  const me = await call(url, 'POST', SSR, whoami, {}, { caPem, token })
  t.equal(me.body.status.userInfo.username, 'system:serviceaccount:default:robot')
  t.same(me.body.status.userInfo.groups, ['system:serviceaccounts', 'system:serviceaccounts:default', 'system:authenticated'])

  const sa = (await call(url, 'GET', '/api/v1/namespaces/default/serviceaccounts/robot')).body
  const otherAudience = await server.security.serviceAccountTokens.issue({ namespace: 'default', serviceAccount: { name: 'robot', uid: sa.metadata.uid }, audiences: ['vault'], expirationSeconds: 600 })
  const [h, p] = token.split('.')
  const noneAlg = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${p}.`
  const tampered = `${h}.${Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(p!, 'base64url').toString()), sub: 'system:serviceaccount:kube-system:admin' })).toString('base64url')}.${token.split('.')[2]}`
  for (const [what, bad] of [['another audience', otherAudience.token], ['alg none', noneAlg], ['tampered claims', tampered], ['garbage', 'not-a-token']] as const) {
    t.equal((await call(url, 'GET', '/api/v1/namespaces', undefined, {}, { caPem, token: bad })).status, 401, what)
  }
  t.equal((await call(url, 'GET', '/api/v1/namespaces', undefined, { authorization: 'Bearer ' }, { caPem })).status, 401, 'an empty bearer token')
  await call(url, 'DELETE', '/api/v1/namespaces/default/serviceaccounts/robot')
  t.equal((await call(url, 'POST', SSR, whoami, {}, { caPem, token })).status, 401, 'the account is gone: its token stops working at once')
  const logged = lines.join('')
  t.match(logged, /authentication failed/)
  for (const secret of [token, otherAudience.token, tampered]) t.notOk(logged.includes(secret.split('.')[2]!), 'no token (signature) in the log')
})

t.test('bootstrap tokens authenticate in system:bootstrappers until revoked', async (t) => {
  const { url } = await startTestServer(t)
  const caPem = (await testPki()).ca.certPem
  const tok = generateBootstrapToken()
  const secret = bootstrapTokenSecret({ id: tok.id, secret: tok.secret, ttlSeconds: 600, groups: ['system:bootstrappers:kubeadm:default-node-token'], usages: ['authentication'] })
  t.equal((await call(url, 'POST', '/api/v1/namespaces/kube-system/secrets', secret)).status, 201)
  const me = await call(url, 'POST', SSR, whoami, {}, { caPem, token: tok.token })
  t.same(me.body.status.userInfo, { username: `system:bootstrap:${tok.id}`, groups: ['system:bootstrappers', 'system:bootstrappers:kubeadm:default-node-token', 'system:authenticated'] })
  t.equal((await call(url, 'POST', SSR, whoami, {}, { caPem, token: `${tok.id}.${'0'.repeat(16)}` })).status, 401, 'wrong secret')
  t.equal((await call(url, 'DELETE', `/api/v1/namespaces/kube-system/secrets/bootstrap-token-${tok.id}`)).status, 200)
  let status = 0
  for (let i = 0; i < 50 && status !== 401; i++) {
    status = (await call(url, 'POST', SSR, whoami, {}, { caPem, token: tok.token })).status
    if (status !== 401) await new Promise((r) => setTimeout(r, 20))
  }
  t.equal(status, 401, 'revoked')
})

t.test('RBAC: a user with a Role sees exactly its namespace; 403s say what upstream says; no escalation', async (t) => {
  const { url } = await startTestServer(t)
  await call(url, 'POST', '/api/v1/namespaces', ns('team'))
  const rules = [{ apiGroups: [''], resources: ['pods', 'configmaps', 'secrets'], verbs: ['get', 'list', 'watch', 'create'] }, { apiGroups: ['rbac.authorization.k8s.io'], resources: ['roles', 'rolebindings'], verbs: ['create'] }]
  t.equal((await call(url, 'POST', '/apis/rbac.authorization.k8s.io/v1/namespaces/team/roles', { metadata: { name: 'dev' }, rules })).status, 201)
  await call(url, 'POST', '/apis/rbac.authorization.k8s.io/v1/namespaces/team/rolebindings', {
    metadata: { name: 'alice-dev' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'dev' },
    subjects: [{ kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: 'alice' }],
  })
  const alice = await userCredentials('alice')
  let res = await call(url, 'GET', '/api/v1/namespaces/team/pods', undefined, {}, alice)
  for (let i = 0; i < 50 && res.status !== 200; i++) {
    await new Promise((r) => setTimeout(r, 20))
    res = await call(url, 'GET', '/api/v1/namespaces/team/pods', undefined, {}, alice)
  }
  t.equal(res.status, 200, 'her namespace')
  t.equal((await call(url, 'POST', '/api/v1/namespaces/team/configmaps', { metadata: { name: 'c' } }, {}, alice)).status, 201)
  const other = await call(url, 'GET', '/api/v1/namespaces/default/pods', undefined, {}, alice)
  t.equal(other.status, 403)
  t.equal(other.body.message, 'pods is forbidden: User "alice" cannot list resource "pods" in API group "" in the namespace "default"')
  t.same(other.body.details, { group: '', kind: 'pods' })
  const cluster = await call(url, 'GET', '/api/v1/nodes/n1', undefined, {}, alice)
  t.equal(cluster.body.message, 'nodes "n1" is forbidden: User "alice" cannot get resource "nodes" in API group "" at the cluster scope')
  const path = await call(url, 'GET', '/metrics', undefined, {}, alice)
  t.equal(path.body.message, 'forbidden: User "alice" cannot get path "/metrics"')
  t.equal((await call(url, 'GET', '/api/v1/namespaces/team/secrets', undefined, {}, alice)).status, 200, 'her Role reads secrets in her namespace')
  const escalate = await call(url, 'POST', '/apis/rbac.authorization.k8s.io/v1/namespaces/team/rolebindings', {
    metadata: { name: 'alice-admin' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' },
    subjects: [{ kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: 'alice' }],
  }, {}, alice)
  t.equal(escalate.status, 403, 'she cannot bind what she does not hold')
  t.match(escalate.body.message, /cannot bind|not currently held/)
  const ok = await call(url, 'POST', '/apis/rbac.authorization.k8s.io/v1/namespaces/team/roles', { metadata: { name: 'reader' }, rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['get'] }] }, {}, alice)
  t.equal(ok.status, 201, 'a Role within what she holds')
  const role = await call(url, 'POST', '/apis/rbac.authorization.k8s.io/v1/namespaces/team/roles', { metadata: { name: 'all' }, rules: [{ apiGroups: ['*'], resources: ['*'], verbs: ['*'] }] }, {}, alice)
  t.equal(role.status, 403)
  t.match(role.body.message, /is attempting to grant RBAC permissions not currently held/)
})

t.test('resourceNames cover a list or watch of that one name by fieldSelector, as upstream', async (t) => {
  const { url } = await startTestServer(t)
  await call(url, 'POST', '/api/v1/namespaces', ns('team'))
  for (const name of ['one', 'two']) await call(url, 'POST', '/api/v1/namespaces/team/configmaps', { metadata: { name }, data: { k: name } })
  await call(url, 'POST', '/apis/rbac.authorization.k8s.io/v1/namespaces/team/roles', { metadata: { name: 'one' }, rules: [{ apiGroups: [''], resources: ['configmaps'], resourceNames: ['one'], verbs: ['get', 'list', 'watch'] }] })
  await call(url, 'POST', '/apis/rbac.authorization.k8s.io/v1/namespaces/team/rolebindings', {
    metadata: { name: 'carol-one' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'one' },
    subjects: [{ kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: 'carol' }],
  })
  const carol = await userCredentials('carol')
  const list = (query: string) => call(url, 'GET', `/api/v1/namespaces/team/configmaps${query}`, undefined, {}, carol)
  let res = await list('?fieldSelector=metadata.name%3Done')
  for (let i = 0; i < 50 && res.status !== 200; i++) {
    await new Promise((r) => setTimeout(r, 20))
    res = await list('?fieldSelector=metadata.name%3Done')
  }
  t.equal(res.status, 200, 'the list of the one name she may read')
  t.same(res.body.items.map((c: { metadata: { name: string } }) => c.metadata.name), ['one'])
  t.equal((await list('?fieldSelector=metadata.name%3D%3Done')).status, 200, '== too')
  t.equal((await list('?fieldSelector=metadata.name%3Done&watch=true&timeoutSeconds=1')).status, 200, 'and its watch')
  t.equal((await list('')).status, 403, 'not the whole list')
  t.equal((await list('?fieldSelector=metadata.name%3Dtwo')).status, 403, 'not another name')
  t.equal((await list('?fieldSelector=metadata.name!%3Dtwo')).status, 403, 'not "everything but"')
})

t.test('SubjectAccessReview and SelfSubjectRulesReview answer from the same authorizer', async (t) => {
  const { url } = await startTestServer(t)
  const sar = (user: string, groups: string[], verb: string, resource: string, namespace = 'default') =>
    call(url, 'POST', '/apis/authorization.k8s.io/v1/subjectaccessreviews', { apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview', spec: { user, groups, resourceAttributes: { verb, resource, namespace } } })
  t.equal((await sar('root', ['system:masters'], 'delete', 'secrets')).body.status.allowed, true)
  t.equal((await sar('bob', ['system:authenticated'], 'list', 'pods')).body.status.allowed, false)
  const allowedSelf = (await sar('bob', ['system:authenticated'], 'create', 'selfsubjectaccessreviews')).body.status
  t.equal(allowedSelf.allowed, false, 'namespaced attributes for a cluster kind still go through RBAC')
  const bob = await userCredentials('bob')
  const rules = await call(url, 'POST', '/apis/authorization.k8s.io/v1/selfsubjectrulesreviews', { apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectRulesReview', spec: { namespace: 'default' } }, {}, bob)
  t.equal(rules.status, 201)
  t.ok(rules.body.status.nonResourceRules.some((r: { nonResourceURLs: string[] }) => r.nonResourceURLs.includes('/version')), 'system:public-info-viewer')
  t.ok(rules.body.status.resourceRules.some((r: { resources: string[] }) => r.resources.includes('selfsubjectaccessreviews')), 'system:basic-user')
})

t.test('nodes: the node authorizer and NodeRestriction keep a node to itself', async (t) => {
  const { url } = await startTestServer(t)
  const n1 = await userCredentials('system:node:n1', ['system:nodes'])
  const node = (name: string) => ({ apiVersion: 'v1', kind: 'Node', metadata: { name } })
  t.equal((await call(url, 'POST', '/api/v1/nodes', node('n1'), {}, n1)).status, 201, 'registers itself')
  const other = await call(url, 'POST', '/api/v1/nodes', node('n2'), {}, n1)
  t.equal(other.status, 403)
  t.match(other.body.message, /node "n1" is not allowed to modify node "n2"/)
  await call(url, 'POST', '/api/v1/nodes', node('n2'))
  await call(url, 'POST', '/api/v1/namespaces/default/secrets', { metadata: { name: 'db' }, data: { p: Buffer.from('x').toString('base64') } })
  t.equal((await call(url, 'GET', '/api/v1/namespaces/default/secrets/db', undefined, {}, n1)).status, 403, 'no pod of n1 uses it')
  t.equal((await call(url, 'GET', '/api/v1/namespaces/default/secrets', undefined, {}, n1)).status, 403, 'never a list of secrets')
  const pod = (name: string, nodeName: string) => ({ metadata: { name }, spec: { nodeName, automountServiceAccountToken: false, containers: [{ name: 'c', image: 'weft/pause', env: [{ name: 'P', valueFrom: { secretKeyRef: { name: 'db', key: 'p' } } }] }] } })
  await call(url, 'POST', '/api/v1/namespaces/default/pods', pod('on-n2', 'n2'))
  t.equal((await call(url, 'GET', '/api/v1/namespaces/default/secrets/db', undefined, {}, n1)).status, 403, 'a pod on another node does not count')
  await call(url, 'POST', '/api/v1/namespaces/default/pods', pod('on-n1', 'n1'))
  let status = 0
  for (let i = 0; i < 50 && status !== 200; i++) {
    status = (await call(url, 'GET', '/api/v1/namespaces/default/secrets/db', undefined, {}, n1)).status
    if (status !== 200) await new Promise((r) => setTimeout(r, 20))
  }
  t.equal(status, 200, 'its own pod uses it')
  t.equal((await call(url, 'GET', '/api/v1/pods?fieldSelector=spec.nodeName%3Dn1', undefined, {}, n1)).status, 200, 'lists its own pods')
  // NetworkPolicy enforcement reads every pod and namespace (weft:network-policy-agent); reading one pod's secrets still needs a pod of its own.
  t.equal((await call(url, 'GET', '/api/v1/pods', undefined, {}, n1)).status, 200, 'every pod too (weft:network-policy-agent)')
  t.equal((await call(url, 'GET', '/api/v1/pods?watch=true&timeoutSeconds=1', undefined, {}, n1)).status, 200, 'and watches them')
  t.equal((await call(url, 'GET', '/api/v1/namespaces', undefined, {}, n1)).status, 200, 'every namespace')
  t.equal((await call(url, 'GET', '/api/v1/namespaces/default/pods/on-n2', undefined, {}, n1)).status, 403, 'but gets no other node\'s pod by name')
  t.equal((await call(url, 'PATCH', '/api/v1/namespaces/default', { metadata: { labels: { a: 'b' } } }, { 'content-type': 'application/merge-patch+json' }, n1)).status, 403, 'nor writes a namespace')
  t.equal((await call(url, 'GET', '/apis/networking.k8s.io/v1/networkpolicies', undefined, {}, n1)).status, 200, 'every NetworkPolicy (weft:network-policy-agent)')
  t.equal((await call(url, 'POST', '/apis/networking.k8s.io/v1/namespaces/default/networkpolicies', { metadata: { name: 'np' }, spec: { podSelector: {} } }, {}, n1)).status, 403, 'but writes none')
  const status2 = await call(url, 'PATCH', '/api/v1/namespaces/default/pods/on-n2/status', { status: { phase: 'Failed' } }, { 'content-type': 'application/merge-patch+json' }, n1)
  t.equal(status2.status, 403, 'another node\'s pod status')
  t.equal((await call(url, 'PATCH', '/api/v1/namespaces/default/pods/on-n1/status', { status: { phase: 'Running' } }, { 'content-type': 'application/merge-patch+json' }, n1)).status, 200)
  t.equal((await call(url, 'DELETE', '/api/v1/namespaces/default/pods/on-n2', undefined, {}, n1)).status, 403, 'deletes only its own pods')
})

t.test('CSRs: no system:masters through the client signer; approving and signing need the verb on the signer', async (t) => {
  const { url } = await startTestServer(t)
  const { generateKeyPair } = await import('../../src/pki/keys.ts')
  const { createCertificateRequest } = await import('../../src/pki/csr.ts')
  const key = await generateKeyPair('ecdsa-p256')
  const csr = async (name: string, organizations: string[], signerName = 'kubernetes.io/kube-apiserver-client') => ({
    apiVersion: 'certificates.k8s.io/v1',
    kind: 'CertificateSigningRequest',
    metadata: { name },
    spec: { request: Buffer.from(await createCertificateRequest(key.privateKeyPem, { commonName: name, organizations })).toString('base64'), signerName, usages: ['client auth'] },
  })
  const masters = await call(url, 'POST', '/apis/certificates.k8s.io/v1/certificatesigningrequests', await csr('root', ['system:masters']))
  t.equal(masters.status, 403)
  t.match(masters.body.message, /use of kubernetes.io\/kube-apiserver-client signer with system:masters group is not allowed/)
  t.equal((await call(url, 'POST', '/apis/certificates.k8s.io/v1/certificatesigningrequests', await csr('bob', ['dev']))).status, 201)
  // carol may update approvals, but holds no `approve` on any signer.
  await call(url, 'POST', '/apis/rbac.authorization.k8s.io/v1/clusterroles', { metadata: { name: 'csr-approval-writer' }, rules: [{ apiGroups: ['certificates.k8s.io'], resources: ['certificatesigningrequests', 'certificatesigningrequests/approval'], verbs: ['get', 'update'] }] })
  await call(url, 'POST', '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', { metadata: { name: 'carol' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'csr-approval-writer' }, subjects: [{ kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: 'carol' }] })
  const carol = await userCredentials('carol')
  const current = (await call(url, 'GET', '/apis/certificates.k8s.io/v1/certificatesigningrequests/bob')).body
  const approved = { ...current, status: { conditions: [{ type: 'Approved', status: 'True', reason: 'ByHand', message: 'ok' }] } }
  let res = await call(url, 'PUT', '/apis/certificates.k8s.io/v1/certificatesigningrequests/bob/approval', approved, {}, carol)
  for (let i = 0; i < 50 && res.status !== 403 && res.status !== 200; i++) {
    await new Promise((r) => setTimeout(r, 20))
    res = await call(url, 'PUT', '/apis/certificates.k8s.io/v1/certificatesigningrequests/bob/approval', approved, {}, carol)
  }
  t.equal(res.status, 403)
  t.match(res.body.message, /user not permitted to approve requests with signerName "kubernetes.io\/kube-apiserver-client"/)
  t.equal((await call(url, 'PUT', '/apis/certificates.k8s.io/v1/certificatesigningrequests/bob/approval', approved)).status, 200, 'the admin may')
})
