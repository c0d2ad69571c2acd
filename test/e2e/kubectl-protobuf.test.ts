// The real kubectl's typed clients send protobuf bodies and read protobuf answers: auth
// can-i (SelfSubjectAccessReview), auth can-i --list (SelfSubjectRulesReview), auth whoami
// (SelfSubjectReview), create token (TokenRequest), certificate approve|deny (a CSR PUT),
// every `kubectl create` generator for a kind weft serves, and describe.
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

t.test('kubectl create generators: protobuf bodies in, protobuf answers out', async (t) => {
  const dir = tmp('weft-pb-gen-')
  t.teardown(() => dir.remove())
  const key = join(dir.path, 'tls.key')
  const cert = join(dir.path, 'tls.crt')
  const made = await openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=shop.example', '-days', '1', '-keyout', key, '-out', cert])
  t.equal(made.code, 0, made.stderr)
  const ns = ['-n', 'pb']
  const generators: [string[], string][] = [
    [['create', 'namespace', 'pb'], 'namespace/pb created'],
    [['create', 'configmap', 'settings', '--from-literal=mode=fast', '--from-literal=empty=', ...ns], 'configmap/settings created'],
    [['create', 'secret', 'generic', 'creds', '--from-literal=password=s3cret', ...ns], 'secret/creds created'],
    [['create', 'secret', 'docker-registry', 'registry', '--docker-server=registry.example', '--docker-username=u', '--docker-password=p', ...ns], 'secret/registry created'],
    [['create', 'secret', 'tls', 'shop-tls', `--cert=${cert}`, `--key=${key}`, ...ns], 'secret/shop-tls created'],
    [['create', 'deployment', 'web', '--image=registry.k8s.io/pause:3.10', '--replicas=0', '--port=8080', ...ns], 'deployment.apps/web created'],
    [['create', 'service', 'clusterip', 'web', '--tcp=80:8080', ...ns], 'service/web created'],
    [['create', 'service', 'nodeport', 'web-np', '--tcp=80:8080', ...ns], 'service/web-np created'],
    [['create', 'service', 'loadbalancer', 'web-lb', '--tcp=80:8080', ...ns], 'service/web-lb created'],
    [['create', 'service', 'externalname', 'upstream', '--external-name=upstream.example', ...ns], 'service/upstream created'],
    [['create', 'ingress', 'shop', '--rule=shop.example/*=web:80,tls=shop-tls', ...ns], 'ingress.networking.k8s.io/shop created'],
    [['create', 'serviceaccount', 'builder', ...ns], 'serviceaccount/builder created'],
    [['create', 'role', 'reader', '--verb=get,list', '--resource=pods', ...ns], 'role.rbac.authorization.k8s.io/reader created'],
    [['create', 'rolebinding', 'readers', '--role=reader', '--serviceaccount=pb:builder', ...ns], 'rolebinding.rbac.authorization.k8s.io/readers created'],
    [['create', 'clusterrole', 'node-reader', '--verb=get,list', '--resource=nodes'], 'clusterrole.rbac.authorization.k8s.io/node-reader created'],
    [['create', 'clusterrolebinding', 'node-readers', '--clusterrole=node-reader', '--group=ops'], 'clusterrolebinding.rbac.authorization.k8s.io/node-readers created'],
    [['create', 'priorityclass', 'batch-low', '--value=-10', '--description=background work'], 'priorityclass.scheduling.k8s.io/batch-low created'],
  ]
  for (const [args, says] of generators) {
    const run = await admin(...args)
    t.equal(run.code, 0, `kubectl ${args.join(' ')}: ${run.stderr}`)
    t.equal(run.stdout.trim(), says)
  }
  const stored = async (...args: string[]) => JSON.parse((await admin('get', ...args, '-o', 'json')).stdout)
  t.same((await stored('configmap', 'settings', ...ns)).data, { mode: 'fast', empty: '' }, 'an empty value survives protobuf')
  t.equal(Buffer.from((await stored('secret', 'creds', ...ns)).data.password, 'base64').toString(), 's3cret', 'bytes are base64 in JSON')
  t.match((await stored('secret', 'shop-tls', ...ns)).type, 'kubernetes.io/tls')
  const web = await stored('deployment', 'web', ...ns)
  t.equal(web.spec.replicas, 0, 'replicas 0 is kept, not defaulted to 1')
  t.same(web.spec.template.spec.containers[0].ports, [{ containerPort: 8080, protocol: 'TCP' }])
  const np = await stored('service', 'web-np', ...ns)
  t.match(np.spec.ports, [{ port: 80, targetPort: 8080, protocol: 'TCP', nodePort: Number }])
  t.match((await stored('service', 'upstream', ...ns)).spec, { type: 'ExternalName', externalName: 'upstream.example' })
  t.match((await stored('ingress', 'shop', ...ns)).spec, { rules: [{ host: 'shop.example', http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'web', port: { number: 80 } } } }] } }], tls: [{ hosts: ['shop.example'], secretName: 'shop-tls' }] })
  t.equal((await stored('priorityclass', 'batch-low')).value, -10, 'a negative int32 survives protobuf')

  const dry = await admin('create', 'configmap', 'dry', '--from-literal=x=y', '--dry-run=server', '-o', 'json', ...ns)
  t.equal(dry.code, 0, dry.stderr)
  t.match(JSON.parse(dry.stdout), { kind: 'ConfigMap', metadata: { name: 'dry', namespace: 'pb' }, data: { x: 'y' } }, 'the server answered the dry run in protobuf')
  const absent = await admin('get', 'configmap', 'dry', ...ns)
  t.not(absent.code, 0, 'and stored nothing')

  const described = await admin('describe', 'deployment', 'web', ...ns)
  t.equal(described.code, 0, described.stderr)
  t.match(described.stdout, /Replicas:\s+0 desired/)
  const exists = await admin('create', 'configmap', 'settings', '--from-literal=a=b', ...ns)
  t.not(exists.code, 0)
  t.match(exists.stderr, /configmaps "settings" already exists/, 'a protobuf Status error reads as kubectl\'s usual message')
})
