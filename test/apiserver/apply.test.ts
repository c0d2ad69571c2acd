import t from 'tap'
import { beforeFirstApply, serverSideApply, trackUpdate } from '../../src/apiserver/apply.ts'
import { resources } from '../../src/api/registry.ts'
import type { ResourceInfo } from '../../src/api/registry.ts'
import { ApiError } from '../../src/util/errors.ts'

function info(kind: string): ResourceInfo {
  const found = resources.find((r) => r.kind === kind)
  if (!found) throw new Error(`no kind ${kind}`)
  return found
}

const deployments = info('Deployment')
const T0 = '2024-01-01T00:00:00Z'
const T1 = '2024-01-01T00:01:00Z'
const T2 = '2024-01-01T00:02:00Z'

// Loose views of the objects the functions return, for reading fields in assertions.
interface Entry {
  manager: string
  operation: string
  apiVersion: string
  time?: string
  fieldsType: string
  fieldsV1: Record<string, unknown>
  subresource?: string
}
interface Container {
  name: string
  image?: string
  [k: string]: unknown
}
interface Deploy {
  metadata: { name: string; labels?: Record<string, string>; managedFields?: Entry[] }
  spec: { replicas?: number; template: { spec: { containers: Container[] } }; [k: string]: unknown }
  status?: Record<string, unknown>
}
const view = (o: unknown) => o as Deploy
const entries = (o: unknown) => view(o).metadata.managedFields ?? []
const entry = (o: unknown, manager: string) => entries(o).find((e) => e.manager === manager)

function config(opts: { replicas?: number; labels?: Record<string, string>; containers?: Container[] } = {}) {
  const spec: Record<string, unknown> = {
    selector: { matchLabels: { app: 'web' } },
    template: {
      metadata: { labels: { app: 'web' } },
      spec: { containers: opts.containers ?? [{ name: 'web', image: 'nginx:1', ports: [{ containerPort: 80 }] }] },
    },
  }
  if (opts.replicas !== undefined) spec.replicas = opts.replicas
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', labels: opts.labels ?? { app: 'web' } },
    spec,
  }
}

function apply(live: object | undefined, applied: object, manager: string, now = T0, force = false) {
  return serverSideApply(deployments, live, applied, { fieldManager: manager, force, now })
}

function conflictOf(fn: () => unknown): ApiError {
  try {
    fn()
  } catch (err) {
    if (err instanceof ApiError) return err
    throw err
  }
  throw new Error('expected a conflict')
}

t.test('first apply creates the object and records the applied fields', async (t) => {
  const applied = config({ replicas: 2 })
  const before = structuredClone(applied)
  const obj = apply(undefined, applied, 'kubectl')
  t.same(applied, before, 'the applied configuration is not modified')
  t.equal(view(obj).spec.replicas, 2)
  t.same(view(obj).spec.template.spec.containers, [{ name: 'web', image: 'nginx:1', ports: [{ containerPort: 80 }] }])
  t.same(entries(obj), [
    {
      manager: 'kubectl',
      operation: 'Apply',
      apiVersion: 'apps/v1',
      time: T0,
      fieldsType: 'FieldsV1',
      fieldsV1: {
        'f:metadata': { 'f:labels': { 'f:app': {} } },
        'f:spec': {
          'f:replicas': {},
          'f:selector': {},
          'f:template': {
            'f:metadata': { 'f:labels': { 'f:app': {} } },
            'f:spec': {
              'f:containers': {
                'k:{"name":"web"}': {
                  '.': {},
                  'f:image': {},
                  'f:name': {},
                  'f:ports': { 'k:{"containerPort":80,"protocol":"TCP"}': { '.': {}, 'f:containerPort': {} } },
                },
              },
            },
          },
        },
      },
    },
  ])
})

t.test('re-applying without a field removes it', async (t) => {
  const first = apply(undefined, config({ replicas: 2, labels: { app: 'web', tier: 'front' } }), 'kubectl')
  const second = apply(first, config({ labels: { app: 'web' } }), 'kubectl', T1)
  t.notOk('replicas' in view(second).spec, 'replicas is gone')
  t.same(view(second).metadata.labels, { app: 'web' }, 'the dropped label is gone')
  t.same(entry(second, 'kubectl')?.fieldsV1['f:metadata'], { 'f:labels': { 'f:app': {} } })
  t.notOk('f:replicas' in (entry(second, 'kubectl')?.fieldsV1['f:spec'] as object))
  t.equal(entry(second, 'kubectl')?.time, T1)
})

t.test('a field dropped from the config stays when another manager owns it too', async (t) => {
  const first = apply(undefined, config({ labels: { app: 'web', tier: 'front' } }), 'kubectl')
  const shared = apply(first, { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', labels: { tier: 'front' } } }, 'other', T1)
  t.ok(entry(shared, 'other'), 'applying the same value shares ownership without conflict')
  const dropped = apply(shared, config(), 'kubectl', T2)
  t.same(view(dropped).metadata.labels, { app: 'web', tier: 'front' }, 'tier survives: "other" still owns it')
})

t.test('two appliers conflict; force takes ownership', async (t) => {
  const first = apply(undefined, config({ replicas: 2 }), 'alice')
  const err = conflictOf(() => apply(first, config({ replicas: 3, containers: [{ name: 'web', image: 'nginx:2' }] }), 'bob', T1))
  t.equal(err.code, 409)
  t.equal(err.reason, 'Conflict')
  t.same(err.details?.causes, [
    { reason: 'FieldManagerConflict', message: 'conflict with "alice"', field: '.spec.replicas' },
    { reason: 'FieldManagerConflict', message: 'conflict with "alice"', field: '.spec.template.spec.containers[name="web"].image' },
  ])
  t.equal(err.message, 'Apply failed with 2 conflicts: conflicts with "alice":\n- .spec.replicas\n- .spec.template.spec.containers[name="web"].image')

  const forced = apply(first, config({ replicas: 3, containers: [{ name: 'web', image: 'nginx:2' }] }), 'bob', T1, true)
  t.equal(view(forced).spec.replicas, 3)
  t.equal(view(forced).spec.template.spec.containers[0].image, 'nginx:2')
  const alice = entry(forced, 'alice')?.fieldsV1 as Record<string, Record<string, unknown>>
  t.notOk('f:replicas' in alice['f:spec'], 'alice lost replicas')
  t.notOk(JSON.stringify(alice).includes('f:image'), 'alice lost the image')
  t.ok(JSON.stringify(alice).includes('f:name'), 'alice still co-owns the container name')
})

t.test('alice conflicts again after bob forced', async (t) => {
  const first = apply(undefined, config({ replicas: 2 }), 'alice')
  const forced = apply(first, config({ replicas: 3 }), 'bob', T1, true)
  const err = conflictOf(() => apply(forced, config({ replicas: 2 }), 'alice', T2))
  t.equal(err.message, 'Apply failed with 1 conflict: conflict with "bob": .spec.replicas')
  const same = apply(forced, config({ replicas: 3 }), 'alice', T2)
  t.equal(view(same).spec.replicas, 3, 'agreeing with the owner is not a conflict')
})

t.test('kubectl scale (an Update) makes a later apply of other replicas conflict', async (t) => {
  const created = apply(undefined, config({ replicas: 2 }), 'kubectl')
  const scaled = view(structuredClone(created))
  scaled.spec.replicas = 5
  const tracked = trackUpdate(deployments, created, scaled, { fieldManager: 'kubectl', operation: 'Update', now: T1, subresource: 'scale' })
  t.same(entry(tracked, 'kubectl') && entries(tracked).map((e) => [e.manager, e.operation, e.subresource]), [
    ['kubectl', 'Apply', undefined],
    ['kubectl', 'Update', 'scale'],
  ])
  const updater = entries(tracked).find((e) => e.operation === 'Update')
  t.same(updater?.fieldsV1, { 'f:spec': { 'f:replicas': {} } })
  t.notOk('f:replicas' in (entries(tracked)[0].fieldsV1['f:spec'] as object), 'the applier lost replicas')

  const err = conflictOf(() => apply(tracked, config({ replicas: 3 }), 'kubectl', T2))
  t.equal(err.message, 'Apply failed with 1 conflict: conflict with "kubectl" with subresource "scale" using apps/v1: .spec.replicas')
  t.same(err.details?.causes?.[0], { reason: 'FieldManagerConflict', message: 'conflict with "kubectl" with subresource "scale" using apps/v1', field: '.spec.replicas' })

  const plain = view(structuredClone(created))
  plain.spec.replicas = 4
  const edited = trackUpdate(deployments, created, plain, { fieldManager: 'kubectl-edit', operation: 'Update', now: T1 })
  const err2 = conflictOf(() => apply(edited, config({ replicas: 3 }), 'kubectl', T2))
  t.equal(err2.message, 'Apply failed with 1 conflict: conflict with "kubectl-edit" using apps/v1: .spec.replicas')

  const ok = apply(edited, config({ replicas: 4 }), 'kubectl', T2)
  t.equal(view(ok).spec.replicas, 4, 'applying the current value does not conflict')
})

t.test('trackUpdate on create owns every field; updates move ownership', async (t) => {
  const obj = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', labels: { app: 'web' } }, spec: config().spec, status: { replicas: 0 } }
  const created = trackUpdate(deployments, undefined, obj, { fieldManager: 'kubectl-create', operation: 'Update', now: T0 })
  t.same(entries(created), [
    {
      manager: 'kubectl-create',
      operation: 'Update',
      apiVersion: 'apps/v1',
      time: T0,
      fieldsType: 'FieldsV1',
      fieldsV1: {
        'f:metadata': { 'f:labels': { '.': {}, 'f:app': {} } },
        'f:spec': {
          'f:selector': {},
          'f:template': {
            'f:metadata': { 'f:labels': { '.': {}, 'f:app': {} } },
            'f:spec': {
              'f:containers': {
                '.': {},
                'k:{"name":"web"}': {
                  '.': {},
                  'f:image': {},
                  'f:name': {},
                  'f:ports': { '.': {}, 'k:{"containerPort":80,"protocol":"TCP"}': { '.': {}, 'f:containerPort': {} } },
                },
              },
            },
          },
        },
      },
    },
  ], 'status (reset by the main resource) and identity fields are not tracked')

  const changed = view(structuredClone(created))
  changed.metadata.labels = { app: 'web', team: 'a' }
  const updated = trackUpdate(deployments, created, changed, { fieldManager: 'kubectl-label', operation: 'Update', now: T1 })
  t.same(entry(updated, 'kubectl-label')?.fieldsV1, { 'f:metadata': { 'f:labels': { 'f:team': {} } } })
  t.equal(entry(updated, 'kubectl-create')?.time, T0, 'other entries keep their time')

  const noop = trackUpdate(deployments, updated, structuredClone(updated), { fieldManager: 'someone', operation: 'Update', now: T2 })
  t.notOk(entry(noop, 'someone'), 'an update that changes nothing adds no entry')

  const removed = view(structuredClone(updated))
  delete removed.metadata.labels
  const after = trackUpdate(deployments, updated, removed, { fieldManager: 'kubectl-edit', operation: 'Update', now: T2 })
  t.notOk(entry(after, 'kubectl-label'), 'an entry left with no fields disappears')
  t.notOk('f:metadata' in (entry(after, 'kubectl-create')?.fieldsV1 ?? {}), 'removed fields leave every entry')
})

t.test('list items are owned by merge key', async (t) => {
  const alice = apply(undefined, config(), 'alice')
  const sidecar = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web' }, spec: { template: { spec: { containers: [{ name: 'log', image: 'busybox' }] } } } }
  const both = apply(alice, sidecar, 'bob', T1)
  t.same(view(both).spec.template.spec.containers.map((c) => c.name), ['web', 'log'], 'bob adds his container, alice keeps hers')
  t.same(entry(both, 'bob')?.fieldsV1, {
    'f:spec': { 'f:template': { 'f:spec': { 'f:containers': { 'k:{"name":"log"}': { '.': {}, 'f:image': {}, 'f:name': {} } } } } },
  })

  const reapplied = apply(both, config({ containers: [{ name: 'web', image: 'nginx:2' }] }), 'alice', T2)
  t.same(
    view(reapplied).spec.template.spec.containers,
    [{ name: 'web', image: 'nginx:2' }, { name: 'log', image: 'busybox' }],
    "alice's re-apply updates her container, drops her port, and leaves bob's alone",
  )

  const bobLeaves = apply(reapplied, { ...sidecar, spec: { template: { spec: { containers: [] } } } }, 'bob', T2)
  t.same(view(bobLeaves).spec.template.spec.containers.map((c) => c.name), ['web'], "bob's container goes when he stops applying it")
})

t.test('an apply to an object without managedFields conflicts with before-first-apply', async (t) => {
  const legacy = { ...config({ replicas: 1 }), metadata: { name: 'web', uid: 'u1', resourceVersion: '5', labels: { app: 'web' } } }
  const err = conflictOf(() => apply(legacy, config({ replicas: 2 }), 'kubectl'))
  t.equal(err.message, `Apply failed with 1 conflict: conflict with "${beforeFirstApply}" using apps/v1: .spec.replicas`)
  const forced = apply(legacy, config({ replicas: 2 }), 'kubectl', T0, true)
  t.equal(view(forced).spec.replicas, 2)
  t.equal((view(forced).metadata as Record<string, unknown>).uid, 'u1', 'identity fields are kept')
})

t.test('services: ports keyed by port and protocol, selector atomic; finalizers as a set', async (t) => {
  const svc = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 's', finalizers: ['example.com/x'] },
    spec: { selector: { app: 'web' }, ports: [{ port: 80, targetPort: 8080 }, { port: 53, protocol: 'UDP' }] },
  }
  const obj = serverSideApply(info('Service'), undefined, svc, { fieldManager: 'm', force: false, now: T0 })
  t.same(entries(obj)[0].fieldsV1, {
    'f:metadata': { 'f:finalizers': { 'v:"example.com/x"': {} } },
    'f:spec': {
      'f:ports': {
        'k:{"port":53,"protocol":"UDP"}': { '.': {}, 'f:port': {}, 'f:protocol': {} },
        'k:{"port":80,"protocol":"TCP"}': { '.': {}, 'f:port': {}, 'f:targetPort': {} },
      },
      'f:selector': {},
    },
  })
  const reselect = serverSideApply(info('Service'), obj, { ...svc, spec: { ...svc.spec, selector: { app: 'api' } } }, { fieldManager: 'm', force: false, now: T1 })
  t.same((reselect as { spec: { selector: unknown } }).spec.selector, { app: 'api' }, 'an atomic map is replaced, not merged')
})

t.test('bad applied configurations', async (t) => {
  const missingKey = config({ containers: [{ image: 'x' } as Container] })
  const err = conflictOf(() => apply(undefined, missingKey, 'kubectl'))
  t.equal(err.code, 422)
  t.match(err.message, /\.spec\.template\.spec\.containers: element 0 .* omits the key field\(s\) "name"/)
  t.equal(conflictOf(() => apply(undefined, { ...config(), kind: 'Pod' }, 'kubectl')).code, 400)
  t.equal(conflictOf(() => apply(undefined, config(), '')).code, 400)
  t.equal(conflictOf(() => apply(undefined, { ...config(), metadata: { name: 'web', managedFields: [] } }, 'kubectl')).code, 400)
})

t.test("kubectl's server-side apply takes over what client-side apply recorded and nobody changed", async (t) => {
  // As `kubectl apply` (client-side) leaves an object: its manager owns what it wrote, and
  // the annotation records the configuration.
  const csaConfig = config({ replicas: 2, labels: { app: 'web', tier: 'front' } })
  const annotated = { ...csaConfig, metadata: { ...csaConfig.metadata, annotations: { 'kubectl.kubernetes.io/last-applied-configuration': JSON.stringify(csaConfig) } } }
  const live = trackUpdate(deployments, undefined, annotated, { fieldManager: 'kubectl-client-side-apply', operation: 'Update', now: T0 })

  const moved = apply(live, config({ replicas: 3, labels: { app: 'web', tier: 'front' } }), 'kubectl', T1)
  t.equal(view(moved).spec.replicas, 3, 'no conflict on a field the last apply recorded')
  t.match(entry(moved, 'kubectl')?.fieldsV1, { 'f:spec': { 'f:replicas': {} } })
  t.notMatch(entry(moved, 'kubectl-client-side-apply')?.fieldsV1 ?? {}, { 'f:spec': { 'f:replicas': {} } }, 'the old manager lost it')
  const recorded = JSON.parse((moved as any).metadata.annotations['kubectl.kubernetes.io/last-applied-configuration'])
  t.equal(recorded.spec.replicas, 3, 'the annotation now records this apply')
  t.equal(JSON.stringify(Object.keys(recorded)), JSON.stringify(['apiVersion', 'kind', 'metadata', 'spec']), 'with sorted keys, as Go writes them')

  const scaled = trackUpdate(deployments, live, { ...(live as object), spec: { ...(live as any).spec, replicas: 5 } }, { fieldManager: 'kubectl-scale', operation: 'Update', now: T1 })
  const owned = trackUpdate(deployments, scaled, { ...(scaled as any), metadata: { ...(scaled as any).metadata, labels: { app: 'web', tier: 'back' } } }, { fieldManager: 'kubectl-client-side-apply', operation: 'Update', now: T1 })
  const err = conflictOf(() => apply(owned, config({ replicas: 3, labels: { app: 'web', tier: 'edge' } }), 'kubectl', T2))
  t.equal(err.code, 409, 'a field changed since the last apply still conflicts')
  t.match(err.message, /conflicts with "kubectl-scale" using apps\/v1:\n- \.spec\.replicas/)
  t.match(err.message, /\.metadata\.labels\.tier/, 'and so does one the annotation no longer matches')

  t.equal(conflictOf(() => apply(live, config({ replicas: 3, labels: { app: 'web', tier: 'front' } }), 'helm', T1)).code, 409, 'only the kubectl manager takes this path')
  const plain = trackUpdate(deployments, undefined, csaConfig, { fieldManager: 'kubectl-client-side-apply', operation: 'Update', now: T0 })
  t.equal(conflictOf(() => apply(plain, config({ replicas: 3 }), 'kubectl', T1)).code, 409, 'without the annotation there is nothing to take over')
  const noAnnotation = apply(plain, config({ replicas: 2, labels: { app: 'web', tier: 'front' } }), 'kubectl', T1)
  t.equal((noAnnotation as any).metadata.annotations, undefined, 'and no annotation is added')
})
