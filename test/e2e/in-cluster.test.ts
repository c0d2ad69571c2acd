// A pod talks to the API as in-cluster clients do: @kubernetes/client-node's
// loadFromCluster() finds the kubernetes Service in its environment, authenticates with
// the projected bound token and trusts the projected CA; RBAC lets it list pods and not
// secrets. The API server is reached as pods reach it in the lab: the kubernetes Service's
// endpoint is a relay on the underlay gateway (in a namespace this test owns) to its socket.
import t from 'tap'
import { spawn } from 'node:child_process'
import { resolve } from 'node:path'
import { resources } from '../../src/api/registry.ts'
import { podInfo, startCluster, until } from '../helpers/control-plane.ts'
import { startUnderlay } from '../helpers/nodes.ts'

t.setTimeout(180_000)
const weftBin = resolve(import.meta.dirname, '../../bin/weft')
const program = resolve(import.meta.dirname, '../helpers/programs/in-cluster.ts')

const cluster = await startCluster(t, {}, { socket: true, kubeletSocketsInDir: true, advertise: { host: '172.31.0.1', port: 6443 } })
const underlay = await startUnderlay(t, { socketPath: cluster.socketPath!, dir: cluster.dir })
const relay = spawn('nsenter', [`--net=/run/netns/${underlay.netns}`, '--', weftBin, 'lab', 'api-relay', '--listen', '172.31.0.1:6443', '--socket', cluster.socketPath!], { stdio: 'ignore' })
t.teardown(() => {
  if (relay.exitCode === null) relay.kill('SIGTERM')
})
await underlay.addNode('node-1')
const client = cluster.client
const rbac = (kind: string) => resources.find((r) => r.kind === kind)!

t.test('loadFromCluster() from a pod lists what its Role allows and gets 403 for the rest', async (t) => {
  await client.create(rbac('ServiceAccount'), { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'reader', namespace: 'default' } })
  await client.create(rbac('Role'), { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: 'pod-reader', namespace: 'default' }, rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'list'] }] } as never)
  await client.create(rbac('RoleBinding'), {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: { name: 'reader', namespace: 'default' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'pod-reader' },
    subjects: [{ kind: 'ServiceAccount', name: 'reader', namespace: 'default' }],
  } as never)
  await client.create(podInfo, {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'in-cluster', namespace: 'default' },
    spec: { serviceAccountName: 'reader', restartPolicy: 'Never', containers: [{ name: 'c', image: 'node', command: [process.execPath, '--disable-warning=ExperimentalWarning', program] }] },
  } as never)
  let pod: any
  await until('the in-cluster pod to finish', async () => {
    pod = await client.get<any>(podInfo, 'in-cluster', 'default')
    return pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed'
  }, 90_000)
  // The log is one JSON line, which the client hands back parsed. The kubelet API opens once
  // the node's serving certificate is signed, which may be after so short a pod has run.
  let result: { server: string; pods: string[]; secrets: unknown } | undefined
  await until('the pod\'s log', async () => {
    result = await client.request<typeof result>('GET', '/api/v1/namespaces/default/pods/in-cluster/log').catch(() => undefined)
    return result !== undefined
  }, 30_000)
  if (!result) return
  t.comment(JSON.stringify(result))
  t.equal(pod.status.phase, 'Succeeded', 'listed pods, and was refused secrets')
  t.equal(result.server, 'https://10.96.0.1:443', 'found the API through the kubernetes Service')
  t.ok(result.pods.includes('in-cluster'), 'sees itself')
  t.equal(result.secrets, 403)
  const vol = pod.spec.volumes.find((v: any) => v.name.startsWith('kube-api-access-'))
  t.ok(vol, 'the API access volume was projected')
})
