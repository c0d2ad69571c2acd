import t from 'tap'
import { call, startTestServer } from '../helpers/apiserver.ts'

const pod = (name: string, extra: Record<string, unknown> = {}) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, labels: { app: 'web', tier: name.endsWith('1') ? 'front' : 'back' } },
  spec: { containers: [{ name: 'c', image: 'weft/echo' }] },
  ...extra,
})

t.test('create, get, update, delete a Pod with Kubernetes semantics', async (t) => {
  const { url } = await startTestServer(t)
  const created = await call(url, 'POST', '/api/v1/namespaces/default/pods', pod('p1'))
  t.equal(created.status, 201)
  const meta = created.body.metadata
  t.match(meta.uid, /^[0-9a-f-]{36}$/)
  t.match(meta.creationTimestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/)
  t.equal(meta.generation, 1)
  t.equal(meta.namespace, 'default')
  t.equal(created.body.spec.restartPolicy, 'Always', 'defaults applied')
  t.equal(created.body.spec.containers[0].imagePullPolicy, 'Always')
  t.equal(created.body.status.phase, 'Pending')

  const got = await call(url, 'GET', '/api/v1/namespaces/default/pods/p1')
  t.equal(got.status, 200)
  t.same(got.body, created.body)

  const dup = await call(url, 'POST', '/api/v1/namespaces/default/pods', pod('p1'))
  t.equal(dup.status, 409)
  t.equal(dup.body.reason, 'AlreadyExists')
  t.equal(dup.body.message, 'pods "p1" already exists')

  const next = structuredClone(got.body)
  next.metadata.labels.extra = 'yes'
  const updated = await call(url, 'PUT', '/api/v1/namespaces/default/pods/p1', next)
  t.equal(updated.status, 200)
  t.equal(updated.body.metadata.labels.extra, 'yes')
  t.ok(Number(updated.body.metadata.resourceVersion) > Number(meta.resourceVersion))

  const stale = await call(url, 'PUT', '/api/v1/namespaces/default/pods/p1', next)
  t.equal(stale.status, 409, 'a stale resourceVersion is a conflict')
  t.equal(stale.body.reason, 'Conflict')

  const deleted = await call(url, 'DELETE', '/api/v1/namespaces/default/pods/p1')
  t.equal(deleted.status, 200)
  const gone = await call(url, 'GET', '/api/v1/namespaces/default/pods/p1')
  t.equal(gone.status, 404)
  t.equal(gone.body.kind, 'Status')
  t.equal(gone.body.reason, 'NotFound')
  t.equal(gone.body.message, 'pods "p1" not found')
})

t.test('fields weft does not act on are kept and returned', async (t) => {
  const { url } = await startTestServer(t)
  const body = pod('keep', {})
  ;(body.spec as any).containers[0].securityContext = { runAsUser: 1000, capabilities: { drop: ['ALL'] } }
  ;(body.spec as any).priorityClassName = 'system-cluster-critical'
  ;(body.metadata as any).annotations = { 'example.com/x': 'y' }
  const res = await call(url, 'POST', '/api/v1/namespaces/default/pods', body)
  t.equal(res.status, 201)
  t.same(res.body.spec.containers[0].securityContext, { runAsUser: 1000, capabilities: { drop: ['ALL'] } })
  t.equal(res.body.spec.priorityClassName, 'system-cluster-critical')
  t.equal(res.body.spec.priority, 2000000000, 'the Priority admission plugin set its priority')
  t.same(res.body.metadata.annotations, { 'example.com/x': 'y' })
})

t.test('bad input gets a Status and nothing is stored', async (t) => {
  const { url } = await startTestServer(t)
  const invalid = await call(url, 'POST', '/api/v1/namespaces/default/services', {
    metadata: { name: 'Bad_Name' },
    spec: { ports: [{ port: 70000, protocol: 'SCTPX' }] },
  })
  t.equal(invalid.status, 422)
  t.equal(invalid.body.reason, 'Invalid')
  const fields = invalid.body.details.causes.map((c: { field: string }) => c.field)
  t.ok(fields.includes('metadata.name'), 'names the bad name')
  t.ok(fields.includes('spec.ports[0].port'), 'names the bad port')
  t.ok(fields.includes('spec.ports[0].protocol'), 'names the bad protocol')
  const list = await call(url, 'GET', '/api/v1/namespaces/default/services')
  t.same(list.body.items.map((s: any) => s.metadata.name), ['kubernetes'], 'nothing stored')

  const malformed = await call(url, 'POST', '/api/v1/namespaces/default/pods', '{"metadata": {"name": ')
  t.equal(malformed.status, 400)
  t.equal(malformed.body.reason, 'BadRequest')
  t.match(malformed.body.message, /not valid JSON/)

  const yaml = await call(url, 'POST', '/api/v1/namespaces/default/configmaps', 'metadata: {name: x\n  - broken', { 'content-type': 'application/yaml' })
  t.equal(yaml.status, 400)

  const huge = await call(url, 'POST', '/api/v1/namespaces/default/configmaps', { metadata: { name: 'big' }, data: { x: 'a'.repeat(4 * 1024 * 1024) } })
  t.equal(huge.status, 413)
  t.equal(huge.body.reason, 'RequestEntityTooLarge')

  const protobuf = await call(url, 'POST', '/api/v1/namespaces/default/configmaps', 'k8s\u0000...', { 'content-type': 'application/vnd.kubernetes.protobuf' })
  t.equal(protobuf.status, 400, 'malformed protobuf is a bad request')
  t.match(protobuf.body.message, /not valid Kubernetes protobuf: invalid wire type 6/)

  const unknownKind = await call(url, 'GET', '/apis/example.com/v1/widgets')
  t.equal(unknownKind.status, 404)
  t.equal(unknownKind.body.kind, 'Status')

  const wrongKind = await call(url, 'POST', '/api/v1/namespaces/default/pods', { apiVersion: 'v1', kind: 'Service', metadata: { name: 'x' } })
  t.equal(wrongKind.status, 400)
  t.match(wrongKind.body.message, /kind in the data \(Service\) does not match the expected kind \(Pod\)/)

  const noNs = await call(url, 'POST', '/api/v1/namespaces/nowhere/pods', pod('p'))
  t.equal(noNs.status, 404)
  t.equal(noNs.body.message, 'namespaces "nowhere" not found')

  const ok = await call(url, 'GET', '/healthz')
  t.equal(ok.status, 200, 'the server keeps serving')
})

t.test('strict field validation reports misspelt fields like kubectl users expect', async (t) => {
  const { url } = await startTestServer(t)
  const body = pod('typo')
  ;(body.spec as any).containers[0].imagee = 'x'
  const strict = await call(url, 'POST', '/api/v1/namespaces/default/pods?fieldValidation=Strict', body)
  t.equal(strict.status, 400)
  t.match(strict.body.message, /strict decoding error: unknown field "spec.containers\[0\].imagee"/)
  const warn = await call(url, 'POST', '/api/v1/namespaces/default/pods?fieldValidation=Warn', body)
  t.equal(warn.status, 201)
  t.match(warn.headers.get('warning'), /unknown field \\"spec.containers\[0\].imagee\\"/)
})

t.test('list with label and field selectors, limit and continue', async (t) => {
  const { url } = await startTestServer(t)
  for (let i = 0; i < 7; i++) {
    const p = pod(`p${i}`)
    if (i % 2 === 0) (p.spec as any).nodeName = 'node-a'
    t.equal((await call(url, 'POST', '/api/v1/namespaces/default/pods', p)).status, 201)
  }
  const names = (body: any) => body.items.map((p: any) => p.metadata.name)
  t.same(names((await call(url, 'GET', '/api/v1/namespaces/default/pods?labelSelector=tier%3Dfront')).body), ['p1'])
  t.same(names((await call(url, 'GET', '/api/v1/namespaces/default/pods?labelSelector=tier%20notin%20(front)')).body), ['p0', 'p2', 'p3', 'p4', 'p5', 'p6'])
  t.same(names((await call(url, 'GET', '/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-a')).body), ['p0', 'p2', 'p4', 'p6'])
  t.same(names((await call(url, 'GET', '/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-a,metadata.name!%3Dp2')).body), ['p0', 'p4', 'p6'])
  const badSel = await call(url, 'GET', '/api/v1/pods?fieldSelector=spec.bogus%3D1')
  t.equal(badSel.status, 400)

  const first = await call(url, 'GET', '/api/v1/namespaces/default/pods?limit=3')
  t.same(names(first.body), ['p0', 'p1', 'p2'])
  t.ok(first.body.metadata.continue)
  t.equal(first.body.metadata.remainingItemCount, 4)
  // A write between pages does not show: pages are read at the first page's revision.
  await call(url, 'POST', '/api/v1/namespaces/default/pods', pod('p9'))
  const second = await call(url, 'GET', `/api/v1/namespaces/default/pods?limit=3&continue=${first.body.metadata.continue}`)
  t.same(names(second.body), ['p3', 'p4', 'p5'])
  const third = await call(url, 'GET', `/api/v1/namespaces/default/pods?limit=3&continue=${second.body.metadata.continue}`)
  t.same(names(third.body), ['p6'])
  t.notOk(third.body.metadata.continue)
  t.equal(third.body.metadata.resourceVersion, first.body.metadata.resourceVersion)

  const filteredPage = await call(url, 'GET', '/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-a&limit=2')
  t.same(names(filteredPage.body), ['p0', 'p2'])
  const filteredNext = await call(url, 'GET', `/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-a&limit=2&continue=${filteredPage.body.metadata.continue}`)
  t.same(names(filteredNext.body), ['p4', 'p6'])

  const badContinue = await call(url, 'GET', '/api/v1/pods?limit=2&continue=garbage')
  t.equal(badContinue.status, 400)
})

t.test('status, scale and binding subresources', async (t) => {
  const { url } = await startTestServer(t)
  const dep = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'd' },
    spec: { selector: { matchLabels: { app: 'd' } }, template: { metadata: { labels: { app: 'd' } }, spec: { containers: [{ name: 'c', image: 'x:1' }] } } },
    status: { replicas: 99 },
  }
  const created = await call(url, 'POST', '/apis/apps/v1/namespaces/default/deployments', dep)
  t.equal(created.status, 201)
  t.notOk(created.body.status?.replicas, 'status from the user is dropped on create')
  t.equal(created.body.spec.replicas, 1)

  const withStatus = structuredClone(created.body)
  withStatus.status = { replicas: 1, readyReplicas: 1 }
  withStatus.spec.replicas = 7
  const st = await call(url, 'PUT', '/apis/apps/v1/namespaces/default/deployments/d/status', withStatus)
  t.equal(st.status, 200)
  t.equal(st.body.status.readyReplicas, 1)
  t.equal(st.body.spec.replicas, 1, 'a status write does not change spec')
  t.equal(st.body.metadata.generation, 1)

  const mainUpdate = structuredClone(st.body)
  mainUpdate.status = { replicas: 50 }
  mainUpdate.spec.replicas = 2
  const mu = await call(url, 'PUT', '/apis/apps/v1/namespaces/default/deployments/d', mainUpdate)
  t.equal(mu.body.status.replicas, 1, 'a main-resource write does not change status')
  t.equal(mu.body.metadata.generation, 2, 'spec change bumps generation')

  const scale = await call(url, 'GET', '/apis/apps/v1/namespaces/default/deployments/d/scale')
  t.equal(scale.body.kind, 'Scale')
  t.equal(scale.body.spec.replicas, 2)
  t.equal(scale.body.status.selector, 'app=d')
  const scaled = await call(url, 'PATCH', '/apis/apps/v1/namespaces/default/deployments/d/scale', { spec: { replicas: 4 } }, { 'content-type': 'application/merge-patch+json' })
  t.equal(scaled.status, 200)
  t.equal(scaled.body.spec.replicas, 4)
  t.equal((await call(url, 'GET', '/apis/apps/v1/namespaces/default/deployments/d')).body.spec.replicas, 4)

  await call(url, 'POST', '/api/v1/namespaces/default/pods', pod('b1'))
  const binding = { apiVersion: 'v1', kind: 'Binding', metadata: { name: 'b1' }, target: { apiVersion: 'v1', kind: 'Node', name: 'node-1' } }
  const bound = await call(url, 'POST', '/api/v1/namespaces/default/pods/b1/binding', binding)
  t.equal(bound.status, 201)
  t.equal((await call(url, 'GET', '/api/v1/namespaces/default/pods/b1')).body.spec.nodeName, 'node-1')
  const again = await call(url, 'POST', '/api/v1/namespaces/default/pods/b1/binding', { ...binding, target: { name: 'node-2' } })
  t.equal(again.status, 409)
  t.match(again.body.message, /already assigned to node "node-1"/)

  // A binding made for a pod that was since deleted and re-created under its name fails.
  const old = await call(url, 'POST', '/api/v1/namespaces/default/pods', pod('b2'))
  await call(url, 'DELETE', '/api/v1/namespaces/default/pods/b2?gracePeriodSeconds=0')
  const recreated = await call(url, 'POST', '/api/v1/namespaces/default/pods', pod('b2'))
  const stale = await call(url, 'POST', '/api/v1/namespaces/default/pods/b2/binding', { ...binding, metadata: { name: 'b2', uid: old.body.metadata.uid } })
  t.equal(stale.status, 409)
  t.equal(stale.body.message, `Operation cannot be fulfilled on pods "b2": Precondition failed: UID in precondition: ${old.body.metadata.uid}, UID in object meta: ${recreated.body.metadata.uid}`)
  t.notOk((await call(url, 'GET', '/api/v1/namespaces/default/pods/b2')).body.spec.nodeName, 'the new pod is left unbound')
  t.equal((await call(url, 'POST', '/api/v1/namespaces/default/pods/b2/binding', { ...binding, metadata: { name: 'b2', uid: recreated.body.metadata.uid } })).status, 201)

  // A gated pod is not ready for scheduling: binding it is refused until the gates are gone.
  await call(url, 'POST', '/api/v1/namespaces/default/pods', { ...pod('b3'), spec: { ...pod('b3').spec, schedulingGates: [{ name: 'example.com/wait' }] } })
  const refused = await call(url, 'POST', '/api/v1/namespaces/default/pods/b3/binding', { ...binding, metadata: { name: 'b3' } })
  t.equal(refused.status, 409)
  t.equal(refused.body.message, 'Operation cannot be fulfilled on pods/binding "b3": pod b3 has non-empty .spec.schedulingGates')
})

t.test('patch types: merge, JSON, strategic', async (t) => {
  const { url } = await startTestServer(t)
  const p = pod('pp')
  await call(url, 'POST', '/api/v1/namespaces/default/pods', p)
  const merge = await call(url, 'PATCH', '/api/v1/namespaces/default/pods/pp', { metadata: { labels: { tier: null, x: 'y' } } }, { 'content-type': 'application/merge-patch+json' })
  t.equal(merge.status, 200)
  t.same(merge.body.metadata.labels, { app: 'web', x: 'y' })
  const json = await call(url, 'PATCH', '/api/v1/namespaces/default/pods/pp', [{ op: 'replace', path: '/spec/containers/0/image', value: 'weft/echo:2' }], { 'content-type': 'application/json-patch+json' })
  t.equal(json.body.spec.containers[0].image, 'weft/echo:2')
  const failed = await call(url, 'PATCH', '/api/v1/namespaces/default/pods/pp', [{ op: 'test', path: '/spec/containers/0/image', value: 'nope' }], { 'content-type': 'application/json-patch+json' })
  t.ok(failed.status >= 400 && failed.status < 500, 'a failing JSON patch test is a client error')
  const forbidden = await call(url, 'PATCH', '/api/v1/namespaces/default/pods/pp', { spec: { containers: [{ name: 'c', env: [{ name: 'B', value: '2' }] }] } }, { 'content-type': 'application/strategic-merge-patch+json' })
  t.equal(forbidden.status, 422, 'pod spec fields other than images are immutable')

  const rs = {
    metadata: { name: 'rs' },
    spec: {
      selector: { matchLabels: { app: 'rs' } },
      template: { metadata: { labels: { app: 'rs' } }, spec: { containers: [{ name: 'c', image: 'c:1' }, { name: 'side', image: 'side:1', env: [{ name: 'A', value: '1' }] }] } },
    },
  }
  t.equal((await call(url, 'POST', '/apis/apps/v1/namespaces/default/replicasets', rs)).status, 201)
  const strategic = await call(url, 'PATCH', '/apis/apps/v1/namespaces/default/replicasets/rs', { spec: { template: { spec: { containers: [{ name: 'side', image: 'side:2', env: [{ name: 'B', value: '2' }] }] } } } }, { 'content-type': 'application/strategic-merge-patch+json' })
  t.equal(strategic.status, 200)
  const containers = strategic.body.spec.template.spec.containers
  t.same(containers.map((c: any) => `${c.name}=${c.image}`), ['c=c:1', 'side=side:2'], 'containers merged by name')
  // Kubernetes puts items named by the patch before server-only ones it cannot place.
  t.same(containers[1].env, [{ name: 'B', value: '2' }, { name: 'A', value: '1' }], 'env merged by name')
  const unsupported = await call(url, 'PATCH', '/api/v1/namespaces/default/pods/pp', {}, { 'content-type': 'text/plain' })
  t.equal(unsupported.status, 415)
})

t.test('finalizers hold deletion until they are removed; propagation policies', async (t) => {
  const { url } = await startTestServer(t)
  await call(url, 'POST', '/api/v1/namespaces/default/configmaps', { metadata: { name: 'f', finalizers: ['example.com/hold'] } })
  const del = await call(url, 'DELETE', '/api/v1/namespaces/default/configmaps/f')
  t.equal(del.status, 200)
  t.ok(del.body.metadata.deletionTimestamp, 'marked for deletion')
  const still = await call(url, 'GET', '/api/v1/namespaces/default/configmaps/f')
  t.equal(still.status, 200)
  const addFinalizer = await call(url, 'PATCH', '/api/v1/namespaces/default/configmaps/f', { metadata: { finalizers: ['example.com/hold', 'new'] } }, { 'content-type': 'application/merge-patch+json' })
  t.equal(addFinalizer.status, 422, 'no new finalizers while deleting')
  const release = await call(url, 'PATCH', '/api/v1/namespaces/default/configmaps/f', { metadata: { finalizers: null } }, { 'content-type': 'application/merge-patch+json' })
  t.equal(release.status, 200)
  t.equal((await call(url, 'GET', '/api/v1/namespaces/default/configmaps/f')).status, 404, 'removed with its last finalizer')

  await call(url, 'POST', '/api/v1/namespaces/default/configmaps', { metadata: { name: 'fg' } })
  const fg = await call(url, 'DELETE', '/api/v1/namespaces/default/configmaps/fg', { propagationPolicy: 'Foreground' })
  t.same(fg.body.metadata.finalizers, ['foregroundDeletion'])
  const orphan = await call(url, 'DELETE', '/api/v1/namespaces/default/configmaps/fg?propagationPolicy=Orphan')
  t.same(orphan.body.metadata.finalizers, ['orphan'], 'switching policy swaps the GC finalizer')
  const bad = await call(url, 'DELETE', '/api/v1/namespaces/default/configmaps/fg?propagationPolicy=Sideways')
  t.equal(bad.status, 400)

  await call(url, 'POST', '/api/v1/namespaces/default/configmaps', { metadata: { name: 'pre' } })
  const pre = await call(url, 'DELETE', '/api/v1/namespaces/default/configmaps/pre', { preconditions: { uid: 'not-the-uid' } })
  t.equal(pre.status, 409)
  t.match(pre.body.message, /Precondition failed: UID in precondition/)
})

t.test('generateName and dryRun', async (t) => {
  const { url } = await startTestServer(t)
  const gen = await call(url, 'POST', '/api/v1/namespaces/default/configmaps', { metadata: { generateName: 'cfg-' } })
  t.equal(gen.status, 201)
  t.match(gen.body.metadata.name, /^cfg-[a-z0-9]{5}$/)
  const dry = await call(url, 'POST', '/api/v1/namespaces/default/configmaps?dryRun=All', { metadata: { name: 'dry' } })
  t.equal(dry.status, 201)
  t.equal((await call(url, 'GET', '/api/v1/namespaces/default/configmaps/dry')).status, 404, 'dry run stores nothing')
})
