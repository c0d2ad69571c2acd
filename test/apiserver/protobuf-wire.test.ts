// Responses in Kubernetes protobuf when the client asks for them first: objects, lists,
// errors and watch events, decoded back with weft's decoder; JSON where the client prefers
// it, and Tables always as JSON.
import t from 'tap'
import { decodeProtobufObject } from '../../src/api/protobuf/index.ts'
import { ProtoReader } from '../../src/api/protobuf/reader.ts'
import { adminFetch, call, startTestServer } from '../helpers/apiserver.ts'
import { encodeObject } from '../helpers/protobuf.ts'

const protobuf = 'application/vnd.kubernetes.protobuf'
const clientGo = `${protobuf},application/json`

const { url } = await startTestServer(t)

async function raw(method: string, path: string, init: { body?: Buffer; accept?: string; contentType?: string } = {}) {
  const res = await adminFetch(url + path, {
    method,
    headers: { accept: init.accept ?? clientGo, ...(init.body ? { 'content-type': init.contentType ?? protobuf } : {}) },
    body: init.body,
  })
  return { status: res.status, type: res.headers.get('content-type'), bytes: Buffer.from(await res.arrayBuffer()) }
}

const configMap = (name: string, data: Record<string, string>) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, labels: { app: 'wire' } }, data })

t.test('create, get and update in protobuf both ways', async (t) => {
  const created = await raw('POST', '/api/v1/namespaces/default/configmaps', { body: encodeObject(configMap('pb', { a: '1', empty: '' })) })
  t.equal(created.status, 201, created.bytes.toString())
  t.equal(created.type, protobuf)
  const obj = decodeProtobufObject(created.bytes) as any
  t.equal(obj.kind, 'ConfigMap')
  t.same(obj.data, { a: '1', empty: '' })
  t.match(obj.metadata, { name: 'pb', namespace: 'default', labels: { app: 'wire' }, resourceVersion: /^\d+$/, uid: /./, creationTimestamp: /^\d{4}-/ })

  const got = await raw('GET', '/api/v1/namespaces/default/configmaps/pb')
  t.equal(got.type, protobuf)
  t.same(decodeProtobufObject(got.bytes), obj, 'GET answers what the create answered')
  const asJson = await call(url, 'GET', '/api/v1/namespaces/default/configmaps/pb')
  t.same(asJson.body, obj, 'the JSON answer is the same object')

  const update = await raw('PUT', '/api/v1/namespaces/default/configmaps/pb', { body: encodeObject({ ...obj, data: { a: '2' } }) })
  t.equal(update.status, 200, update.bytes.toString())
  t.same((decodeProtobufObject(update.bytes) as any).data, { a: '2' })

  const jsonFirst = await raw('GET', '/api/v1/namespaces/default/configmaps/pb', { accept: `application/json,${protobuf}` })
  t.equal(jsonFirst.type, 'application/json', 'the first clause the client names wins')
})

t.test('a Deployment keeps replicas 0, IntOrString and quantities through protobuf', async (t) => {
  const deployment = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'zero' },
    spec: {
      replicas: 0,
      selector: { matchLabels: { app: 'zero' } },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '50%', maxUnavailable: 0 } },
      template: {
        metadata: { labels: { app: 'zero' } },
        spec: { containers: [{ name: 'c', image: 'registry.k8s.io/pause:3.10', ports: [{ containerPort: 80 }], resources: { requests: { cpu: '250m', memory: '64Mi' } }, readinessProbe: { httpGet: { path: '/', port: 'http' } } }] },
      },
    },
  }
  const created = await raw('POST', '/apis/apps/v1/namespaces/default/deployments', { body: encodeObject(deployment) })
  t.equal(created.status, 201, created.bytes.toString())
  const obj = decodeProtobufObject(created.bytes) as any
  t.equal(obj.spec.replicas, 0, 'a pointer field keeps its zero')
  t.same(obj.spec.strategy.rollingUpdate, { maxSurge: '50%', maxUnavailable: 0 })
  t.same(obj.spec.template.spec.containers[0].resources.requests, { cpu: '250m', memory: '64Mi' })
  t.same(obj.spec.template.spec.containers[0].readinessProbe.httpGet, { path: '/', port: 'http', scheme: 'HTTP' }, 'the inlined probe handler, defaulted')
  const asJson = await call(url, 'GET', '/apis/apps/v1/namespaces/default/deployments/zero')
  t.same(decodeProtobufObject((await raw('GET', '/apis/apps/v1/namespaces/default/deployments/zero')).bytes), asJson.body)
})

t.test('lists: a protobuf list message whose items are the JSON list\'s items', async (t) => {
  for (let i = 0; i < 3; i++) await call(url, 'POST', '/api/v1/namespaces/default/configmaps', configMap(`list-${i}`, { i: String(i) }))
  const list = await raw('GET', '/api/v1/namespaces/default/configmaps?labelSelector=app%3Dwire')
  t.equal(list.status, 200)
  t.equal(list.type, protobuf)
  const decoded = decodeProtobufObject(list.bytes) as any
  const json = (await call(url, 'GET', '/api/v1/namespaces/default/configmaps?labelSelector=app%3Dwire')).body
  t.equal(decoded.kind, 'ConfigMapList')
  t.equal(decoded.metadata.resourceVersion, json.metadata.resourceVersion)
  t.same(decoded.items, json.items.map(({ apiVersion: _v, kind: _k, ...item }: Record<string, unknown>) => item), 'list items carry no type in protobuf, as upstream')
  t.ok(decoded.items.length >= 4)
  const page = decodeProtobufObject((await raw('GET', '/api/v1/namespaces/default/configmaps?limit=1')).bytes) as any
  t.equal(page.items.length, 1)
  t.match(page.metadata, { continue: /./, remainingItemCount: Number })
})

t.test('errors are protobuf Status objects when protobuf comes first', async (t) => {
  const missing = await raw('GET', '/api/v1/namespaces/default/configmaps/nope')
  t.equal(missing.status, 404)
  t.equal(missing.type, protobuf)
  t.match(decodeProtobufObject(missing.bytes), { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404, details: { name: 'nope', kind: 'configmaps' } })
  const invalid = await raw('POST', '/api/v1/namespaces/default/configmaps', { body: encodeObject(configMap('Bad_Name', {})) })
  t.equal(invalid.status, 422)
  t.match(decodeProtobufObject(invalid.bytes), { kind: 'Status', reason: 'Invalid', code: 422, details: { causes: [{ field: 'metadata.name' }] } })
  const wrongKind = await raw('POST', '/api/v1/namespaces/default/configmaps', { body: encodeObject({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 's' } }) })
  t.equal(wrongKind.status, 400)
  t.match(decodeProtobufObject(wrongKind.bytes), { reason: 'BadRequest', message: /the body is a Secret \(v1\), but this request takes a ConfigMap/ })
  const jsonClient = await call(url, 'GET', '/api/v1/namespaces/default/configmaps/nope')
  t.equal(jsonClient.body.reason, 'NotFound', 'JSON clients still get JSON')
  const patch = await raw('PATCH', '/api/v1/namespaces/default/configmaps/pb', { body: encodeObject(configMap('pb', {})) })
  t.equal(patch.status, 415, 'a patch is never protobuf, as upstream')
})

t.test('a Table is JSON only; PartialObjectMetadata may be protobuf', async (t) => {
  const table = await raw('GET', '/api/v1/namespaces/default/configmaps', { accept: `${protobuf};as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1;g=meta.k8s.io` })
  t.equal(table.type, 'application/json')
  t.equal(JSON.parse(table.bytes.toString()).kind, 'Table', 'the protobuf Table clause is passed over')
  const partial = await raw('GET', '/api/v1/namespaces/default/configmaps/pb', { accept: `${protobuf};as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json` })
  t.equal(partial.type, protobuf)
  t.match(decodeProtobufObject(partial.bytes), { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: { name: 'pb' } })
})

t.test('DeleteOptions in protobuf, as client-go sends them', async (t) => {
  await call(url, 'POST', '/api/v1/namespaces/default/configmaps', configMap('doomed', {}))
  const current = (await call(url, 'GET', '/api/v1/namespaces/default/configmaps/doomed')).body
  const stale = await raw('DELETE', '/api/v1/namespaces/default/configmaps/doomed', { body: encodeObject({ apiVersion: 'v1', kind: 'DeleteOptions', preconditions: { uid: 'not-the-uid' } }) })
  t.equal(stale.status, 409, 'the precondition in the protobuf body was read')
  const gone = await raw('DELETE', '/api/v1/namespaces/default/configmaps/doomed', { body: encodeObject({ apiVersion: 'meta.k8s.io/v1', kind: 'DeleteOptions', preconditions: { uid: current.metadata.uid }, gracePeriodSeconds: 0 }) })
  t.equal(gone.status, 200, gone.bytes.toString())
  t.match(decodeProtobufObject(gone.bytes), { kind: 'Status', status: 'Success' })
  const notOptions = await raw('DELETE', '/api/v1/namespaces/default/configmaps/pb', { body: encodeObject(configMap('pb', {})) })
  t.equal(notOptions.status, 400)
})

/** Splits a protobuf watch stream into its events: 4-byte big-endian lengths, then metav1.WatchEvent. */
function* watchEvents(bytes: Buffer): Generator<{ type: string; object: Record<string, unknown> }> {
  let at = 0
  while (at + 4 <= bytes.length) {
    const length = bytes.readUInt32BE(at)
    if (at + 4 + length > bytes.length) return
    const reader = new ProtoReader(bytes.subarray(at + 4, at + 4 + length))
    at += 4 + length
    let type = ''
    let object: Record<string, unknown> = {}
    while (!reader.done) {
      const { field, wireType } = reader.tag()
      if (field === 1) type = Buffer.from(reader.bytes()).toString()
      else if (field === 2) {
        const extension = reader.message()
        while (!extension.done) {
          const inner = extension.tag()
          if (inner.field === 1) object = decodeProtobufObject(Buffer.from(extension.bytes()))
          else extension.skip(inner.wireType)
        }
      } else reader.skip(wireType)
    }
    yield { type, object }
  }
}

t.test('watch: length-prefixed WatchEvents with enveloped objects, bookmarks included', async (t) => {
  const list = (await call(url, 'GET', '/api/v1/namespaces/default/configmaps')).body
  const abort = new AbortController()
  const res = await adminFetch(`${url}/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=${list.metadata.resourceVersion}&allowWatchBookmarks=true`, { headers: { accept: clientGo }, signal: abort.signal })
  t.equal(res.headers.get('content-type'), `${protobuf};stream=watch`)
  const chunks: Buffer[] = []
  const reading = (async () => {
    try {
      for await (const chunk of res.body!) chunks.push(Buffer.from(chunk))
    } catch {}
  })()
  await call(url, 'POST', '/api/v1/namespaces/default/configmaps', configMap('watched', { w: '1' }))
  await call(url, 'DELETE', '/api/v1/namespaces/default/configmaps/watched')
  const deadline = Date.now() + 5000
  while ([...watchEvents(Buffer.concat(chunks))].length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
  abort.abort()
  await reading
  const events = [...watchEvents(Buffer.concat(chunks))]
  t.same(events.map((e) => `${e.type} ${(e.object.metadata as any).name}`), ['ADDED watched', 'DELETED watched'])
  t.match(events[0].object, { kind: 'ConfigMap', apiVersion: 'v1', data: { w: '1' } })
  const jsonWatch = await adminFetch(`${url}/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=${list.metadata.resourceVersion}&timeoutSeconds=1`)
  t.equal(jsonWatch.headers.get('content-type'), 'application/json', 'a JSON watch stays JSON')
  const lines = (await jsonWatch.text()).trim().split('\n').map((l) => JSON.parse(l))
  t.same(lines.map((l) => l.type), ['ADDED', 'DELETED'])
  t.same(events.map((e) => e.object), lines.map((l) => l.object), 'the same objects in both formats')
})
