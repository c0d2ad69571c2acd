// kubectl exec and cp end to end: the real kubectl (WebSocket, v5.channel.k8s.io) against
// a test API server, which tunnels to a real node agent's kubelet in its own network
// namespace; the command runs inside a pod's container.
import t from 'tap'
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { resources } from '../../src/api/registry.ts'
import { kubeconfigText } from '../../src/client/kubeconfig.ts'
import { testPki, userCredentials } from '../helpers/apiserver.ts'
import { podInfo, startCluster, until } from '../helpers/control-plane.ts'
import { kubectl } from '../helpers/kubectl.ts'
import { execIn, startUnderlay } from '../helpers/nodes.ts'
import { tmp } from '../helpers/openssl.ts'

const run = promisify(execFile)
const crInfo = resources.find((r) => r.kind === 'ClusterRole')!
const crbInfo = resources.find((r) => r.kind === 'ClusterRoleBinding')!

t.setTimeout(240_000)

const cluster = await startCluster(t, {}, { socket: true, kubeletSocketsInDir: true })
const underlay = await startUnderlay(t, { socketPath: cluster.socketPath!, dir: cluster.dir })
const node = await underlay.addNode('node-1', { kubeletTcp: true })
const client = cluster.client
const files = tmp('weft-kubectl-exec-')
t.teardown(() => files.remove())
const k = (args: string[], input?: string) => kubectl(cluster.kubeconfig, args, input)

await client.create(podInfo, {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'shell', namespace: 'default' },
  spec: { nodeName: 'node-1', terminationGracePeriodSeconds: 1, containers: [{ name: 'main', image: 'debian', command: ['sleep', '3600'] }] },
} as never)
t.teardown(() => client.delete(podInfo, 'shell', 'default', { gracePeriodSeconds: 0 }).catch(() => undefined))
await until('kubectl exec reaches the container', async () => (await k(['exec', 'shell', '--', 'true'])).code === 0, 120_000)

await t.test('kubectl exec runs the command in the container; its exit code is kubectl’s', async (t) => {
  const id = await k(['exec', 'shell', '--', 'id'])
  t.equal(id.code, 0, id.stderr)
  t.match(id.stdout, /^uid=0\(root\) gid=0\(root\)/)
  const hostname = await k(['exec', 'shell', '--', 'hostname'])
  t.equal(hostname.stdout.trim(), 'shell', 'in the pod’s UTS namespace')
  const three = await k(['exec', 'shell', '--', 'sh', '-c', 'echo out; echo err >&2; exit 3'])
  t.equal(three.code, 3)
  t.equal(three.stdout, 'out\n')
  t.match(three.stderr, /^err\n/)
  const missing = await k(['exec', 'shell', '-c', 'nope', '--', 'id'])
  t.not(missing.code, 0)
  t.match(missing.stderr, /container nope is not valid for pod shell|container nope not found in pod shell/)
})

await t.test('kubectl exec runs as the container does: its runAsUser, its pid namespace, its own root', async (t) => {
  await client.create(podInfo, {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'nonroot', namespace: 'default' },
    spec: { nodeName: 'node-1', terminationGracePeriodSeconds: 1, securityContext: { runAsUser: 1000, runAsGroup: 3000 }, containers: [{ name: 'main', image: 'debian', command: ['sleep', '3600'] }] },
  } as never)
  t.teardown(() => client.delete(podInfo, 'nonroot', 'default', { gracePeriodSeconds: 0 }).catch(() => undefined))
  await until('nonroot runs', async () => (await k(['exec', 'nonroot', '--', 'true'])).code === 0, 60_000)
  const id = await k(['exec', 'nonroot', '--', 'id', '-u'])
  t.equal(id.stdout.trim(), '1000', id.stderr)
  const ps = await k(['exec', 'nonroot', '--', 'sh', '-c', 'ps -e -o args= | grep -c "^sleep 3600"'])
  t.equal(ps.stdout.trim(), '1', 'only its own processes in view')
})

await t.test('kubectl exec -i: stdin reaches the command and ends with EOF', async (t) => {
  const r = await k(['exec', '-i', 'shell', '--', 'sh', '-c', 'cat; echo done'], 'hello from stdin\n')
  t.equal(r.code, 0, r.stderr)
  t.equal(r.stdout, 'hello from stdin\ndone\n')
})

await t.test('kubectl exec -it: a terminal (kubectl itself under script)', async (t) => {
  const cmd = `kubectl --kubeconfig ${cluster.kubeconfig} exec -it shell -- sh -c 'tty; stty size'`
  const { stdout } = await run('script', ['-q', '-e', '-c', cmd, '/dev/null'], { timeout: 60_000, env: { ...process.env, KUBECONFIG: cluster.kubeconfig } })
  t.match(stdout, /\/dev\/pts\/\d+\r?\n/)
})

await t.test('kubectl cp: 10 MB into the pod and back, byte for byte', async (t) => {
  const data = randomBytes(10 * 1024 * 1024)
  const source = files.file('in.bin', data)
  const inPod = join(files.path, 'copied.bin')
  const put = await k(['cp', source, `shell:${inPod}`])
  t.equal(put.code, 0, put.stderr)
  const back = join(files.path, 'back.bin')
  const get = await k(['cp', `shell:${inPod}`, back])
  t.equal(get.code, 0, get.stderr)
  t.ok(readFileSync(back).equals(data), 'the bytes came back unchanged')
})

await t.test('the kubelet’s exec refuses an unauthenticated caller (401)', async (t) => {
  const caFile = files.file('ca.crt', (await testPki()).ca.certPem)
  const out = await execIn(node.netns, 'curl', ['-sS', '--max-time', '10', '--cacert', caFile, '-w', ' %{http_code}', '-H', 'Connection: Upgrade', '-H', 'Upgrade: websocket', `https://${node.ip}:10250/exec/default/shell/main?command=id&stdout=1`]).catch((e: Error) => e.message)
  t.match(out, /Unauthorized 401$/)
})

await t.test('a user who may read pods but not exec gets 403 from the API server', async (t) => {
  await client.create(crInfo, { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: 'pod-reader' }, rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'list'] }] } as never)
  await client.create(crbInfo, {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: { name: 'reader-pods' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'pod-reader' },
    subjects: [{ kind: 'User', name: 'reader', apiGroup: 'rbac.authorization.k8s.io' }],
  } as never)
  const c = await userCredentials('reader')
  const kubeconfig = join(files.path, 'kubeconfig-reader')
  await writeFile(kubeconfig, kubeconfigText({ server: cluster.url, caPem: c.caPem!, user: 'reader', certPem: c.certPem, keyPem: c.keyPem, namespace: 'default' }), { mode: 0o600 })
  let r = await kubectl(kubeconfig, ['exec', 'shell', '--', 'id'])
  await until('RBAC sees the binding', async () => {
    r = await kubectl(kubeconfig, ['exec', 'shell', '--', 'id'])
    return /forbidden/i.test(r.stderr) && /pods\/exec/.test(r.stderr)
  }, 20_000)
  t.not(r.code, 0)
  t.match(r.stderr, /User "reader" cannot (create|get) resource "pods\/exec"/)
  t.equal(r.stdout, '')
})
