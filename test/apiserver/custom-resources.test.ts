// CustomResourceDefinitions served by the API server: the CRD's own validation and status,
// its resources (CRUD, list, watch, selectors, patches, status and scale), versions with
// conversion None, discovery, OpenAPI, Tables, and cleanup when the CRD is deleted.
import t from 'tap'
import { call, startTestServer } from '../helpers/apiserver.ts'

const crdPath = '/apis/apiextensions.k8s.io/v1/customresourcedefinitions'

function widgetCrd(extra: Record<string, unknown> = {}) {
  const schema = {
    type: 'object',
    properties: {
      spec: {
        type: 'object',
        required: ['size'],
        properties: {
          size: { type: 'integer', minimum: 1, maximum: 10 },
          color: { type: 'string', enum: ['red', 'blue'], default: 'red' },
          replicas: { type: 'integer', default: 1 },
          selector: { type: 'string' },
          tags: { type: 'array', maxItems: 3, items: { type: 'string' }, 'x-kubernetes-list-type': 'set' },
          free: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
          ports: {
            type: 'array',
            'x-kubernetes-list-type': 'map',
            'x-kubernetes-list-map-keys': ['name'],
            items: { type: 'object', required: ['name'], properties: { name: { type: 'string' }, port: { type: 'integer' } } },
          },
        },
      },
      status: { type: 'object', properties: { replicas: { type: 'integer' }, phase: { type: 'string' } } },
    },
  }
  const version = (name: string, storage: boolean) => ({
    name,
    served: true,
    storage,
    schema: { openAPIV3Schema: schema },
    subresources: { status: {}, scale: { specReplicasPath: '.spec.replicas', statusReplicasPath: '.status.replicas', labelSelectorPath: '.spec.selector' } },
    selectableFields: [{ jsonPath: '.spec.color' }],
    additionalPrinterColumns: [
      { name: 'Size', type: 'integer', jsonPath: '.spec.size' },
      { name: 'Color', type: 'string', jsonPath: '.spec.color' },
      { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
    ],
  })
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: 'widgets.example.com' },
    spec: {
      group: 'example.com',
      names: { plural: 'widgets', singular: 'widget', kind: 'Widget', shortNames: ['wd'], categories: ['all'] },
      scope: 'Namespaced',
      versions: [version('v1', true), version('v1beta1', false)],
    },
    ...extra,
  }
}

const widget = (name: string, spec: Record<string, unknown>, apiVersion = 'example.com/v1') => ({ apiVersion, kind: 'Widget', metadata: { name, labels: { app: name } }, spec })

async function until<T>(fn: () => Promise<T | undefined>, ms = 5000): Promise<T> {
  const end = Date.now() + ms
  for (;;) {
    const v = await fn()
    if (v !== undefined) return v
    if (Date.now() > end) throw new Error('timed out')
    await new Promise((r) => setTimeout(r, 25))
  }
}

t.test('a CRD is validated, gets its status, and serves its resources', async (t) => {
  const { url } = await startTestServer(t)
  const bad = widgetCrd()
  ;(bad.spec as any).group = 'example'
  ;(bad.spec as any).versions[1].storage = true
  const refused = await call(url, 'POST', crdPath, bad)
  t.equal(refused.status, 422)
  t.match(refused.body.message, /spec\.group: Invalid value: "example": should be a domain with at least one dot/)
  t.match(refused.body.message, /must have exactly one version marked as storage version/)
  t.match(refused.body.message, /metadata\.name: Invalid value: "widgets\.example\.com": must be spec\.names\.plural\+"\."\+spec\.group/)

  const untyped = widgetCrd()
  ;(untyped.spec as any).versions[0].schema.openAPIV3Schema.properties.spec.properties.size = { minimum: 1 }
  const notStructural = await call(url, 'POST', crdPath, untyped)
  t.equal(notStructural.status, 422)
  t.match(notStructural.body.message, /spec\.versions\[0\]\.schema\.openAPIV3Schema\.properties\[spec\]\.properties\[size\]\.type: Required value/)

  const created = await call(url, 'POST', crdPath, widgetCrd())
  t.equal(created.status, 201, JSON.stringify(created.body))
  t.same(created.body.status.storedVersions, ['v1'])
  t.notOk(created.body.metadata.finalizers, 'the cleanup finalizer comes with the delete')
  t.equal(created.body.spec.conversion.strategy, 'None')
  const crd = await until(async () => {
    const got = await call(url, 'GET', `${crdPath}/widgets.example.com`)
    const established = got.body.status?.conditions?.find((c: any) => c.type === 'Established')
    return established?.status === 'True' ? got.body : undefined
  })
  t.equal(crd.status.conditions.find((c: any) => c.type === 'NamesAccepted').status, 'True')
  t.equal(crd.status.acceptedNames.kind, 'Widget')
  t.equal(crd.status.acceptedNames.plural, 'widgets')

  const byShort = await call(url, 'GET', '/apis/apiextensions.k8s.io/v1')
  t.same(byShort.body.resources.find((r: any) => r.name === 'customresourcedefinitions').shortNames, ['crd', 'crds'])

  t.test('discovery', async (t) => {
    const group = await call(url, 'GET', '/apis/example.com')
    t.equal(group.status, 200)
    t.same(group.body.versions.map((v: any) => v.version), ['v1', 'v1beta1'])
    t.equal(group.body.preferredVersion.version, 'v1')
    const list = await call(url, 'GET', '/apis/example.com/v1')
    t.same(list.body.resources.map((r: any) => r.name), ['widgets', 'widgets/status', 'widgets/scale'])
    t.same(list.body.resources[0].shortNames, ['wd'])
    const groups = await call(url, 'GET', '/apis')
    t.ok(groups.body.groups.some((g: any) => g.name === 'example.com'))
    const aggregated = await call(url, 'GET', '/apis', undefined, { accept: 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList' })
    const entry = aggregated.body.items.find((g: any) => g.metadata.name === 'example.com')
    t.same(entry.versions.map((v: any) => v.version), ['v1', 'v1beta1'])
    t.equal(entry.versions[0].resources[0].resource, 'widgets')
    t.same(entry.versions[0].resources[0].subresources.map((s: any) => s.subresource), ['status', 'scale'])
  })

  t.test('create: pruning, defaulting, validation', async (t) => {
    const base = '/apis/example.com/v1/namespaces/default/widgets'
    const made = await call(url, 'POST', base, widget('w1', { size: 3, unknown: 'x', free: { anything: { goes: 1 } } }))
    t.equal(made.status, 201, JSON.stringify(made.body))
    t.equal(made.body.spec.color, 'red', 'defaulted')
    t.equal(made.body.spec.replicas, 1)
    t.notOk('unknown' in made.body.spec, 'pruned')
    t.same(made.body.spec.free, { anything: { goes: 1 } }, 'preserved')
    t.equal(made.body.metadata.generation, 1)
    t.equal(made.headers.get('warning'), '299 - "unknown field \\"spec.unknown\\""')

    const strict = await call(url, 'POST', `${base}?fieldValidation=Strict`, widget('w9', { size: 3, unknown: 'x' }))
    t.equal(strict.status, 400)
    t.match(strict.body.message, /strict decoding error: unknown field "spec.unknown"/)

    const invalid = await call(url, 'POST', base, widget('w2', { size: 11, color: 'green', tags: ['a', 'a', 'b', 'c'] }))
    t.equal(invalid.status, 422)
    t.equal(invalid.body.details.kind, 'Widget')
    t.equal(invalid.body.details.group, 'example.com')
    const messages = invalid.body.details.causes.map((c: any) => `${c.field}: ${c.message}`)
    t.same(messages.sort(), [
      'spec.color: Unsupported value: "green": supported values: "red", "blue"',
      'spec.size: Invalid value: 11: spec.size in body should be less than or equal to 10',
      'spec.tags: Too many: 4: must have at most 3 items',
      'spec.tags[1]: Duplicate value: "a"',
    ])
    const missing = await call(url, 'POST', base, widget('w3', {}))
    t.equal(missing.status, 422)
    t.match(missing.body.message, /spec\.size: Required value/)
    const wrongType = await call(url, 'POST', base, widget('w4', { size: 'big' }))
    t.equal(wrongType.status, 422)
    t.match(wrongType.body.message, /spec\.size: Invalid value: "string": spec\.size in body must be of type integer: "string"/)
  })

  t.test('versions share objects; only apiVersion differs', async (t) => {
    const old = await call(url, 'POST', '/apis/example.com/v1beta1/namespaces/default/widgets', widget('wb', { size: 2 }, 'example.com/v1beta1'))
    t.equal(old.status, 201, JSON.stringify(old.body))
    t.equal(old.body.apiVersion, 'example.com/v1beta1')
    const asV1 = await call(url, 'GET', '/apis/example.com/v1/namespaces/default/widgets/wb')
    t.equal(asV1.body.apiVersion, 'example.com/v1')
    t.equal(asV1.body.spec.size, 2)
    const list = await call(url, 'GET', '/apis/example.com/v1beta1/namespaces/default/widgets')
    t.equal(list.body.kind, 'WidgetList')
    t.equal(list.body.apiVersion, 'example.com/v1beta1')
    t.ok(list.body.items.every((i: any) => i.apiVersion === 'example.com/v1beta1'))
  })

  t.test('selectors, patches, status, scale, tables', async (t) => {
    const base = '/apis/example.com/v1/namespaces/default/widgets'
    const byLabel = await call(url, 'GET', `${base}?labelSelector=app%3Dw1`)
    t.same(byLabel.body.items.map((i: any) => i.metadata.name), ['w1'])
    const byField = await call(url, 'GET', `/apis/example.com/v1/widgets?fieldSelector=metadata.name%3Dwb`)
    t.same(byField.body.items.map((i: any) => i.metadata.name), ['wb'])
    const badField = await call(url, 'GET', `${base}?fieldSelector=spec.size%3D3`)
    t.equal(badField.status, 400)
    t.equal(badField.body.message, 'field label not supported: spec.size')

    const merged = await call(url, 'PATCH', `${base}/w1`, { spec: { size: 4 } }, { 'content-type': 'application/merge-patch+json' })
    t.equal(merged.status, 200)
    t.equal(merged.body.spec.size, 4)
    t.equal(merged.body.metadata.generation, 2)
    const json = await call(url, 'PATCH', `${base}/w1`, [{ op: 'replace', path: '/spec/color', value: 'blue' }], { 'content-type': 'application/json-patch+json' })
    t.equal(json.body.spec.color, 'blue')
    const byColor = await call(url, 'GET', `/apis/example.com/v1/widgets?fieldSelector=spec.color%3Dblue`)
    t.same(byColor.body.items.map((i: any) => i.metadata.name), ['w1'], 'a selectable field')
    const notBlue = await call(url, 'GET', `/apis/example.com/v1/widgets?fieldSelector=spec.color!%3Dblue`)
    t.notOk(notBlue.body.items.some((i: any) => i.metadata.name === 'w1'))
    const strategic = await call(url, 'PATCH', `${base}/w1`, { spec: { size: 5 } }, { 'content-type': 'application/strategic-merge-patch+json' })
    t.equal(strategic.status, 415)
    const invalidPatch = await call(url, 'PATCH', `${base}/w1`, { spec: { size: 0 } }, { 'content-type': 'application/merge-patch+json' })
    t.equal(invalidPatch.status, 422)

    // status is a subresource: the main resource ignores it, and the subresource only writes it.
    const ignored = await call(url, 'PATCH', `${base}/w1`, { status: { phase: 'Ready' } }, { 'content-type': 'application/merge-patch+json' })
    t.notOk(ignored.body.status?.phase)
    const status = await call(url, 'PATCH', `${base}/w1/status`, { status: { phase: 'Ready', replicas: 1 }, spec: { size: 9 } }, { 'content-type': 'application/merge-patch+json' })
    t.equal(status.status, 200, JSON.stringify(status.body))
    t.equal(status.body.status.phase, 'Ready')
    t.equal(status.body.spec.size, 4)
    t.equal(status.body.metadata.generation, 3, 'the color patch moved it, status did not')

    await call(url, 'PATCH', `${base}/w1`, { spec: { selector: 'app=w1' } }, { 'content-type': 'application/merge-patch+json' })
    const scale = await call(url, 'GET', `${base}/w1/scale`)
    t.same(scale.body.spec, { replicas: 1 })
    t.same(scale.body.status, { replicas: 1, selector: 'app=w1' })
    const scaled = await call(url, 'PATCH', `${base}/w1/scale`, { spec: { replicas: 3 } }, { 'content-type': 'application/merge-patch+json' })
    t.equal(scaled.status, 200, JSON.stringify(scaled.body))
    t.equal(scaled.body.spec.replicas, 3)
    t.equal((await call(url, 'GET', `${base}/w1`)).body.spec.replicas, 3)

    const table = await call(url, 'GET', base, undefined, { accept: 'application/json;as=Table;v=v1;g=meta.k8s.io' })
    t.same(table.body.columnDefinitions.map((c: any) => c.name), ['Name', 'Size', 'Color', 'Age'])
    const row = table.body.rows.find((r: any) => r.cells[0] === 'w1')
    t.same(row.cells.slice(0, 3), ['w1', 4, 'blue'])
    t.match(row.cells[3], /^\d+s$/)

    const protobuf = await call(url, 'GET', `${base}/w1`, undefined, { accept: 'application/vnd.kubernetes.protobuf' })
    t.equal(protobuf.status, 200)
    t.match(protobuf.headers.get('content-type'), /application\/json/)
  })

  t.test('server-side apply merges by the schema: list-type map items per manager', async (t) => {
    const path = '/apis/example.com/v1/namespaces/default/widgets/sa'
    const apply = (manager: string, spec: Record<string, unknown>, force = false) =>
      call(url, 'PATCH', `${path}?fieldManager=${manager}${force ? '&force=true' : ''}`, { apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'sa' }, spec }, { 'content-type': 'application/apply-patch+yaml' })
    const a = await apply('a', { size: 2, ports: [{ name: 'http', port: 80 }] })
    t.ok(a.status === 200 || a.status === 201, JSON.stringify(a.body))
    const b = await apply('b', { ports: [{ name: 'metrics', port: 9090 }] })
    t.equal(b.status, 200, JSON.stringify(b.body))
    t.same(b.body.spec.ports, [{ name: 'http', port: 80 }, { name: 'metrics', port: 9090 }], 'each manager owns its own items')
    const clash = await apply('b', { size: 3, ports: [{ name: 'metrics', port: 9090 }] })
    t.equal(clash.status, 409)
    t.match(clash.body.message, /conflict with "a": \.spec\.size/)
    const dropped = await apply('a', { size: 2 })
    t.same(dropped.body.spec.ports, [{ name: 'metrics', port: 9090 }], "a's item goes when a stops applying it; b's stays")
    const owners = dropped.body.metadata.managedFields.map((m: any) => m.manager).sort()
    t.same(owners, ['a', 'b'])
    const bFields = dropped.body.metadata.managedFields.find((m: any) => m.manager === 'b').fieldsV1
    t.ok(bFields['f:spec']['f:ports']['k:{"name":"metrics"}'], 'the item is keyed by its name')
  })

  t.test('watch', async (t) => {
    const base = '/apis/example.com/v1beta1/namespaces/default/widgets'
    const list = await call(url, 'GET', base)
    const watch = call(url, 'GET', `${base}?watch=true&resourceVersion=${list.body.metadata.resourceVersion}&timeoutSeconds=1`)
    await new Promise((r) => setTimeout(r, 100))
    await call(url, 'POST', '/apis/example.com/v1/namespaces/default/widgets', widget('ww', { size: 1 }))
    const body = (await watch).body
    const events = typeof body === 'string' ? body.trim().split('\n').map((l) => JSON.parse(l)) : [body]
    const added = events.find((e) => e.type === 'ADDED')
    t.equal(added.object.metadata.name, 'ww')
    t.equal(added.object.apiVersion, 'example.com/v1beta1', 'in the watched version')
  })

  t.test('openapi', async (t) => {
    const index = await call(url, 'GET', '/openapi/v3')
    t.ok(index.body.paths['apis/example.com/v1'])
    const doc = await call(url, 'GET', '/openapi/v3/apis/example.com/v1')
    const schema = doc.body.components.schemas['com.example.v1.Widget']
    t.same(schema['x-kubernetes-group-version-kind'], [{ group: 'example.com', kind: 'Widget', version: 'v1' }])
    t.equal(schema.properties.spec.properties.size.type, 'integer')
    t.ok(doc.body.paths['/apis/example.com/v1/namespaces/{namespace}/widgets/{name}'])
    const v2 = await call(url, 'GET', '/openapi/v2')
    t.ok(v2.body.definitions['com.example.v1.Widget'])
  })

  t.test('a stricter schema does not block updates that leave the old values alone (ratcheting)', async (t) => {
    const tightened = await call(url, 'PATCH', `${crdPath}/widgets.example.com`, [{ op: 'replace', path: '/spec/versions/0/schema/openAPIV3Schema/properties/spec/properties/size/maximum', value: 3 }], { 'content-type': 'application/json-patch+json' })
    t.equal(tightened.status, 200, JSON.stringify(tightened.body))
    t.equal(tightened.body.metadata.generation, 2)
    const base = '/apis/example.com/v1/namespaces/default/widgets'
    t.equal((await call(url, 'GET', `${base}/w1`)).body.spec.size, 4, 'stored before, over the new maximum')
    const labelled = await call(url, 'PATCH', `${base}/w1`, { metadata: { labels: { touched: 'yes' } } }, { 'content-type': 'application/merge-patch+json' })
    t.equal(labelled.status, 200, JSON.stringify(labelled.body))
    const status = await call(url, 'PATCH', `${base}/w1/status`, { status: { phase: 'Still' } }, { 'content-type': 'application/merge-patch+json' })
    t.equal(status.status, 200)
    const grown = await call(url, 'PATCH', `${base}/w1`, { spec: { size: 5 } }, { 'content-type': 'application/merge-patch+json' })
    t.equal(grown.status, 422)
    t.match(grown.body.message, /spec\.size in body should be less than or equal to 3/)
    const fresh = await call(url, 'POST', base, widget('w-new', { size: 4 }))
    t.equal(fresh.status, 422, 'a new object gets the new rule')
  })

  t.test('deleting the CRD deletes its objects and stops serving', async (t) => {
    // Another finalizer holds the CRD while it terminates: its objects go, creates are refused.
    const held = await call(url, 'PATCH', `${crdPath}/widgets.example.com`, { metadata: { finalizers: ['example.com/hold'] } }, { 'content-type': 'application/merge-patch+json' })
    t.equal(held.status, 200, JSON.stringify(held.body))
    const gone = await call(url, 'DELETE', `${crdPath}/widgets.example.com`)
    t.equal(gone.status, 200)
    t.same(gone.body.metadata.finalizers, ['example.com/hold', 'customresourcecleanup.apiextensions.k8s.io'])
    t.match(gone.body.status.conditions, [{ type: 'NamesAccepted' }, { type: 'Established' }, { type: 'Terminating', status: 'True', reason: 'InstanceDeletionPending' }])
    const emptied = await until(async () => {
      const got = await call(url, 'GET', `${crdPath}/widgets.example.com`)
      return got.body.metadata?.finalizers?.length === 1 ? got.body : undefined
    })
    t.same(emptied.metadata.finalizers, ['example.com/hold'])
    t.same((await call(url, 'GET', '/apis/example.com/v1/widgets')).body.items, [], 'its objects are gone')
    const refused = await call(url, 'POST', '/apis/example.com/v1/namespaces/default/widgets', widget('late', { size: 1 }))
    t.equal(refused.status, 405)
    t.equal(refused.body.message, 'create not allowed while custom resource definition is terminating')
    await call(url, 'PATCH', `${crdPath}/widgets.example.com`, { metadata: { finalizers: null } }, { 'content-type': 'application/merge-patch+json' })
    await until(async () => ((await call(url, 'GET', `${crdPath}/widgets.example.com`)).status === 404 ? true : undefined))
    const after = await call(url, 'GET', '/apis/example.com/v1/namespaces/default/widgets')
    t.equal(after.status, 404)
    // Made again: empty.
    t.equal((await call(url, 'POST', crdPath, widgetCrd())).status, 201)
    const list = await until(async () => {
      const l = await call(url, 'GET', '/apis/example.com/v1/widgets')
      return l.status === 200 ? l : undefined
    })
    t.same(list.body.items, [])
  })
})

t.test('a restarted server serves the CRDs it had, from the store', async (t) => {
  const { mkdtemp, rm } = await import('node:fs/promises')
  const { tmpdir } = await import('node:os')
  const { join } = await import('node:path')
  const { openStore } = await import('../../src/store/open-store.ts')
  const dir = await mkdtemp(join(tmpdir(), 'weft-crd-restart-'))
  const store = await openStore({ dataDir: dir })
  t.teardown(async () => {
    await store.close()
    await rm(dir, { recursive: true, force: true })
  })
  const stops: (() => unknown)[] = []
  const first = await startTestServer({ teardown: (fn) => stops.push(fn) }, { store })
  t.equal((await call(first.url, 'POST', crdPath, widgetCrd())).status, 201)
  t.equal((await call(first.url, 'POST', '/apis/example.com/v1/namespaces/default/widgets', widget('kept', { size: 1 }))).status, 201)
  for (const stop of stops) await stop()
  const second = await startTestServer(t, { store })
  const got = await call(second.url, 'GET', '/apis/example.com/v1beta1/namespaces/default/widgets/kept')
  t.equal(got.status, 200, 'served at once after the restart')
  t.equal(got.body.apiVersion, 'example.com/v1beta1')
  t.equal(got.body.spec.color, 'red')
})
