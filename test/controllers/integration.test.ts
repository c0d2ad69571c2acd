// The scheduler and controllers against a real weft API server.
import t from 'tap'
import { resources } from '../../src/api/registry.ts'
import { call } from '../helpers/apiserver.ts'
import { fakeKubelet, heartbeat, node, startCluster, until } from '../helpers/control-plane.ts'
import { kubectl } from '../helpers/kubectl.ts'

const info = (kind: string) => resources.find((r) => r.kind === kind)!

function deployment(name: string, replicas: number, image: string, extra: Record<string, unknown> = {}) {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 1 } },
      template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'c', image, ports: [{ name: 'http', containerPort: 8080 }], resources: { requests: { cpu: '100m' } } }] } },
      ...extra,
    },
  }
}

t.test('pods land per the rules; an unfittable pod is Unschedulable with the usual message', async (t) => {
  const c = await startCluster(t)
  for (const n of [node('a', { labels: { disk: 'ssd' } }), node('b'), node('tainted', { taints: [{ key: 'dedicated', value: 'gpu', effect: 'NoSchedule' }] })]) {
    await c.client.create(info('Node'), n)
  }
  const pod = (name: string, spec: Record<string, unknown>) => ({ metadata: { name }, spec: { containers: [{ name: 'c', image: 'x', ...(spec.container as object ?? {}) }], ...spec, container: undefined } })
  await call(c.url, 'POST', '/api/v1/namespaces/default/pods', pod('selector', { nodeSelector: { disk: 'ssd' } }))
  await call(c.url, 'POST', '/api/v1/namespaces/default/pods', pod('tolerant', { nodeSelector: { 'kubernetes.io/hostname': 'tainted' }, tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'gpu', effect: 'NoSchedule' }] }))
  await call(c.url, 'POST', '/api/v1/namespaces/default/pods', pod('huge', { container: { resources: { requests: { cpu: '64' } } } }))
  const nodeOf = async (name: string) => (await call(c.url, 'GET', `/api/v1/namespaces/default/pods/${name}`)).body.spec.nodeName
  await until('scheduling', async () => (await nodeOf('selector')) !== undefined && (await nodeOf('tolerant')) !== undefined)
  t.equal(await nodeOf('selector'), 'a', 'nodeSelector')
  t.equal(await nodeOf('tolerant'), 'tainted', 'tolerated taint')
  await until('the unschedulable condition', async () => {
    const huge = (await call(c.url, 'GET', '/api/v1/namespaces/default/pods/huge')).body
    return huge.status.conditions?.some((x: any) => x.type === 'PodScheduled' && x.reason === 'Unschedulable')
  })
  const huge = (await call(c.url, 'GET', '/api/v1/namespaces/default/pods/huge')).body
  const cond = huge.status.conditions.find((x: any) => x.type === 'PodScheduled')
  t.equal(cond.status, 'False')
  t.equal(cond.message, '0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, 2 Insufficient cpu.')
  t.notOk(huge.spec.nodeName)
  await until('a FailedScheduling event', async () => {
    const events = (await call(c.url, 'GET', '/api/v1/namespaces/default/events')).body.items
    return events.some((e: any) => e.reason === 'FailedScheduling' && e.involvedObject.name === 'huge')
  })
  // A bigger node arrives: the parked pod is retried on that news.
  await c.client.create(info('Node'), node('big', { cpu: '128' }))
  await until('the big pod to land', async () => (await nodeOf('huge')) === 'big')
  t.pass('retried when nodes changed')

  // A gated pod waits, marked SchedulingGated, until its last gate is lifted; gates cannot be added.
  await call(c.url, 'POST', '/api/v1/namespaces/default/pods', pod('gated', { schedulingGates: [{ name: 'example.com/a' }, { name: 'example.com/b' }] }))
  await until('the SchedulingGated condition', async () => {
    const p = (await call(c.url, 'GET', '/api/v1/namespaces/default/pods/gated')).body
    return p.status.conditions?.some((x: any) => x.type === 'PodScheduled' && x.status === 'False' && x.reason === 'SchedulingGated' && x.message === 'Scheduling is blocked due to non-empty scheduling gates')
  })
  const merge = { 'content-type': 'application/merge-patch+json' }
  const added = await call(c.url, 'PATCH', '/api/v1/namespaces/default/pods/gated', { spec: { schedulingGates: [{ name: 'example.com/a' }, { name: 'example.com/c' }] } }, merge)
  t.equal(added.status, 422)
  t.match(added.body.message, /spec.schedulingGates: Forbidden: only deletion is allowed, but found new scheduling gate 'example.com\/c'/)
  t.equal((await call(c.url, 'PATCH', '/api/v1/namespaces/default/pods/gated', { spec: { schedulingGates: [{ name: 'example.com/a' }] } }, merge)).status, 200)
  await new Promise((r) => setTimeout(r, 300))
  t.notOk(await nodeOf('gated'), 'one gate left: still waiting')
  t.equal((await call(c.url, 'PATCH', '/api/v1/namespaces/default/pods/gated', { spec: { schedulingGates: null } }, merge)).status, 200)
  await until('the ungated pod to land', async () => (await nodeOf('gated')) !== undefined)
  const events = (await call(c.url, 'GET', '/api/v1/namespaces/default/events')).body.items
  t.notOk(events.some((e: any) => e.reason === 'FailedScheduling' && e.involvedObject.name === 'gated'), 'being gated is not a scheduling failure')

  // Required anti-affinity, one per node: the pod with no room left waits, and lands when a node comes.
  const apart = (name: string) => pod(name, { affinity: { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ labelSelector: { matchLabels: { team: 'apart' } }, topologyKey: 'kubernetes.io/hostname' }] } } })
  for (const name of ['apart-1', 'apart-2', 'apart-3', 'apart-4']) {
    const body = apart(name) as any
    body.metadata.labels = { team: 'apart' }
    delete body.spec.nodeSelector
    await call(c.url, 'POST', '/api/v1/namespaces/default/pods', body)
  }
  await until('three apart pods placed, one parked', async () => {
    const items = (await call(c.url, 'GET', '/api/v1/namespaces/default/pods?labelSelector=team%3Dapart')).body.items
    return items.filter((p: any) => p.spec.nodeName).length === 3 && items.some((p: any) => p.status.conditions?.some((x: any) => x.reason === 'Unschedulable'))
  })
  const apartPods = (await call(c.url, 'GET', '/api/v1/namespaces/default/pods?labelSelector=team%3Dapart')).body.items
  t.equal(new Set(apartPods.filter((p: any) => p.spec.nodeName).map((p: any) => p.spec.nodeName)).size, 3, 'each on its own node (the fourth node is tainted)')
  const parked = apartPods.find((p: any) => !p.spec.nodeName)
  t.match(parked.status.conditions.find((x: any) => x.type === 'PodScheduled').message, /3 node\(s\) didn't match pod anti-affinity rules/)
  await c.client.create(info('Node'), node('extra'))
  await until('the parked one lands on the new node', async () => (await call(c.url, 'GET', `/api/v1/namespaces/default/pods/${parked.metadata.name}`)).body.spec.nodeName === 'extra')
})

t.test('a Deployment rolls out, endpoints follow readiness, a rolling update keeps availability', async (t) => {
  const c = await startCluster(t)
  for (const name of ['a', 'b', 'c']) await c.client.create(info('Node'), node(name))
  const stopBeats = ['a', 'b', 'c'].map((n) => heartbeat(c.client, n))
  // Pods of image v2 turn ready only when the test allows it.
  let allowV2 = false
  const stopKubelet = fakeKubelet(c.client, (pod) => !pod.spec.containers[0].image.endsWith(':v2') || allowV2)
  t.teardown(() => {
    stopKubelet()
    stopBeats.forEach((s) => s())
  })
  await call(c.url, 'POST', '/apis/apps/v1/namespaces/default/deployments', deployment('web', 4, 'weft/echo:v1'))
  await call(c.url, 'POST', '/api/v1/namespaces/default/services', { metadata: { name: 'web' }, spec: { selector: { app: 'web' }, ports: [{ port: 80, targetPort: 'http' }] } })

  const rolloutStatus = await kubectl(c.kubeconfig, ['rollout', 'status', 'deployment/web', '--timeout=30s'])
  t.equal(rolloutStatus.code, 0, rolloutStatus.stderr)
  t.match(rolloutStatus.stdout, /successfully rolled out/)

  const readyEndpoints = async () => {
    const slices = (await call(c.url, 'GET', '/apis/discovery.k8s.io/v1/namespaces/default/endpointslices?labelSelector=kubernetes.io%2Fservice-name%3Dweb')).body.items
    return slices.flatMap((s: any) => (s.endpoints ?? []).filter((e: any) => e.conditions.ready)).length
  }
  await until('4 ready endpoints', async () => (await readyEndpoints()) === 4)
  const slice = (await call(c.url, 'GET', '/apis/discovery.k8s.io/v1/namespaces/default/endpointslices?labelSelector=kubernetes.io%2Fservice-name%3Dweb')).body.items[0]
  t.equal(slice.ports[0].port, 8080, 'named targetPort resolved from the pods')
  t.equal(slice.metadata.labels['endpointslice.kubernetes.io/managed-by'], 'endpointslice-controller.k8s.io')
  t.ok(slice.endpoints.every((e: any) => e.nodeName && e.targetRef?.kind === 'Pod'))

  // Roll to v2 while v2 pods are held not-ready: availability must never drop below 3.
  let lowest = Infinity
  let watching = true
  const sample = (async () => {
    while (watching) {
      const pods = (await call(c.url, 'GET', '/api/v1/namespaces/default/pods?labelSelector=app%3Dweb')).body.items
      const ready = pods.filter((p: any) => !p.metadata.deletionTimestamp && p.status?.conditions?.some((x: any) => x.type === 'Ready' && x.status === 'True')).length
      lowest = Math.min(lowest, ready)
      await new Promise((r) => setTimeout(r, 30))
    }
  })()
  await call(c.url, 'PATCH', '/apis/apps/v1/namespaces/default/deployments/web', { spec: { template: { spec: { containers: [{ name: 'c', image: 'weft/echo:v2' }] } } } }, { 'content-type': 'application/strategic-merge-patch+json' })
  await new Promise((r) => setTimeout(r, 1500))
  const stuck = (await call(c.url, 'GET', '/apis/apps/v1/namespaces/default/deployments/web')).body
  t.ok(stuck.status.updatedReplicas <= 2, 'the rollout waits for new pods to be ready')
  allowV2 = true
  const done = await kubectl(c.kubeconfig, ['rollout', 'status', 'deployment/web', '--timeout=30s'])
  watching = false
  await sample
  t.equal(done.code, 0, done.stderr)
  t.ok(lowest >= 3, `ready pods never fell below replicas - maxUnavailable (lowest ${lowest})`)
  const images = (await call(c.url, 'GET', '/api/v1/namespaces/default/pods?labelSelector=app%3Dweb')).body.items.filter((p: any) => !p.metadata.deletionTimestamp).map((p: any) => p.spec.containers[0].image)
  t.same([...new Set(images)], ['weft/echo:v2'])

  const undo = await kubectl(c.kubeconfig, ['rollout', 'undo', 'deployment/web'])
  t.equal(undo.code, 0, undo.stderr)
  const back = await kubectl(c.kubeconfig, ['rollout', 'status', 'deployment/web', '--timeout=30s'])
  t.equal(back.code, 0, back.stderr)
  const d = (await call(c.url, 'GET', '/apis/apps/v1/namespaces/default/deployments/web')).body
  t.equal(d.spec.template.spec.containers[0].image, 'weft/echo:v1', 'rolled back')
  t.equal(d.metadata.annotations['deployment.kubernetes.io/revision'], '3')
  // The controllers' caches hold no managedFields; their writes must not drop the stored ones.
  const owners = (obj: any) => (obj.metadata.managedFields ?? []).map((f: any) => `${f.manager} ${f.subresource ?? ''}`.trim())
  t.ok(owners(d).some((o: string) => !o.endsWith('status')), `the spec's managers survive the controller's writes: ${owners(d)}`)
  t.ok(owners(d).some((o: string) => o.endsWith('status')), 'and the controller is credited with the status')

  const scaled = await kubectl(c.kubeconfig, ['scale', 'deployment/web', '--replicas=2'])
  t.equal(scaled.code, 0, scaled.stderr)
  await until('2 ready endpoints', async () => (await readyEndpoints()) === 2)
  const getSlices = await kubectl(c.kubeconfig, ['get', 'endpointslices', '-l', 'kubernetes.io/service-name=web'])
  t.match(getSlices.stdout, /web-\w+\s+IPv4\s+8080\s+10\.244\./)
})

t.test('a silent node is marked unknown, tainted, and its pods evicted', async (t) => {
  // 3 s of grace against a 200 ms heartbeat: a loaded test machine must not make the node look silent before the pod is placed.
  const c = await startCluster(t, { nodeMonitorGracePeriodSeconds: 3 })
  await c.client.create(info('Node'), node('quiet'))
  const stopBeat = heartbeat(c.client, 'quiet', 200)
  // A second node that stays healthy: with every node silent the controller would suspect itself, not the nodes.
  await c.client.create(info('Node'), node('steady'))
  t.teardown(heartbeat(c.client, 'steady', 200))
  await call(c.url, 'POST', '/api/v1/namespaces/default/services', { metadata: { name: 'q' }, spec: { selector: { app: 'q' }, ports: [{ port: 80 }] } })
  await call(c.url, 'POST', '/api/v1/namespaces/default/pods', {
    metadata: { name: 'short', labels: { app: 'q' } },
    spec: { nodeSelector: { 'kubernetes.io/hostname': 'quiet' }, containers: [{ name: 'c', image: 'x' }], tolerations: [{ key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 3 }] },
  })
  await until('the pod to be bound', async () => (await call(c.url, 'GET', '/api/v1/namespaces/default/pods/short')).body.spec.nodeName === 'quiet')
  const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z')
  await call(c.url, 'PATCH', '/api/v1/namespaces/default/pods/short/status', { status: { phase: 'Running', podIP: '10.244.0.9', podIPs: [{ ip: '10.244.0.9' }], conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: now }] } }, { 'content-type': 'application/merge-patch+json' })
  const endpointReady = async () => {
    const slices = (await call(c.url, 'GET', '/apis/discovery.k8s.io/v1/namespaces/default/endpointslices?labelSelector=kubernetes.io%2Fservice-name%3Dq')).body.items
    return slices.flatMap((x: any) => x.endpoints ?? []).some((e: any) => e.conditions.ready)
  }
  await until('a ready endpoint', endpointReady)
  stopBeat()
  await until('the endpoint to turn not-ready once the node is silent', async () => !(await endpointReady()))
  await until('the node to go unknown and tainted', async () => {
    const n = (await call(c.url, 'GET', '/api/v1/nodes/quiet')).body
    const ready = n.status.conditions.find((x: any) => x.type === 'Ready')
    return ready.status === 'Unknown' && (n.spec.taints ?? []).some((x: any) => x.key === 'node.kubernetes.io/unreachable' && x.effect === 'NoExecute')
  })
  await until('the pod to be evicted', async () => {
    const p = await call(c.url, 'GET', '/api/v1/namespaces/default/pods/short')
    return p.status === 404 || Boolean(p.body.metadata?.deletionTimestamp)
  }, 20_000)
  t.pass('evicted after its toleration')
})

t.test('every node silent at once (a control-plane or network fault): pods turn not ready, nobody is evicted, all recovers', async (t) => {
  const c = await startCluster(t, { nodeMonitorGracePeriodSeconds: 2 })
  const names = ['n1', 'n2', 'n3']
  const beats = new Map<string, () => void>()
  for (const n of names) {
    await c.client.create(info('Node'), node(n))
    beats.set(n, heartbeat(c.client, n, 200))
  }
  t.teardown(() => beats.forEach((stop) => stop()))
  for (const n of names) {
    await call(c.url, 'POST', '/api/v1/namespaces/default/pods', { metadata: { name: `p-${n}` }, spec: { nodeSelector: { 'kubernetes.io/hostname': n }, containers: [{ name: 'c', image: 'x' }] } })
  }
  const stamp = () => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z')
  const markReady = async (pod: string) =>
    call(c.url, 'PATCH', `/api/v1/namespaces/default/pods/${pod}/status`, { status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: stamp() }] } }, { 'content-type': 'application/merge-patch+json' })
  for (const n of names) {
    await until(`p-${n} bound`, async () => (await call(c.url, 'GET', `/api/v1/namespaces/default/pods/p-${n}`)).body.spec.nodeName === n)
    await markReady(`p-${n}`)
  }
  beats.forEach((stop) => stop())
  await until('every node Unknown and every pod not ready', async () => {
    const nodes = (await call(c.url, 'GET', '/api/v1/nodes')).body.items
    const pods = (await call(c.url, 'GET', '/api/v1/namespaces/default/pods')).body.items
    return nodes.every((n: any) => n.status.conditions.find((x: any) => x.type === 'Ready').status === 'Unknown') && pods.every((p: any) => p.status.conditions.find((x: any) => x.type === 'Ready')?.status === 'False')
  }, 15_000)
  await new Promise((r) => setTimeout(r, 3000))
  const during = (await call(c.url, 'GET', '/api/v1/nodes')).body.items
  t.notOk(during.some((n: any) => (n.spec.taints ?? []).some((x: any) => x.effect === 'NoExecute')), 'no evicting taint while every node is silent')
  const pods = (await call(c.url, 'GET', '/api/v1/namespaces/default/pods')).body.items
  t.equal(pods.filter((p: any) => !p.metadata.deletionTimestamp).length, 3, 'no pod evicted')

  // The fault ends: heartbeats and node status come back, the agents say their pods are Ready again.
  for (const n of names) {
    beats.set(n, heartbeat(c.client, n, 200))
    await call(c.url, 'PATCH', `/api/v1/nodes/${n}/status`, { status: { conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', lastHeartbeatTime: stamp(), lastTransitionTime: stamp() }] } }, { 'content-type': 'application/strategic-merge-patch+json' })
    await markReady(`p-${n}`)
  }
  await until('nodes Ready and untainted', async () => {
    const nodes = (await call(c.url, 'GET', '/api/v1/nodes')).body.items
    return nodes.every((n: any) => n.status.conditions.find((x: any) => x.type === 'Ready').status === 'True' && !(n.spec.taints ?? []).length)
  }, 10_000)
  const after = (await call(c.url, 'GET', '/api/v1/namespaces/default/pods')).body.items
  t.same(after.map((p: any) => [p.metadata.name, p.status.conditions.find((x: any) => x.type === 'Ready').status, Boolean(p.metadata.deletionTimestamp)]).sort(), [['p-n1', 'True', false], ['p-n2', 'True', false], ['p-n3', 'True', false]])
})

t.test('LoadBalancer addresses, namespace deletion and garbage collection', async (t) => {
  const c = await startCluster(t, { loadBalancerPool: ['192.168.250.10-192.168.250.11'] })
  await call(c.url, 'POST', '/api/v1/namespaces/default/services', { metadata: { name: 'lb' }, spec: { type: 'LoadBalancer', selector: { app: 'x' }, ports: [{ port: 80 }] } })
  await until('an LB address', async () => (await call(c.url, 'GET', '/api/v1/namespaces/default/services/lb')).body.status?.loadBalancer?.ingress?.[0]?.ip === '192.168.250.10')
  await call(c.url, 'DELETE', '/api/v1/namespaces/default/services/lb')
  await until('the LB service to go', async () => (await call(c.url, 'GET', '/api/v1/namespaces/default/services/lb')).status === 404)

  await call(c.url, 'POST', '/api/v1/namespaces', { metadata: { name: 'doomed' } })
  await call(c.url, 'POST', '/api/v1/namespaces/doomed/configmaps', { metadata: { name: 'a' } })
  await call(c.url, 'POST', '/api/v1/namespaces/doomed/secrets', { metadata: { name: 's' } })
  const del = await kubectl(c.kubeconfig, ['delete', 'namespace', 'doomed', '--timeout=20s'])
  t.equal(del.code, 0, del.stderr)
  t.equal((await call(c.url, 'GET', '/api/v1/namespaces/doomed')).status, 404, 'the namespace is gone')
  t.equal((await call(c.url, 'GET', '/api/v1/namespaces/doomed/configmaps/a')).status, 404, 'and what was in it')

  const owner = (await call(c.url, 'POST', '/api/v1/namespaces/default/configmaps', { metadata: { name: 'owner' } })).body
  const ref = { apiVersion: 'v1', kind: 'ConfigMap', name: 'owner', uid: owner.metadata.uid }
  await call(c.url, 'POST', '/api/v1/namespaces/default/configmaps', { metadata: { name: 'dependent', ownerReferences: [ref] } })
  await call(c.url, 'DELETE', '/api/v1/namespaces/default/configmaps/owner')
  await until('the dependent to be collected', async () => (await call(c.url, 'GET', '/api/v1/namespaces/default/configmaps/dependent')).status === 404)
  t.pass('background deletion through ownerReferences')

  // Foreground: the owner stays (deletionTimestamp set) until its blocking dependents are gone, its chain of them too.
  const cm = async (name: string, owners: any[] = []) => (await call(c.url, 'POST', '/api/v1/namespaces/default/configmaps', { metadata: { name, ownerReferences: owners } })).body
  const refTo = (o: any, block = false) => ({ apiVersion: 'v1', kind: 'ConfigMap', name: o.metadata.name, uid: o.metadata.uid, ...(block ? { blockOwnerDeletion: true } : {}) })
  const top = await cm('top')
  const middle = await cm('middle', [refTo(top, true)])
  await cm('leaf', [refTo(middle, true)])
  const fg = await kubectl(c.kubeconfig, ['delete', 'configmap', 'top', '--cascade=foreground', '--timeout=20s'])
  t.equal(fg.code, 0, fg.stderr)
  for (const name of ['top', 'middle', 'leaf']) t.equal((await call(c.url, 'GET', `/api/v1/namespaces/default/configmaps/${name}`)).status, 404, `foreground: ${name} gone`)

  // Orphan: the dependents stay, without the reference.
  const parent = await cm('parent')
  await cm('child', [refTo(parent)])
  const orphan = await kubectl(c.kubeconfig, ['delete', 'configmap', 'parent', '--cascade=orphan', '--timeout=20s'])
  t.equal(orphan.code, 0, orphan.stderr)
  await until('parent gone', async () => (await call(c.url, 'GET', '/api/v1/namespaces/default/configmaps/parent')).status === 404)
  const child = (await call(c.url, 'GET', '/api/v1/namespaces/default/configmaps/child')).body
  t.same(child.metadata.ownerReferences ?? [], [], 'orphan: the child stays, owned by nobody')

  // A dependent whose owner never existed (the API is asked before it goes).
  const early = await cm('early', [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'never', uid: '00000000-0000-0000-0000-000000000000' }])
  await until('a dependent of a missing owner collected', async () => (await call(c.url, 'GET', '/api/v1/namespaces/default/configmaps/early')).status === 404)
  t.ok(early.metadata.uid, 'a dependent whose owner never existed is collected')
})

t.test('a DaemonSet runs one pod per eligible node and rolls out updates', async (t) => {
  const c = await startCluster(t)
  await c.client.create(info('Node'), node('d1'))
  await c.client.create(info('Node'), node('d2'))
  await c.client.create(info('Node'), node('d3', { taints: [{ key: 'dedicated', value: 'db', effect: 'NoSchedule' }] }))
  const stopBeats = ['d1', 'd2', 'd3', 'd4'].map((n) => heartbeat(c.client, n))
  const stopKubelet = fakeKubelet(c.client)
  t.teardown(() => {
    stopKubelet()
    stopBeats.forEach((s) => s())
  })
  await call(c.url, 'POST', '/apis/apps/v1/namespaces/default/daemonsets', {
    metadata: { name: 'agent' },
    spec: { selector: { matchLabels: { app: 'agent' } }, template: { metadata: { labels: { app: 'agent' } }, spec: { containers: [{ name: 'c', image: 'agent:v1' }] } } },
  })
  const placed = async () =>
    (await call(c.url, 'GET', '/api/v1/namespaces/default/pods?labelSelector=app%3Dagent')).body.items
      .filter((p: any) => !p.metadata.deletionTimestamp)
      .map((p: any) => `${p.spec.nodeName}=${p.spec.containers[0].image}`)
      .sort()
  await until('one pod on each untainted node', async () => JSON.stringify(await placed()) === JSON.stringify(['d1=agent:v1', 'd2=agent:v1']))
  await c.client.create(info('Node'), node('d4'))
  await until('a pod on the new node', async () => (await placed()).includes('d4=agent:v1'))
  const status = await kubectl(c.kubeconfig, ['rollout', 'status', 'daemonset/agent', '--timeout=30s'])
  t.equal(status.code, 0, status.stderr)
  await call(c.url, 'PATCH', '/apis/apps/v1/namespaces/default/daemonsets/agent', { spec: { template: { spec: { containers: [{ name: 'c', image: 'agent:v2' }] } } } }, { 'content-type': 'application/strategic-merge-patch+json' })
  const rolled = await kubectl(c.kubeconfig, ['rollout', 'status', 'daemonset/agent', '--timeout=40s'])
  t.equal(rolled.code, 0, rolled.stderr)
  await until('every pod updated', async () => JSON.stringify(await placed()) === JSON.stringify(['d1=agent:v2', 'd2=agent:v2', 'd4=agent:v2']))
  t.pass('rolled out to every eligible node')
})

t.test('a ReplicationController keeps its replicas, scales with kubectl and shows in kubectl get', async (t) => {
  const c = await startCluster(t)
  await c.client.create(info('Node'), node('r1'))
  const stopBeat = heartbeat(c.client, 'r1')
  const stopKubelet = fakeKubelet(c.client)
  t.teardown(() => {
    stopKubelet()
    stopBeat()
  })
  const made = await call(c.url, 'POST', '/api/v1/namespaces/default/replicationcontrollers', {
    apiVersion: 'v1',
    kind: 'ReplicationController',
    metadata: { name: 'legacy' },
    spec: { replicas: 2, template: { metadata: { labels: { app: 'legacy' } }, spec: { containers: [{ name: 'c', image: 'legacy:1' }] } } },
  })
  t.equal(made.status, 201, JSON.stringify(made.body))
  t.same(made.body.spec.selector, { app: 'legacy' }, 'the selector defaults to the template labels')
  t.same(made.body.metadata.labels, { app: 'legacy' }, 'and so do the labels')
  const running = async () =>
    (await call(c.url, 'GET', '/api/v1/namespaces/default/pods?labelSelector=app%3Dlegacy')).body.items.filter((p: any) => !p.metadata.deletionTimestamp && p.status?.phase === 'Running')
  await until('two pods running', async () => (await running()).length === 2)
  t.match((await running())[0].metadata.ownerReferences, [{ apiVersion: 'v1', kind: 'ReplicationController', name: 'legacy', controller: true }])
  const scaled = await kubectl(c.kubeconfig, ['scale', 'rc/legacy', '--replicas=3'])
  t.equal(scaled.code, 0, scaled.stderr)
  t.match(scaled.stdout, /replicationcontroller\/legacy scaled/)
  await until('three pods running', async () => (await running()).length === 3)
  await until('status counts them', async () => (await call(c.url, 'GET', '/api/v1/namespaces/default/replicationcontrollers/legacy')).body.status?.readyReplicas === 3)
  const table = await kubectl(c.kubeconfig, ['get', 'rc', '-o', 'wide'])
  t.equal(table.code, 0, table.stderr)
  t.match(table.stdout, /^NAME\s+DESIRED\s+CURRENT\s+READY\s+AGE\s+CONTAINERS\s+IMAGES\s+SELECTOR\nlegacy\s+3\s+3\s+3\s+\S+\s+c\s+legacy:1\s+app=legacy\n$/)
  const orphan = await call(c.url, 'DELETE', '/api/v1/namespaces/default/replicationcontrollers/legacy', { propagationPolicy: 'Orphan' })
  t.equal(orphan.status, 200)
  await until('the pods are left without an owner', async () => (await running()).every((p: any) => !p.metadata.ownerReferences?.length))
})

t.test('faults: an exhausted pool, a selector matching nothing, an owner deleted mid-rollout', async (t) => {
  const c = await startCluster(t, { loadBalancerPool: ['192.168.251.5/32'] })
  await c.client.create(info('Node'), node('f1'))
  await call(c.url, 'POST', '/api/v1/namespaces/default/services', { metadata: { name: 'lb1' }, spec: { type: 'LoadBalancer', selector: { app: 'none' }, ports: [{ port: 80 }] } })
  await until('the only address', async () => (await call(c.url, 'GET', '/api/v1/namespaces/default/services/lb1')).body.status?.loadBalancer?.ingress?.[0]?.ip === '192.168.251.5')
  await call(c.url, 'POST', '/api/v1/namespaces/default/services', { metadata: { name: 'lb2' }, spec: { type: 'LoadBalancer', selector: { app: 'none' }, ports: [{ port: 80 }] } })
  await until('an AllocationFailed event', async () => {
    const events = (await call(c.url, 'GET', '/api/v1/namespaces/default/events?fieldSelector=involvedObject.name%3Dlb2')).body.items
    return events.some((e: any) => e.reason === 'AllocationFailed' && e.type === 'Warning')
  })
  t.notOk((await call(c.url, 'GET', '/api/v1/namespaces/default/services/lb2')).body.status?.loadBalancer?.ingress, 'no address when the pool is empty')
  await until('an empty slice for the selector that matches nothing', async () => {
    const slices = (await call(c.url, 'GET', '/apis/discovery.k8s.io/v1/namespaces/default/endpointslices?labelSelector=kubernetes.io%2Fservice-name%3Dlb1')).body.items
    return slices.length === 1 && (slices[0].endpoints ?? []).length === 0
  })

  await call(c.url, 'POST', '/apis/apps/v1/namespaces/default/deployments', deployment('gone', 3, 'x:1'))
  await until('its pods', async () => (await call(c.url, 'GET', '/api/v1/namespaces/default/pods?labelSelector=app%3Dgone')).body.items.length === 3)
  await call(c.url, 'DELETE', '/apis/apps/v1/namespaces/default/deployments/gone')
  await until('the replica set and pods to be collected', async () => {
    const rs = (await call(c.url, 'GET', '/apis/apps/v1/namespaces/default/replicasets?labelSelector=app%3Dgone')).body.items
    const pods = (await call(c.url, 'GET', '/api/v1/namespaces/default/pods?labelSelector=app%3Dgone')).body.items.filter((p: any) => !p.metadata.deletionTimestamp)
    return rs.length === 0 && pods.length === 0
  })
  t.equal((await call(c.url, 'GET', '/healthz')).status, 200, 'everything still up')
})

t.test('no double hand-outs, no lost news', async (t) => {
  const c = await startCluster(t, { loadBalancerPool: ['192.0.2.0/28'], podGCQuarantineSeconds: 3 })
  // Addresses and pod CIDRs asked for all at once are all distinct.
  await Promise.all(['n6', 'n5', 'n4', 'n3', 'n2', 'n1'].map((n) => c.client.create(info('Node'), node(n))))
  await Promise.all(['s1', 's2', 's3', 's4'].map((name) => call(c.url, 'POST', '/api/v1/namespaces/default/services', { metadata: { name }, spec: { type: 'LoadBalancer', ports: [{ port: 80 }] } })))
  const cidrs = async () => (await call(c.url, 'GET', '/api/v1/nodes')).body.items.map((n: any) => n.spec.podCIDR).filter(Boolean)
  await until('six pod CIDRs', async () => (await cidrs()).length === 6)
  t.equal(new Set(await cidrs()).size, 6, 'every node has its own pod CIDR')
  const claims = async () => (await call(c.url, 'GET', '/apis/coordination.k8s.io/v1/namespaces/kube-system/leases?labelSelector=weft.dev%2Fclaim%3Dpod-cidr')).body.items.map((l: any) => `${l.metadata.annotations['weft.dev/claimed']} ${l.spec.holderIdentity}`)
  const n6 = (await call(c.url, 'GET', '/api/v1/nodes/n6')).body.spec.podCIDR
  t.ok((await claims()).includes(`${n6} n6`), 'each CIDR is claimed by a Lease its node holds')
  t.equal((await claims()).length, 6)
  await call(c.url, 'DELETE', '/api/v1/nodes/n6')
  await until('the claim of a deleted node released', async () => !(await claims()).some((x: string) => x.endsWith(' n6')))
  const ips = async () => (await call(c.url, 'GET', '/api/v1/namespaces/default/services')).body.items.flatMap((s: any) => (s.status?.loadBalancer?.ingress ?? []).map((i: any) => i.ip))
  await until('four addresses', async () => (await ips()).length === 4)
  t.equal(new Set(await ips()).size, 4, 'every Service has its own address')
  const before = (await call(c.url, 'GET', '/api/v1/namespaces/default/services')).body.metadata.resourceVersion
  await new Promise((r) => setTimeout(r, 1500))
  const svcs = (await call(c.url, 'GET', '/api/v1/namespaces/default/services')).body.items
  t.ok(svcs.every((s: any) => Number(s.metadata.resourceVersion) <= Number(before)), 'and then the Services are left alone')

  // An owner of a kind weft does not serve is never taken for gone.
  await call(c.url, 'POST', '/api/v1/namespaces/default/configmaps', { metadata: { name: 'widget-output', ownerReferences: [{ apiVersion: 'example.com/v1', kind: 'Widget', name: 'w', uid: '0b1c2d3e-0000-4000-8000-000000000001' }] } })
  await new Promise((r) => setTimeout(r, 1500))
  t.equal((await call(c.url, 'GET', '/api/v1/namespaces/default/configmaps/widget-output')).status, 200, 'kept')

  // A parked pod whose spec changes is tried again at once.
  await c.client.create(info('Node'), node('gpu', { labels: { gpu: 'yes' }, taints: [{ key: 'gpu', value: 'only', effect: 'NoSchedule' }] }))
  await call(c.url, 'POST', '/api/v1/namespaces/default/pods', { metadata: { name: 'wants-gpu' }, spec: { nodeSelector: { gpu: 'yes' }, containers: [{ name: 'c', image: 'x' }] } })
  await until('parked', async () => (await call(c.url, 'GET', '/api/v1/namespaces/default/pods/wants-gpu')).body.status.conditions?.some((x: any) => x.reason === 'Unschedulable'))
  const pod = (await call(c.url, 'GET', '/api/v1/namespaces/default/pods/wants-gpu')).body
  pod.spec.tolerations.push({ key: 'gpu', operator: 'Equal', value: 'only', effect: 'NoSchedule' })
  t.equal((await call(c.url, 'PUT', '/api/v1/namespaces/default/pods/wants-gpu', pod)).status, 200)
  await until('bound after the new toleration', async () => (await call(c.url, 'GET', '/api/v1/namespaces/default/pods/wants-gpu')).body.spec.nodeName === 'gpu')

  // A ready pod on a node that appears later joins its Service's slice when the node does.
  await call(c.url, 'POST', '/api/v1/namespaces/default/services', { metadata: { name: 'late' }, spec: { selector: { app: 'late' }, ports: [{ port: 80 }] } })
  await call(c.url, 'POST', '/api/v1/namespaces/default/pods', { metadata: { name: 'early', labels: { app: 'late' } }, spec: { nodeName: 'later', containers: [{ name: 'c', image: 'x' }] } })
  const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z')
  await call(c.url, 'PATCH', '/api/v1/namespaces/default/pods/early/status', { status: { phase: 'Running', podIP: '10.244.9.9', podIPs: [{ ip: '10.244.9.9' }], conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: now }] } }, { 'content-type': 'application/merge-patch+json' })
  await c.client.create(info('Node'), node('later'))
  await until('the endpoint', async () => {
    const slices = (await call(c.url, 'GET', '/apis/discovery.k8s.io/v1/namespaces/default/endpointslices?labelSelector=kubernetes.io%2Fservice-name%3Dlate')).body.items
    return slices.flatMap((x: any) => x.endpoints ?? []).some((e: any) => e.addresses[0] === '10.244.9.9')
  })
  t.pass('node arrival requeues the Service')

  // Pods on a node that is deleted are collected, and their endpoints go.
  await call(c.url, 'DELETE', '/api/v1/nodes/later')
  await until('the orphaned pod to be collected', async () => (await call(c.url, 'GET', '/api/v1/namespaces/default/pods/early')).status === 404)
  await until('its endpoint to go', async () => {
    const slices = (await call(c.url, 'GET', '/apis/discovery.k8s.io/v1/namespaces/default/endpointslices?labelSelector=kubernetes.io%2Fservice-name%3Dlate')).body.items
    return slices.flatMap((x: any) => x.endpoints ?? []).length === 0
  })
})

t.test('PriorityClasses: admission sets pod priority; a higher-priority pod preempts lower ones', async (t) => {
  const c = await startCluster(t)
  const stopKubelet = fakeKubelet(c.client)
  t.teardown(stopKubelet)
  const pcs = await kubectl(c.kubeconfig, ['get', 'priorityclasses'])
  t.equal(pcs.code, 0, pcs.stderr)
  t.match(pcs.stdout, /system-cluster-critical\s+2000000000\s+false/)
  t.match(pcs.stdout, /system-node-critical\s+2000001000\s+false/)
  t.equal((await call(c.url, 'DELETE', '/apis/scheduling.k8s.io/v1/priorityclasses/system-node-critical')).status, 403, 'system classes stay')
  const pc = (name: string, value: number, extra: object = {}) => call(c.url, 'POST', '/apis/scheduling.k8s.io/v1/priorityclasses', { apiVersion: 'scheduling.k8s.io/v1', kind: 'PriorityClass', metadata: { name }, value, ...extra })
  t.equal((await pc('low', 10, { globalDefault: true })).status, 201)
  t.equal((await pc('high', 1000)).status, 201)
  const second = await pc('also-default', 5, { globalDefault: true })
  t.equal(second.status, 403)
  t.equal(second.body.message, 'priorityclasses.scheduling.k8s.io "also-default" is forbidden: PriorityClass low is already marked as default. Only one default can exist')
  const reserved = await pc('system-mine', 5)
  t.equal(reserved.status, 422)
  t.match(reserved.body.message, /priority class names with 'system-' prefix are reserved/)
  t.match((await pc('too-high', 1_000_000_001)).body.message, /maximum allowed value of a user defined priority is 1000000000/)

  await c.client.create(info('Node'), node('only', { cpu: '2' }))
  const mk = (name: string, cpu: string, extra: object = {}) =>
    call(c.url, 'POST', '/api/v1/namespaces/default/pods', { metadata: { name }, spec: { containers: [{ name: 'c', image: 'x', resources: { requests: { cpu } } }], ...extra } })
  const filler = await mk('filler', '2')
  t.equal(filler.status, 201, JSON.stringify(filler.body).slice(0, 300))
  t.equal(filler.body.spec.priority, 10, 'no class named: the globalDefault class')
  t.equal(filler.body.spec.priorityClassName, 'low')
  const unknown = await mk('nope', '1', { priorityClassName: 'missing' })
  t.equal(unknown.status, 403)
  t.match(unknown.body.message, /no PriorityClass with name missing was found/)
  const lying = await mk('liar', '1', { priorityClassName: 'high', priority: 5 })
  t.equal(lying.status, 403)
  t.match(lying.body.message, /the integer value of priority \(5\) must not be provided in pod spec; priority admission controller computed 1000/)
  await until('filler placed', async () => (await call(c.url, 'GET', '/api/v1/namespaces/default/pods/filler')).body.spec.nodeName === 'only')

  const vip = await mk('vip', '2', { priorityClassName: 'high' })
  t.equal(vip.body.spec.priority, 1000)
  await until('vip placed where filler was', async () => (await call(c.url, 'GET', '/api/v1/namespaces/default/pods/vip')).body.spec.nodeName === 'only', 20_000)
  t.equal((await call(c.url, 'GET', '/api/v1/namespaces/default/pods/filler')).status, 404, 'the filler was preempted')
  const events = (await call(c.url, 'GET', '/api/v1/namespaces/default/events')).body.items
  t.ok(events.some((e: any) => e.reason === 'Preempted' && e.involvedObject.name === 'filler' && /Preempted by pod .* on node only/.test(e.message)))
})

t.test("the disruption controller counts a Deployment's scale, observes spec changes, and fails safe on a pod without scale", async (t) => {
  const c = await startCluster(t)
  await c.client.create(info('Node'), node('p1'))
  const stopBeat = heartbeat(c.client, 'p1')
  const stopKubelet = fakeKubelet(c.client)
  t.teardown(() => {
    stopKubelet()
    stopBeat()
  })
  await call(c.url, 'POST', '/apis/apps/v1/namespaces/default/deployments', deployment('budgeted', 3, 'img:v1'))
  await call(c.url, 'POST', '/apis/policy/v1/namespaces/default/poddisruptionbudgets', { metadata: { name: 'budgeted' }, spec: { maxUnavailable: '34%', selector: { matchLabels: { app: 'budgeted' } } } })
  const status = async () => (await call(c.url, 'GET', '/apis/policy/v1/namespaces/default/poddisruptionbudgets/budgeted')).body.status
  // 34% of 3 rounds up to 2 unavailable: 1 must stay healthy, so 2 may go.
  await until('three healthy of three expected', async () => (await status())?.currentHealthy === 3)
  t.match(await status(), { observedGeneration: 1, expectedPods: 3, desiredHealthy: 1, currentHealthy: 3, disruptionsAllowed: 2, conditions: [{ type: 'DisruptionAllowed', status: 'True', reason: 'SufficientPods' }] })

  await call(c.url, 'PATCH', '/apis/policy/v1/namespaces/default/poddisruptionbudgets/budgeted', { spec: { maxUnavailable: 0 } }, { 'content-type': 'application/merge-patch+json' })
  await until('the new generation observed', async () => (await status())?.observedGeneration === 2)
  t.match(await status(), { desiredHealthy: 3, disruptionsAllowed: 0, conditions: [{ status: 'False', reason: 'InsufficientPods' }] })

  // A pod the budget selects whose controller has no scale (a lone pod owned by a ConfigMap).
  const owner = (await call(c.url, 'POST', '/api/v1/namespaces/default/configmaps', { metadata: { name: 'owner' } })).body
  await call(c.url, 'POST', '/api/v1/namespaces/default/pods', {
    metadata: { name: 'odd', labels: { app: 'budgeted' }, ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'owner', uid: owner.metadata.uid, controller: true }] },
    spec: { containers: [{ name: 'c', image: 'x' }] },
  })
  await until('the budget fails safe', async () => (await status())?.conditions?.[0]?.reason === 'SyncFailed')
  t.match(await status(), { disruptionsAllowed: 0, conditions: [{ type: 'DisruptionAllowed', status: 'False', reason: 'SyncFailed', message: 'found no controllers for pod "odd"' }] })
  const events = (await call(c.url, 'GET', '/api/v1/namespaces/default/events?fieldSelector=reason%3DCalculateExpectedPodCountFailed')).body.items
  t.ok(events.length >= 1, 'and says so in an event')
})
