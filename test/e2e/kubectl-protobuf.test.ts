// The real kubectl's typed clients send protobuf bodies: auth can-i (SelfSubjectAccessReview),
// auth can-i --list (SelfSubjectRulesReview), auth whoami (SelfSubjectReview), create
// serviceaccount, create token (TokenRequest) and certificate approve|deny (a CSR PUT).
import t from 'tap'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { kubeconfigText } from '../../src/client/kubeconfig.ts'
import { startTestServer, userCredentials } from '../helpers/apiserver.ts'
import { kubectl } from '../helpers/kubectl.ts'
import { openssl, tmp } from '../helpers/openssl.ts'

const srv = await startTestServer(t)
const admin = (...args: string[]) => kubectl(srv.kubeconfig, args)

const dev = await userCredentials('dana', ['dev'])
const devConfig = join(srv.dir, 'dana.kubeconfig')
await writeFile(devConfig, kubeconfigText({ server: srv.url, caPem: dev.caPem!, user: 'dana', certPem: dev.certPem, keyPem: dev.keyPem }), { mode: 0o600 })
const asDana = (...args: string[]) => kubectl(devConfig, args)

t.test('kubectl auth can-i answers for the admin and for a user with no roles', async (t) => {
  const yes = await admin('auth', 'can-i', 'create', 'pods')
  t.equal(yes.stdout.trim(), 'yes', yes.stderr)
  t.equal(yes.code, 0)
  const everything = await admin('auth', 'can-i', '*', '*', '--all-namespaces')
  t.equal(everything.stdout.trim(), 'yes', everything.stderr)
  const no = await asDana('auth', 'can-i', 'list', 'secrets')
  t.equal(no.stdout.trim(), 'no', no.stderr)
  t.equal(no.code, 1, 'kubectl exits 1 for no')
  const nonResource = await asDana('auth', 'can-i', 'get', '/healthz')
  t.equal(nonResource.stdout.trim(), 'yes', `system:public-info-viewer lets everyone read /healthz: ${nonResource.stderr}`)
  const named = await admin('auth', 'can-i', 'get', 'pods/web', '-n', 'shop', '--subresource', 'log')
  t.equal(named.stdout.trim(), 'yes', named.stderr)
})

t.test('kubectl auth can-i --list lists the rules', async (t) => {
  const list = await admin('auth', 'can-i', '--list')
  t.equal(list.code, 0, list.stderr)
  t.match(list.stdout, /\*\.\*\s+\[\]\s+\[\]\s+\[\*\]/, 'the admin may do anything')
  const mine = await asDana('auth', 'can-i', '--list', '-n', 'default')
  t.equal(mine.code, 0, mine.stderr)
  t.match(mine.stdout, /selfsubjectaccessreviews\.authorization\.k8s\.io\s+\[\]\s+\[\]\s+\[create\]/)
  t.notMatch(mine.stdout, /^secrets/m)
})

t.test('kubectl auth whoami', async (t) => {
  const me = await admin('auth', 'whoami')
  t.equal(me.code, 0, me.stderr)
  t.match(me.stdout, /Username\s+kubernetes-admin/)
  t.match(me.stdout, /Groups\s+\[system:masters system:authenticated\]/)
  const dana = await asDana('auth', 'whoami', '-o', 'json')
  t.equal(dana.code, 0, dana.stderr)
  t.same(JSON.parse(dana.stdout).status.userInfo, { username: 'dana', groups: ['dev', 'system:authenticated'] })
})

t.test('kubectl create serviceaccount and create token', async (t) => {
  const sa = await admin('create', 'serviceaccount', 'robot')
  t.equal(sa.code, 0, sa.stderr)
  t.match(sa.stdout, /serviceaccount\/robot created/)
  const token = await admin('create', 'token', 'robot', '--audience', 'weft', '--duration', '15m')
  t.equal(token.code, 0, token.stderr)
  const jwt = token.stdout.trim()
  t.match(jwt, /^[\w-]+\.[\w-]+\.[\w-]+$/, 'a JWT')
  const claims = JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString())
  t.equal(claims.sub, 'system:serviceaccount:default:robot')
  t.same(claims.aud, ['weft'])
  t.ok(claims.exp - claims.iat <= 15 * 60 + 1, 'the duration was honoured')
  const plain = await admin('create', 'token', 'robot')
  t.equal(plain.code, 0, plain.stderr)
  const robotConfig = join(srv.dir, 'robot.kubeconfig')
  await writeFile(robotConfig, kubeconfigText({ server: srv.url, caPem: dev.caPem!, user: 'robot', token: plain.stdout.trim() }), { mode: 0o600 })
  const robot = await kubectl(robotConfig, ['auth', 'whoami', '-o', 'jsonpath={.status.userInfo.username}'])
  t.equal(robot.stdout, 'system:serviceaccount:default:robot', `the issued token authenticates: ${robot.stderr}`)
  const robotCan = await kubectl(robotConfig, ['auth', 'can-i', 'list', 'pods'])
  t.equal(robotCan.stdout.trim(), 'no', robotCan.stderr)
  const denied = await asDana('create', 'token', 'robot')
  t.not(denied.code, 0)
  t.match(denied.stderr, /forbidden/i)
})

t.test('a CSR applied as JSON, then kubectl certificate approve and deny', async (t) => {
  const dir = tmp('weft-csr-')
  t.teardown(() => dir.remove())
  const made = await openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=bob/O=dev', '-keyout', join(dir.path, 'bob.key')])
  t.equal(made.code, 0, made.stderr)
  const csr = (name: string) =>
    JSON.stringify({
      apiVersion: 'certificates.k8s.io/v1',
      kind: 'CertificateSigningRequest',
      metadata: { name, labels: { team: 'dev' } },
      spec: { request: Buffer.from(made.stdout).toString('base64'), signerName: 'kubernetes.io/kube-apiserver-client', usages: ['client auth'], expirationSeconds: 3600 },
    })
  for (const name of ['bob', 'eve']) {
    const applied = await admin('apply', '-f', dir.file(`${name}.json`, csr(name)))
    t.equal(applied.code, 0, applied.stderr)
  }
  const approved = await admin('certificate', 'approve', 'bob')
  t.equal(approved.code, 0, approved.stderr)
  t.match(approved.stdout, /certificatesigningrequest.certificates.k8s.io\/bob approved/)
  const denied = await admin('certificate', 'deny', 'eve')
  t.equal(denied.code, 0, denied.stderr)
  const get = await admin('get', 'csr', 'bob', 'eve', '-o', 'json')
  const items = JSON.parse(get.stdout).items as { metadata: { name: string; labels: unknown }; spec: { usages: string[]; expirationSeconds: number }; status: { conditions: { type: string; status: string; reason: string }[] } }[]
  const bob = items.find((x) => x.metadata.name === 'bob')!
  const eve = items.find((x) => x.metadata.name === 'eve')!
  t.match(bob.status.conditions, [{ type: 'Approved', status: 'True', reason: 'KubectlApprove' }])
  t.match(eve.status.conditions, [{ type: 'Denied', status: 'True', reason: 'KubectlDeny' }])
  t.same(bob.metadata.labels, { team: 'dev' }, 'the PUT kept the metadata')
  t.same(bob.spec.usages, ['client auth'])
  t.equal(bob.spec.expirationSeconds, 3600)
  const table = await admin('get', 'csr', 'bob')
  t.match(table.stdout, /Approved/)
  const again = await asDana('certificate', 'approve', 'eve')
  t.not(again.code, 0, 'a user without approve rights is refused')
})
