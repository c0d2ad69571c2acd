// StatefulSets and DaemonSet history against a real weft API server with the scheduler and
// controllers; the test is the kubelet, making pods Running and Ready when it allows.
import t from 'tap'
import { resources } from '../../src/api/registry.ts'
import { call } from '../helpers/apiserver.ts'
import { fakeKubelet, heartbeat, node, startCluster, until } from '../helpers/control-plane.ts'

const info = (kind: string) => resources.find((r) => r.kind === kind)!
const sts = '/apis/apps/v1/namespaces/default/statefulsets'
const strategic = { 'content-type': 'application/strategic-merge-patch+json' }
const merge = { 'content-type': 'application/merge-patch+json' }
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

async function startNodes(t: Parameters<typeof startCluster>[0], names: string[], ready: (pod: any) => boolean) {
  const c = await startCluster(t)
  for (const n of names) await c.client.create(info('Node'), node(n))
  const stopBeats = names.map((n) => heartbeat(c.client, n))
  const stopKubelet = fakeKubelet(c.client, ready)
  t.teardown(() => {
    stopKubelet()
    stopBeats.forEach((s) => s())
  })
  return c
}

t.test('an OrderedReady StatefulSet comes up in order, rolls 2→1→0, and scales down from the top', async (t) => {
  const allowed = new Set<string>()
  const c = await startNodes(t, ['s1', 's2'], (pod) => allowed.has(`${pod.metadata.name}@${pod.spec.containers[0].image}`))
  const pods = async () => {
    const items = (await call(c.url, 'GET', '/api/v1/namespaces/default/pods?labelSelector=app%3Ddb')).body.items.filter((p: any) => !p.metadata.deletionTimestamp)
    return new Map<string, any>(items.map((p: any) => [p.metadata.name, p]))
  }
  await call(c.url, 'POST', '/api/v1/namespaces/default/services', { metadata: { name: 'db' }, spec: { clusterIP: 'None', selector: { app: 'db' }, ports: [{ port: 5432 }] } })
  const created = await call(c.url, 'POST', sts, {
    metadata: { name: 'db' },
    spec: { replicas: 3, serviceName: 'db', selector: { matchLabels: { app: 'db' } }, template: { metadata: { labels: { app: 'db' } }, spec: { containers: [{ name: 'db', image: 'db:v1' }] } } },
  })
  t.equal(created.status, 201, created.status === 201 ? 'created' : JSON.stringify(created.body))
  const refused = await call(c.url, 'PATCH', `${sts}/db`, { spec: { serviceName: 'other' } }, merge)
  t.equal(refused.status, 422)
  t.match(refused.body.message, /spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden/)

  for (const [i, name] of ['db-0', 'db-1', 'db-2'].entries()) {
    await until(`${name} created`, async () => (await pods()).has(name))
    await sleep(400)
    const now = await pods()
    t.same([...now.keys()].sort(), ['db-0', 'db-1', 'db-2'].slice(0, i + 1), `only up to ${name} while it is not Ready`)
    const pod = now.get(name)
    t.equal(pod.spec.hostname, name)
    t.equal(pod.spec.subdomain, 'db')
    t.equal(pod.metadata.labels['statefulset.kubernetes.io/pod-name'], name)
    allowed.add(`${name}@db:v1`)
  }
  await until('status: 3 ready', async () => (await call(c.url, 'GET', `${sts}/db`)).body.status?.readyReplicas === 3)
  const v1 = (await call(c.url, 'GET', `${sts}/db`)).body.status
  t.equal(v1.currentRevision, v1.updateRevision)
  t.match(v1.currentRevision, /^db-[bcdfghjklmnpqrstvwxz2456789]+$/)
  const table = await call(c.url, 'GET', sts, undefined, { accept: 'application/json;as=Table;v=v1;g=meta.k8s.io' })
  t.same(table.body.rows.map((r: any) => r.cells.slice(0, 2)), [['db', '3/3']], 'kubectl get sts')

  // A template change replaces db-2, then db-1, then db-0, each once the one above is Ready.
  await call(c.url, 'PATCH', `${sts}/db`, { spec: { template: { spec: { containers: [{ name: 'db', image: 'db:v2' }] } } } }, strategic)
  const order: string[] = []
  for (const name of ['db-2', 'db-1', 'db-0']) {
    await until(`${name} at v2`, async () => (await pods()).get(name)?.spec.containers[0].image === 'db:v2')
    order.push(name)
    const now = await pods()
    const stillOld = ['db-0', 'db-1', 'db-2'].filter((n) => n < name).every((n) => now.get(n)?.spec.containers[0].image === 'db:v1')
    t.ok(stillOld, `the pods below ${name} are still v1 while it is not Ready`)
    allowed.add(`${name}@db:v2`)
  }
  t.same(order, ['db-2', 'db-1', 'db-0'])
  await until('the update revision is current', async () => {
    const s = (await call(c.url, 'GET', `${sts}/db`)).body.status
    return s.currentRevision === s.updateRevision && s.updatedReplicas === 3 && s.readyReplicas === 3
  })
  const after = (await call(c.url, 'GET', `${sts}/db`)).body.status
  t.not(after.currentRevision, v1.currentRevision)
  const revisions = (await call(c.url, 'GET', '/apis/apps/v1/namespaces/default/controllerrevisions?labelSelector=app%3Ddb')).body.items
  t.same(revisions.map((r: any) => [r.metadata.name, r.revision]).sort(), [[v1.currentRevision, 1], [after.currentRevision, 2]].sort())
  t.ok((await pods()).get('db-0').metadata.labels['controller-revision-hash'] === after.currentRevision)

  // The scale subresource: down to 1, highest first.
  const scale = await call(c.url, 'GET', `${sts}/db/scale`)
  t.match(scale.body, { kind: 'Scale', spec: { replicas: 3 }, status: { replicas: 3, selector: 'app=db' } })
  t.equal((await call(c.url, 'PATCH', `${sts}/db/scale`, { spec: { replicas: 1 } }, merge)).status, 200)
  await until('scaled to 1', async () => [...(await pods()).keys()].join() === 'db-0')
  const events = (await call(c.url, 'GET', '/api/v1/namespaces/default/events?fieldSelector=involvedObject.name%3Ddb')).body.items
  const deletes = events.filter((e: any) => e.reason === 'SuccessfulDelete').map((e: any) => e.message)
  const scaleDown = deletes.slice(-2)
  t.same(scaleDown, ['delete Pod db-2 in StatefulSet db successful', 'delete Pod db-1 in StatefulSet db successful'], 'db-2 went before db-1')
})

t.test('a DaemonSet rollout undo brings the old revision back without a new one', async (t) => {
  const c = await startNodes(t, ['d1', 'd2'], () => true)
  const ds = '/apis/apps/v1/namespaces/default/daemonsets'
  await call(c.url, 'POST', ds, {
    metadata: { name: 'agent' },
    spec: { selector: { matchLabels: { app: 'agent' } }, template: { metadata: { labels: { app: 'agent' } }, spec: { containers: [{ name: 'c', image: 'agent:v1' }] } } },
  })
  const placed = async () =>
    (await call(c.url, 'GET', '/api/v1/namespaces/default/pods?labelSelector=app%3Dagent')).body.items
      .filter((p: any) => !p.metadata.deletionTimestamp)
      .map((p: any) => `${p.spec.nodeName}=${p.spec.containers[0].image}`)
      .sort()
  await until('v1 on both nodes', async () => JSON.stringify(await placed()) === JSON.stringify(['d1=agent:v1', 'd2=agent:v1']))
  await call(c.url, 'PATCH', `${ds}/agent`, { spec: { template: { spec: { containers: [{ name: 'c', image: 'agent:v2' }] } } } }, strategic)
  await until('v2 on both nodes', async () => JSON.stringify(await placed()) === JSON.stringify(['d1=agent:v2', 'd2=agent:v2']), 30_000)

  // What `kubectl rollout undo daemonset/agent` does: the revisions the DaemonSet controls,
  // by its selector, and a strategic merge patch of the previous one's data.
  const history = async () =>
    (await call(c.url, 'GET', '/apis/apps/v1/namespaces/default/controllerrevisions?labelSelector=app%3Dagent')).body.items
      .filter((r: any) => r.metadata.ownerReferences?.some((o: any) => o.controller && o.kind === 'DaemonSet' && o.name === 'agent'))
      .sort((a: any, b: any) => a.revision - b.revision)
  const before = await history()
  t.same(before.map((r: any) => r.revision), [1, 2])
  t.equal(before[0].data.spec.template.$patch, 'replace')
  const undo = await call(c.url, 'PATCH', `${ds}/agent`, before[0].data, strategic)
  t.equal(undo.status, 200, undo.status === 200 ? 'the revision patched back' : JSON.stringify(undo.body))
  t.equal(undo.body.spec.template.spec.containers[0].image, 'agent:v1')
  await until('v1 again on both nodes', async () => JSON.stringify(await placed()) === JSON.stringify(['d1=agent:v1', 'd2=agent:v1']), 30_000)
  await until('the old revision renumbered', async () => (await history()).map((r: any) => `${r.metadata.name}:${r.revision}`).join() === `${before[1].metadata.name}:2,${before[0].metadata.name}:3`)
  const hash = before[0].metadata.labels['controller-revision-hash']
  const labels = (await call(c.url, 'GET', '/api/v1/namespaces/default/pods?labelSelector=app%3Dagent')).body.items.filter((p: any) => !p.metadata.deletionTimestamp).map((p: any) => p.metadata.labels['controller-revision-hash'])
  t.same(labels, [hash, hash], "the pods carry the old revision's hash")
  await until('status: both updated', async () => (await call(c.url, 'GET', `${ds}/agent`)).body.status?.updatedNumberScheduled === 2)
})

t.test('a StatefulSet makes a claim per pod from its templates; whenScaled: Delete takes a scaled-down pod\'s claim with it', async (t) => {
  const c = await startNodes(t, ['v1'], () => true)
  // The directory a node agent publishes for local-path volumes.
  await call(c.url, 'PATCH', '/api/v1/nodes/v1', { metadata: { annotations: { 'weft.dev/local-path-dir': '/var/lib/weft/storage' } } }, merge)
  const claims = async () => {
    const items = (await call(c.url, 'GET', '/api/v1/namespaces/default/persistentvolumeclaims')).body.items.filter((p: any) => !p.metadata.deletionTimestamp)
    return new Map<string, any>(items.map((p: any) => [p.metadata.name, p]))
  }
  const created = await call(c.url, 'POST', sts, {
    metadata: { name: 'web' },
    spec: {
      replicas: 2,
      podManagementPolicy: 'Parallel',
      selector: { matchLabels: { app: 'web' } },
      template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image: 'web:v1', volumeMounts: [{ name: 'data', mountPath: '/data' }] }] } },
      volumeClaimTemplates: [{ metadata: { name: 'data' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } }],
      persistentVolumeClaimRetentionPolicy: { whenDeleted: 'Retain', whenScaled: 'Delete' },
    },
  })
  t.equal(created.status, 201, JSON.stringify(created.body))
  await until('a claim per pod', async () => (await claims()).size === 2)
  const made = await claims()
  t.same([...made.keys()].sort(), ['data-web-0', 'data-web-1'])
  t.equal(made.get('data-web-0').spec.storageClassName, 'local-path', 'the default class')
  t.same(made.get('data-web-0').metadata.labels, { app: 'web' })
  const pod = (await call(c.url, 'GET', '/api/v1/namespaces/default/pods/web-1')).body
  t.same(pod.spec.volumes.find((v: any) => v.name === 'data'), { name: 'data', persistentVolumeClaim: { claimName: 'data-web-1' } }, 'the pod mounts its own claim')
  await until('the claims are bound (local-path provisioned once the pods were scheduled)', async () => [...(await claims()).values()].every((p) => p.status?.phase === 'Bound'), 30_000)

  const scaled = await call(c.url, 'PATCH', `${sts}/web/scale`, { spec: { replicas: 1 } }, merge)
  t.equal(scaled.status, 200, JSON.stringify(scaled.body))
  await until('the scaled-down pod\'s claim is gone', async () => !(await claims()).has('data-web-1'), 30_000)
  t.ok((await claims()).has('data-web-0'), 'the remaining pod keeps its claim')
})
