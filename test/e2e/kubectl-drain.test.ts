// The real kubectl drains a node against weft: it cordons the node, evicts the Deployment's
// pods through policy/v1 (retrying while the PodDisruptionBudget says no), skips the
// DaemonSet's pod and waits for the evicted pods to be gone. The test is the kubelet: it
// makes bound pods Running and Ready and finishes their graceful deletion.
import t from 'tap'
import { resources } from '../../src/api/registry.ts'
import { call } from '../helpers/apiserver.ts'
import { fakeKubelet, heartbeat, node, startCluster, until } from '../helpers/control-plane.ts'
import { kubectl } from '../helpers/kubectl.ts'

const nodeInfo = resources.find((r) => r.kind === 'Node')!

const manifest = `apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 1
      containers: [{name: web, image: weft/echo, volumeMounts: [{name: scratch, mountPath: /scratch}]}]
      volumes: [{name: scratch, emptyDir: {}}]
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, namespace: shop}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      containers: [{name: agent, image: weft/echo}]
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: web, namespace: shop}
spec:
  minAvailable: 1
  selector: {matchLabels: {app: web}}
`

const c = await startCluster(t)
const run = (...args: string[]) => kubectl(c.kubeconfig, args)
const isReady = (p: any) => p.status?.conditions?.some((x: any) => x.type === 'Ready' && x.status === 'True')
const webPods = async (): Promise<any[]> => (await call(c.url, 'GET', '/api/v1/namespaces/shop/pods?labelSelector=app%3Dweb')).body.items
const budget = async () => (await call(c.url, 'GET', '/apis/policy/v1/namespaces/shop/poddisruptionbudgets/web')).body

t.test('kubectl drain evicts within the budget and finishes', async (t) => {
  // n2 starts cordoned, so the Deployment's pods all land on n1.
  await c.client.create(nodeInfo, node('n1'))
  await c.client.create(nodeInfo, { ...node('n2'), spec: { unschedulable: true } })
  t.teardown(heartbeat(c.client, 'n1'))
  t.teardown(heartbeat(c.client, 'n2'))
  // Pods on n2 turn Ready only once the test says so: until then the budget has nothing to give.
  let n2Ready = false
  t.teardown(fakeKubelet(c.client, (p) => p.spec.nodeName !== 'n2' || n2Ready))

  const created = await kubectl(c.kubeconfig, ['apply', '-f', '-'], manifest)
  t.equal(created.code, 0, created.stderr)
  await until('both web pods Ready on n1', async () => {
    const pods = await webPods()
    return pods.length === 2 && pods.every((p) => p.spec.nodeName === 'n1' && isReady(p))
  }, 30_000)
  await until('the budget allows one disruption', async () => {
    const s = (await budget()).status
    return s?.observedGeneration === 1 && s.disruptionsAllowed === 1
  })
  t.match((await budget()).status, { currentHealthy: 2, desiredHealthy: 1, expectedPods: 2, conditions: [{ type: 'DisruptionAllowed', status: 'True', reason: 'SufficientPods' }] })
  const table = await run('get', 'pdb', '-n', 'shop')
  t.match(table.stdout, /NAME\s+MIN AVAILABLE\s+MAX UNAVAILABLE\s+ALLOWED DISRUPTIONS\s+AGE\nweb\s+1\s+N\/A\s+1\s+\S+/, table.stderr)
  t.equal((await run('uncordon', 'n2')).code, 0)

  // A server-side dry run: the Evictions carry dryRun=All, so nothing is spent, marked or deleted.
  const rehearsal = await run('drain', 'n1', '--ignore-daemonsets', '--delete-emptydir-data', '--dry-run=server')
  t.equal(rehearsal.code, 0, `${rehearsal.stdout}\n${rehearsal.stderr}`)
  t.equal(rehearsal.stdout.match(/evicting pod shop\/web-\S+ \(server dry run\)/g)?.length, 2, rehearsal.stdout)
  t.match(rehearsal.stdout, /node\/n1 drained \(server dry run\)/)
  t.notOk((await call(c.url, 'GET', '/api/v1/nodes/n1')).body.spec.unschedulable, 'n1 is not cordoned by a dry run')
  const untouched = await webPods()
  t.ok(untouched.length === 2 && untouched.every((p) => !p.metadata.deletionTimestamp && !p.status.conditions.some((x: any) => x.type === 'DisruptionTarget')), 'the pods are neither deleted nor marked')
  t.match((await budget()).status, { disruptionsAllowed: 1 })
  t.notOk((await budget()).status.disruptedPods, 'and the budget spent nothing')

  // Never fewer than minAvailable Ready web pods that are not terminating, all through the drain.
  let fewest = Infinity
  let samples = 0
  let sampling = true
  const sampler = (async () => {
    while (sampling) {
      const healthy = (await webPods()).filter((p) => isReady(p) && !p.metadata.deletionTimestamp).length
      fewest = Math.min(fewest, healthy)
      samples++
      await new Promise((r) => setTimeout(r, 25))
    }
  })()
  const draining = run('drain', 'n1', '--ignore-daemonsets', '--delete-emptydir-data', '--timeout=50s')
  // One pod goes; its replacement on n2 is not Ready, so the budget holds the other on n1
  // through more than one of drain's 5 s retries.
  const onN1 = async () => (await webPods()).filter((p) => p.spec.nodeName === 'n1' && !p.metadata.deletionTimestamp)
  await until('one web pod evicted, its replacement waiting on n2', async () => (await onN1()).length === 1 && (await webPods()).some((p) => p.spec.nodeName === 'n2'), 30_000)
  await new Promise((r) => setTimeout(r, 6_000))
  t.equal((await onN1()).length, 1, 'the budget keeps the second pod while the replacement is not Ready')
  t.match((await budget()).status, { disruptionsAllowed: 0, currentHealthy: 1, desiredHealthy: 1 })
  n2Ready = true
  const drained = await draining
  sampling = false
  await sampler
  t.equal(drained.code, 0, `${drained.stdout}\n${drained.stderr}`)
  t.match(drained.stdout, /node\/n1 cordoned/)
  t.match(drained.stdout, /evicting pod shop\/web-/)
  t.match(drained.stdout, /node\/n1 drained/)
  t.match(drained.stderr, /Warning: ignoring DaemonSet-managed Pods: shop\/agent-/)
  t.match(drained.stderr, /error when evicting pods\/"web-[^"]+" -n "shop" \(will retry after 5s\): Cannot evict pod as it would violate the pod's disruption budget\./, 'the second pod waited for its replacement')
  t.ok(samples > 10, `the pods were watched all through the drain (${samples} samples)`)
  t.equal(fewest, 1, 'one web pod, never none, stayed Ready and not terminating throughout')

  const n1 = (await call(c.url, 'GET', '/api/v1/nodes/n1')).body
  t.equal(n1.spec.unschedulable, true, 'n1 stays cordoned')
  await until('two Ready web pods on n2', async () => {
    const pods = await webPods()
    return pods.length === 2 && pods.every((p) => p.spec.nodeName === 'n2' && isReady(p))
  })
  const left = (await call(c.url, 'GET', '/api/v1/pods?fieldSelector=spec.nodeName%3Dn1')).body.items
  t.same(left.map((p: any) => p.metadata.labels.app), ['agent'], "only the DaemonSet's pod is left on n1")
})

t.test('kubectl create pdb (a protobuf body) over DaemonSet pods: the budget fails safe, and describe shows it', async (t) => {
  const created = await run('create', 'poddisruptionbudget', 'agent', '-n', 'shop', '--selector=app=agent', '--max-unavailable=1')
  t.equal(created.code, 0, created.stderr)
  await until('the budget fails safe', async () => {
    const pdb = (await call(c.url, 'GET', '/apis/policy/v1/namespaces/shop/poddisruptionbudgets/agent')).body
    return pdb.status?.conditions?.[0]?.reason === 'SyncFailed'
  })
  const pdb = (await call(c.url, 'GET', '/apis/policy/v1/namespaces/shop/poddisruptionbudgets/agent')).body
  t.match(pdb.status, { disruptionsAllowed: 0, conditions: [{ type: 'DisruptionAllowed', status: 'False', message: /^found no controllers for pod "agent-/ }] }, 'a DaemonSet has no scale to count against')
  const described = await run('describe', 'pdb', 'agent', '-n', 'shop')
  t.equal(described.code, 0, described.stderr)
  t.match(described.stdout, /Max unavailable:\s+1/)
  t.match(described.stdout, /CalculateExpectedPodCountFailed/)
})
