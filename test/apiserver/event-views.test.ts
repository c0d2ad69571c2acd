// events.k8s.io/v1 Events are core Events in another shape: one stored object, served in
// both groups, converted on the way in and out (create, get, list, watch, patch, delete,
// field selectors, protobuf, Tables).
import t from 'tap'
import { eventFromCore, eventToCore, validateNewEvent } from '../../src/api/conversion/events.ts'
import { decodeProtobufObject } from '../../src/api/protobuf/index.ts'
import { adminFetch, call, startTestServer } from '../helpers/apiserver.ts'

const core = {
  apiVersion: 'v1',
  kind: 'Event',
  metadata: { name: 'web.1', namespace: 'default' },
  involvedObject: { kind: 'Pod', namespace: 'default', name: 'web', uid: 'u1', apiVersion: 'v1' },
  reason: 'Started',
  message: 'Started container c',
  source: { component: 'kubelet', host: 'n1' },
  firstTimestamp: '2026-12-07T01:00:00Z',
  lastTimestamp: '2026-12-07T01:00:05Z',
  count: 2,
  type: 'Normal',
  reportingComponent: 'kubelet',
  reportingInstance: 'n1',
}

t.test('the two shapes convert both ways without loss', async (t) => {
  const view = eventFromCore(core)
  t.match(view, {
    apiVersion: 'events.k8s.io/v1',
    regarding: core.involvedObject,
    note: core.message,
    reportingController: 'kubelet',
    deprecatedSource: core.source,
    deprecatedFirstTimestamp: core.firstTimestamp,
    deprecatedLastTimestamp: core.lastTimestamp,
    deprecatedCount: 2,
  })
  t.notOk('message' in view || 'involvedObject' in view)
  t.same(eventToCore(view), core)
})

t.test('a new events.k8s.io/v1 Event needs a time, a type and who reported it', async (t) => {
  t.same(validateNewEvent({ eventTime: '2026-12-07T01:00:00.000000Z', type: 'Normal', reportingController: 'x', reportingInstance: 'y', action: 'a', reason: 'r' }), [])
  const causes = validateNewEvent({ type: 'Loud', deprecatedCount: 3, deprecatedSource: { component: 'c' } }).map((c) => `${c.field}: ${c.message}`)
  t.same(causes, [
    'eventTime: Required value',
    'type: Invalid value: "": has invalid value: Loud',
    'reportingController: Required value',
    'reportingInstance: Required value',
    'action: Required value',
    'reason: Required value',
    'deprecatedCount: Invalid value: "": needs to be unset',
    'deprecatedSource: Invalid value: "": needs to be unset',
  ])
})

t.test('served in both groups over one stored object', async (t) => {
  const { url } = await startTestServer(t)
  const created = await call(url, 'POST', '/apis/events.k8s.io/v1/namespaces/default/events', {
    apiVersion: 'events.k8s.io/v1',
    kind: 'Event',
    metadata: { name: 'scaled.1' },
    eventTime: '2026-12-07T01:02:03.000000Z',
    reportingController: 'weft.dev/test',
    reportingInstance: 'test-1',
    action: 'Scale',
    reason: 'ScalingReplicaSet',
    regarding: { kind: 'Deployment', namespace: 'default', name: 'web', apiVersion: 'apps/v1' },
    note: 'Scaled up to 3',
    type: 'Normal',
  })
  t.equal(created.status, 201, JSON.stringify(created.body))
  t.match(created.body, { apiVersion: 'events.k8s.io/v1', kind: 'Event', note: 'Scaled up to 3', regarding: { name: 'web' }, metadata: { resourceVersion: /^\d+$/ } })
  const asCore = await call(url, 'GET', '/api/v1/namespaces/default/events/scaled.1')
  t.match(asCore.body, { apiVersion: 'v1', kind: 'Event', message: 'Scaled up to 3', involvedObject: { kind: 'Deployment', name: 'web' }, reportingComponent: 'weft.dev/test' })
  t.equal(asCore.body.metadata.resourceVersion, created.body.metadata.resourceVersion, 'the same stored object')

  await call(url, 'POST', '/api/v1/namespaces/default/events', core)
  const listed = await call(url, 'GET', '/apis/events.k8s.io/v1/namespaces/default/events')
  t.equal(listed.body.kind, 'EventList')
  t.equal(listed.body.apiVersion, 'events.k8s.io/v1')
  t.same(listed.body.items.map((e: any) => `${e.metadata.name}: ${e.note}`).sort(), ['scaled.1: Scaled up to 3', 'web.1: Started container c'])
  const selected = await call(url, 'GET', '/apis/events.k8s.io/v1/namespaces/default/events?fieldSelector=regarding.name%3Dweb,regarding.kind%3DPod')
  t.same(selected.body.items.map((e: any) => e.metadata.name), ['web.1'], 'events.k8s.io field labels select')

  const missing = await call(url, 'POST', '/apis/events.k8s.io/v1/namespaces/default/events', { apiVersion: 'events.k8s.io/v1', kind: 'Event', metadata: { name: 'bare' }, note: 'x' })
  t.equal(missing.status, 422)
  t.match(missing.body.message, /eventTime: Required value/)
  const wrongGroup = await call(url, 'POST', '/apis/events.k8s.io/v1/namespaces/default/events', { ...core, metadata: { name: 'x' } })
  t.equal(wrongGroup.status, 400, 'a core Event sent to events.k8s.io is refused by its apiVersion')

  const patched = await call(url, 'PATCH', '/apis/events.k8s.io/v1/namespaces/default/events/scaled.1', { note: 'Scaled up to 4' }, { 'content-type': 'application/merge-patch+json' })
  t.equal(patched.status, 200, JSON.stringify(patched.body))
  t.equal(patched.body.note, 'Scaled up to 4', 'the patch applies to the events.k8s.io shape')
  t.equal((await call(url, 'GET', '/api/v1/namespaces/default/events/scaled.1')).body.message, 'Scaled up to 4')
  const strategic = await call(url, 'PATCH', '/apis/events.k8s.io/v1/namespaces/default/events/scaled.1', { regarding: { fieldPath: 'spec' } }, { 'content-type': 'application/strategic-merge-patch+json' })
  t.match(strategic.body.regarding, { name: 'web', fieldPath: 'spec' })

  const table = await call(url, 'GET', '/apis/events.k8s.io/v1/namespaces/default/events', undefined, { accept: 'application/json;as=Table;v=v1;g=meta.k8s.io' })
  t.equal(table.body.kind, 'Table')
  t.equal(table.body.rows.length, 2)
  const proto = await adminFetch(`${url}/apis/events.k8s.io/v1/namespaces/default/events/scaled.1`, { headers: { accept: 'application/vnd.kubernetes.protobuf' } })
  t.match(decodeProtobufObject(Buffer.from(await proto.arrayBuffer())), { apiVersion: 'events.k8s.io/v1', kind: 'Event', note: 'Scaled up to 4' })

  const gone = await call(url, 'DELETE', '/apis/events.k8s.io/v1/namespaces/default/events/scaled.1')
  t.equal(gone.status, 200)
  t.equal((await call(url, 'GET', '/api/v1/namespaces/default/events/scaled.1')).status, 404)
  t.equal((await call(url, 'GET', '/apis/events.k8s.io/v1/namespaces/default/events/scaled.1/status')).status, 404, 'no subresources')
})

t.test('watching events.k8s.io/v1: converted events and bookmarks of its own type', async (t) => {
  const { url } = await startTestServer(t)
  const start = (await call(url, 'GET', '/api/v1/namespaces/default/events')).body.metadata.resourceVersion
  const res = await adminFetch(`${url}/apis/events.k8s.io/v1/namespaces/default/events?watch=true&resourceVersion=${start}&timeoutSeconds=1&allowWatchBookmarks=true`)
  await call(url, 'POST', '/api/v1/namespaces/default/events', core)
  const lines = (await res.text()).trim().split('\n').map((l) => JSON.parse(l))
  const added = lines.find((l) => l.type === 'ADDED')
  t.match(added?.object, { apiVersion: 'events.k8s.io/v1', kind: 'Event', note: 'Started container c', regarding: { name: 'web' } })
  const discovery = await call(url, 'GET', '/apis/events.k8s.io/v1')
  t.match(discovery.body.resources, [{ name: 'events', kind: 'Event', namespaced: true }])
})
