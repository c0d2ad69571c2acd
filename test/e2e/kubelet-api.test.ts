// The kubelet API end to end: a real API server and control plane, one node agent in its
// own network namespace. The node gets a serving certificate through a kubelet-serving CSR
// the controllers approve and sign; the API is HTTPS only, on the node's IP and its socket;
// callers are authenticated (cluster-CA certificates, tokens via TokenReview) and
// authorized (SubjectAccessReview on nodes/<subresource>).
import t from 'tap'
import { existsSync, statSync } from 'node:fs'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { join } from 'node:path'
import { resources } from '../../src/api/registry.ts'
import { adminCredentials, testPki, userCredentials } from '../helpers/apiserver.ts'
import { podInfo, startCluster, until } from '../helpers/control-plane.ts'
import { execIn, startUnderlay } from '../helpers/nodes.ts'
import { tmp } from '../helpers/openssl.ts'

const exec = promisify(execFile)
const csrInfo = resources.find((r) => r.kind === 'CertificateSigningRequest')!
const saInfo = resources.find((r) => r.kind === 'ServiceAccount')!
const crbInfo = resources.find((r) => r.kind === 'ClusterRoleBinding')!

t.setTimeout(180_000)

const cluster = await startCluster(t, {}, { socket: true, kubeletSocketsInDir: true })
const underlay = await startUnderlay(t, { socketPath: cluster.socketPath!, dir: cluster.dir })
const node = await underlay.addNode('node-1', { kubeletTcp: true })
const client = cluster.client
const files = tmp('weft-kubelet-api-')
t.teardown(() => files.remove())

const pki = await testPki()
const caFile = files.file('ca.crt', pki.ca.certPem)
const pair = (name: string, c: { certPem?: string; keyPem?: string }) => ['--cert', files.file(`${name}.crt`, c.certPem!), '--key', files.file(`${name}.key`, c.keyPem!)]
const admin = pair('admin', await adminCredentials())
const apiserverClient = pair('apiserver-kubelet-client', pki.kubeletClient)
const otherNode = pair('node-2', await userCredentials('system:node:node-2', ['system:nodes']))
const kubeletUrl = `https://${node.ip}:10250`

/** curl from inside the node's namespace, checking the kubelet's certificate against the cluster CA: "<status> <body>". */
async function curl(path: string, args: string[] = []): Promise<string> {
  const out = await execIn(node.netns, 'curl', ['-sS', '--max-time', '10', '--cacert', caFile, '-w', ' %{http_code}', ...args, `${kubeletUrl}${path}`])
  const i = out.lastIndexOf(' ')
  return `${out.slice(i + 1)} ${out.slice(0, i)}`
}

await t.test('the node gets a serving certificate through an approved kubelet-serving CSR', async (t) => {
  let csr: any
  await until('a signed kubelet-serving CSR', async () => {
    const { items } = await client.list<any>(csrInfo)
    csr = items.find((c) => c.spec.signerName === 'kubernetes.io/kubelet-serving' && c.status?.certificate)
    return csr !== undefined
  }, 60_000)
  t.equal(csr.spec.username, 'system:node:node-1')
  t.match(csr.status.conditions, [{ type: 'Approved', reason: 'AutoApproved', message: /serving/ }])
  const cert = join(node.dataDir, 'pki', 'kubelet-server.crt')
  const key = join(node.dataDir, 'pki', 'kubelet-server.key')
  await until('the certificate is stored', () => existsSync(cert) && existsSync(key))
  t.equal(statSync(cert).mode & 0o777, 0o600)
  t.equal(statSync(key).mode & 0o777, 0o600)
  await until('the kubelet API answers over TCP', async () => /^\d{3} /.test(await curl('/healthz').catch(() => '')), 30_000)
  t.equal(statSync(join(node.dataDir, 'kubelet.sock')).mode & 0o777, 0o600, 'the socket is 0600')
})

await t.test('openssl: the chain verifies against the cluster CA with the node IP as a SAN', async (t) => {
  const out = await execIn(node.netns, 'sh', ['-c', `openssl s_client -connect ${node.ip}:10250 -CAfile ${caFile} -verify_return_error -verify_ip ${node.ip} -showcerts </dev/null 2>&1`])
  t.match(out, /Verify return code: 0 \(ok\)/)
  t.match(out, /subject=.*CN\s*=\s*system:node:node-1/)
  const leaf = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(out)![0]
  const { stdout } = await exec('openssl', ['x509', '-noout', '-ext', 'subjectAltName,extendedKeyUsage', '-in', files.file('leaf.crt', leaf)])
  t.match(stdout, `IP Address:${node.ip}`)
  t.match(stdout, 'DNS:node-1')
  t.match(stdout, 'TLS Web Server Authentication')
  const plain = await execIn(node.netns, 'curl', ['-s', '--max-time', '5', '-o', '/dev/null', '-w', '%{http_code}', `http://${node.ip}:10250/healthz`]).catch(() => 'refused')
  t.not(plain, '200', 'no plain HTTP')
})

await t.test('without credentials: 401 for everything; another node: 403; the admin and the API server: allowed', async (t) => {
  t.equal(await curl('/healthz'), '401 Unauthorized')
  t.equal(await curl('/pods'), '401 Unauthorized')
  t.equal(await curl('/pods', ['-H', 'Authorization: Bearer not-a-token']), '401 Unauthorized')
  t.equal(await curl('/pods', otherNode), '403 Forbidden (user=system:node:node-2, verb=get, resource=nodes, subresource=proxy)')
  t.equal(await curl('/containerLogs/default/x/y', otherNode), '403 Forbidden (user=system:node:node-2, verb=get, resource=nodes, subresource=log)')
  t.equal(await curl('/healthz', admin), '200 ok')
  t.match(await curl('/pods', admin), /^200 \{"kind":"PodList"/)
  t.match(await curl('/pods', apiserverClient), /^200 /, 'apiserver-kubelet-client through system:kubelet-api-admin')
})

await t.test('a bearer token is checked with a TokenReview and authorized by RBAC', async (t) => {
  await client.create(saInfo, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'scraper', namespace: 'default' } } as never)
  const tokenRequest = await client.request<any>('POST', '/api/v1/namespaces/default/serviceaccounts/scraper/token', { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 3600 } })
  const bearer = ['-H', `Authorization: Bearer ${tokenRequest.status.token}`]
  t.equal(await curl('/pods', bearer), '403 Forbidden (user=system:serviceaccount:default:scraper, verb=get, resource=nodes, subresource=proxy)')
  await client.create(crbInfo, {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: { name: 'scraper-kubelet' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'system:kubelet-api-admin' },
    subjects: [{ kind: 'ServiceAccount', name: 'scraper', namespace: 'default' }],
  } as never)
  // The denial is cached for 30 s, as the kubelet caches it.
  await until('the binding is seen', async () => (await curl('/pods', bearer)).startsWith('200 '), 45_000)
  t.pass('allowed once bound')
})

await t.test('kubectl logs works through the API server', async (t) => {
  await client.create(podInfo, { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'talker', namespace: 'default' }, spec: { nodeName: 'node-1', terminationGracePeriodSeconds: 1, containers: [{ name: 'main', image: 'debian', command: ['sh', '-c', 'echo hello from talker; sleep 3600'] }] } } as never)
  let logs = ''
  await until('the pod prints', async () => {
    logs = await exec('kubectl', ['--kubeconfig', cluster.kubeconfig, 'logs', 'talker']).then((r) => r.stdout, () => '')
    return logs.includes('hello from talker')
  }, 30_000)
  t.equal(logs, 'hello from talker\n')
  await client.delete(podInfo, 'talker', 'default', { gracePeriodSeconds: 0 }).catch(() => undefined)
})
