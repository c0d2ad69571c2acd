// Volumes, claims and the local-path provisioner against a real weft API server, scheduler and
// controllers; the test acts as the node's agent where one is needed (it marks pods running,
// publishes the node's local-path dir and frees deleted volumes as the node would).
import t from 'tap'
import { resources } from '../../src/api/registry.ts'
import { RestClient } from '../../src/client/index.ts'
import { call, userCredentials } from '../helpers/apiserver.ts'
import { fakeKubelet, heartbeat, node, startCluster, until } from '../helpers/control-plane.ts'
import { kubectl } from '../helpers/kubectl.ts'

const info = (kind: string) => resources.find((r) => r.kind === kind)!
const claims = '/api/v1/namespaces/default/persistentvolumeclaims'

const claim = (name: string, storage: string, spec: Record<string, unknown> = {}) => ({ metadata: { name }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage } }, ...spec } })
const podWith = (name: string, claimName: string) => ({ metadata: { name }, spec: { containers: [{ name: 'c', image: 'x' }], volumes: [{ name: 'data', persistentVolumeClaim: { claimName } }] } })

t.test('WaitForFirstConsumer: the claim gets a local-path volume on the node its pod is scheduled to, and the volume goes with the claim', async (t) => {
  const c = await startCluster(t)
  const stopKubelet = fakeKubelet(c.client)
  t.teardown(stopKubelet)
  const storageDir = '/var/lib/weft/agent/storage'
  for (const name of ['node-1', 'node-2']) {
    const n = node(name) as any
    // node-2's agent is not weft's: it publishes no local-path dir.
    if (name === 'node-1') n.metadata.annotations = { 'weft.dev/local-path-dir': storageDir }
    await c.client.create(info('Node'), n)
    t.teardown(heartbeat(c.client, name))
  }

  const sc = await kubectl(c.kubeconfig, ['get', 'storageclass'])
  t.equal(sc.code, 0, sc.stderr)
  t.match(sc.stdout, /local-path \(default\)\s+weft\.dev\/local-path\s+Delete\s+WaitForFirstConsumer\s+false/)

  const created = await call(c.url, 'POST', claims, claim('data', '2Gi'))
  t.equal(created.status, 201, JSON.stringify(created.body).slice(0, 300))
  t.equal(created.body.spec.storageClassName, 'local-path', 'DefaultStorageClass')
  t.same(created.body.metadata.finalizers, ['kubernetes.io/pvc-protection'])
  const events = async (name: string) => (await call(c.url, 'GET', '/api/v1/namespaces/default/events')).body.items.filter((e: any) => e.involvedObject.name === name)
  await until('WaitForFirstConsumer', async () => (await events('data')).some((e: any) => e.reason === 'WaitForFirstConsumer'))
  const pending = (await call(c.url, 'GET', `${claims}/data`)).body
  t.equal(pending.status.phase, 'Pending')
  t.notOk(pending.spec.volumeName, 'not bound before a pod wants it')

  // The pod may only go where local-path can make its volume: node-1.
  t.equal((await call(c.url, 'POST', '/api/v1/namespaces/default/pods', { ...podWith('web', 'data'), spec: { ...podWith('web', 'data').spec, nodeSelector: { 'kubernetes.io/hostname': 'node-1' } } })).status, 201)
  let bound: any
  await until('the claim to be bound', async () => {
    bound = (await call(c.url, 'GET', `${claims}/data`)).body
    return bound.status.phase === 'Bound'
  }, 30_000)
  const pvName = `pvc-${bound.metadata.uid}`
  t.equal(bound.spec.volumeName, pvName)
  t.equal(bound.metadata.annotations['volume.kubernetes.io/selected-node'], 'node-1', 'the scheduler chose the node')
  t.equal(bound.metadata.annotations['volume.kubernetes.io/storage-provisioner'], 'weft.dev/local-path')
  t.equal(bound.metadata.annotations['pv.kubernetes.io/bind-completed'], 'yes')
  t.same(bound.status.capacity, { storage: '2Gi' })
  const pv = (await call(c.url, 'GET', `/api/v1/persistentvolumes/${pvName}`)).body
  t.equal(pv.status.phase, 'Bound')
  t.same(pv.spec.hostPath, { path: `${storageDir}/${pvName}_default_data`, type: 'DirectoryOrCreate' })
  t.same(pv.spec.nodeAffinity.required.nodeSelectorTerms[0].matchExpressions, [{ key: 'kubernetes.io/hostname', operator: 'In', values: ['node-1'] }])
  t.same(pv.metadata.finalizers.sort(), ['kubernetes.io/pv-protection', 'weft.dev/local-path-cleanup'])
  t.equal(pv.metadata.labels['weft.dev/local-path-node'], 'node-1')
  t.equal(pv.spec.persistentVolumeReclaimPolicy, 'Delete')
  await until('the pod to be bound to node-1', async () => (await call(c.url, 'GET', '/api/v1/namespaces/default/pods/web')).body.spec.nodeName === 'node-1')
  t.ok((await events('data')).some((e: any) => e.reason === 'ProvisioningSucceeded' && e.message === `Successfully provisioned volume ${pvName}`))

  const pvs = await kubectl(c.kubeconfig, ['get', 'pv'])
  t.match(pvs.stdout, new RegExp(`${pvName}\\s+2Gi\\s+RWO\\s+Delete\\s+Bound\\s+default/data\\s+local-path\\s+<unset>`))
  const pvcs = await kubectl(c.kubeconfig, ['get', 'pvc'])
  t.match(pvcs.stdout, new RegExp(`data\\s+Bound\\s+${pvName}\\s+2Gi\\s+RWO\\s+local-path\\s+<unset>`))

  // A second pod with the same claim follows the volume to its node.
  t.equal((await call(c.url, 'POST', '/api/v1/namespaces/default/pods', podWith('reader', 'data'))).status, 201)
  await until('the second pod on the volume\'s node', async () => (await call(c.url, 'GET', '/api/v1/namespaces/default/pods/reader')).body.spec.nodeName === 'node-1')

  // The claim in use stays until its pods go.
  t.equal((await call(c.url, 'DELETE', `${claims}/data`)).status, 200)
  await new Promise((r) => setTimeout(r, 500))
  const held = (await call(c.url, 'GET', `${claims}/data`)).body
  t.ok(held.metadata.deletionTimestamp, 'being deleted')
  t.same(held.metadata.finalizers, ['kubernetes.io/pvc-protection'], 'held by its pods')
  const late = await call(c.url, 'POST', '/api/v1/namespaces/default/pods', podWith('late', 'data'))
  t.equal(late.status, 201)
  await until('the late pod refused by the scheduler', async () => {
    const p = (await call(c.url, 'GET', '/api/v1/namespaces/default/pods/late')).body
    return p.status.conditions?.some((x: any) => x.type === 'PodScheduled' && x.message === '0/2 nodes are available: persistentvolumeclaim "data" is being deleted.')
  })
  for (const p of ['web', 'reader', 'late']) await call(c.url, 'DELETE', `/api/v1/namespaces/default/pods/${p}`)
  await until('the claim gone', async () => (await call(c.url, 'GET', `${claims}/data`)).status === 404, 30_000)

  // Delete: the provisioner deletes the Released volume; only the cleanup finalizer holds it.
  let deleting: any
  await until('the volume being deleted, waiting only for its node', async () => {
    deleting = (await call(c.url, 'GET', `/api/v1/persistentvolumes/${pvName}`)).body
    return deleting.metadata?.deletionTimestamp !== undefined && JSON.stringify(deleting.metadata.finalizers) === '["weft.dev/local-path-cleanup"]'
  }, 30_000)
  t.equal(deleting.status.phase, 'Released')

  // The node's agent, with the node's own identity, finds it by label and lets it go.
  const asNode = new RestClient({ server: c.url, credentials: await userCredentials('system:node:node-1', ['system:nodes']) })
  const asOtherNode = new RestClient({ server: c.url, credentials: await userCredentials('system:node:node-2', ['system:nodes']) })
  t.teardown(() => Promise.all([asNode.close(), asOtherNode.close()]))
  const mine = await asNode.list<any>(info('PersistentVolume'), { labelSelector: 'weft.dev/local-path-node=node-1' })
  t.same(mine.items.map((v: any) => v.metadata.name), [pvName])
  await t.rejects(asNode.list(info('PersistentVolume')), { code: 403 }, 'not every volume')
  await t.rejects(asOtherNode.update(info('PersistentVolume'), { ...deleting, metadata: { ...deleting.metadata, finalizers: [] } }), { code: 403 }, "another node may not free it")
  await t.rejects(asNode.update(info('PersistentVolume'), { ...deleting, metadata: { ...deleting.metadata, finalizers: [] }, spec: { ...deleting.spec, persistentVolumeReclaimPolicy: 'Retain' } }), { code: 403 }, 'nor change anything else')
  await asNode.update(info('PersistentVolume'), { ...deleting, metadata: { ...deleting.metadata, finalizers: [] } })
  t.equal((await call(c.url, 'GET', `/api/v1/persistentvolumes/${pvName}`)).status, 404, 'gone')
})

t.test('Immediate binding of volumes made by hand: the smallest fit, pre-binding, and Retain', async (t) => {
  const c = await startCluster(t)
  const pv = (name: string, storage: string, extra: Record<string, unknown> = {}) =>
    call(c.url, 'POST', '/api/v1/persistentvolumes', { metadata: { name }, spec: { capacity: { storage }, accessModes: ['ReadWriteOnce'], hostPath: { path: `/srv/${name}` }, storageClassName: '', ...extra } })
  for (const [name, size] of [['small', '1Gi'], ['medium', '5Gi'], ['large', '10Gi']] as const) t.equal((await pv(name, size)).status, 201)
  t.equal((await pv('reserved', '20Gi', { claimRef: { namespace: 'default', name: 'named' } })).status, 201)
  const bad = await pv('bad', '0')
  t.equal(bad.status, 422)
  t.match(bad.body.message, /spec\.capacity\[storage\]: Invalid value: "0": must be greater than zero/)

  t.equal((await call(c.url, 'POST', claims, claim('fits', '2Gi', { storageClassName: '' }))).status, 201)
  t.equal((await call(c.url, 'POST', claims, claim('named', '1Gi', { storageClassName: '' }))).status, 201)
  const phaseOf = async (name: string) => (await call(c.url, 'GET', `${claims}/${name}`)).body
  await until('both claims bound', async () => (await phaseOf('fits')).status.phase === 'Bound' && (await phaseOf('named')).status.phase === 'Bound')
  t.equal((await phaseOf('fits')).spec.volumeName, 'medium', 'the smallest volume that holds 2Gi')
  t.equal((await phaseOf('named')).spec.volumeName, 'reserved', 'the volume pre-bound to it')
  const medium = (await call(c.url, 'GET', '/api/v1/persistentvolumes/medium')).body
  t.equal(medium.metadata.annotations['pv.kubernetes.io/bound-by-controller'], 'yes')
  t.equal(medium.spec.claimRef.name, 'fits')

  const grow = await call(c.url, 'PATCH', `${claims}/fits`, { spec: { resources: { requests: { storage: '3Gi' } } } }, { 'content-type': 'application/merge-patch+json' })
  t.equal(grow.status, 403)
  t.match(grow.body.message, /only dynamically provisioned pvc can be resized/)

  t.equal((await call(c.url, 'DELETE', `${claims}/fits`)).status, 200)
  await until('Retain: the volume Released and kept', async () => (await call(c.url, 'GET', '/api/v1/persistentvolumes/medium')).body.status?.phase === 'Released')
  await new Promise((r) => setTimeout(r, 300))
  t.equal((await call(c.url, 'GET', '/api/v1/persistentvolumes/medium')).status, 200)
  t.equal((await call(c.url, 'POST', claims, claim('again', '2Gi', { storageClassName: '' }))).status, 201)
  await until('a new claim binds elsewhere', async () => (await phaseOf('again')).status.phase === 'Bound')
  t.equal((await phaseOf('again')).spec.volumeName, 'large', 'a Released volume is not handed out again')
})
