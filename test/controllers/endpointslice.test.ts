import t from 'tap'
import type { V1EndpointSlice, V1Node, V1Pod, V1Service } from '@kubernetes/client-node'
import type { Action, KubeObject } from '../../src/controllers/actions.ts'
import { reconcileEndpointSlices } from '../../src/controllers/endpointslice/reconcile.ts'

const opts = { controllerName: 'endpointslice-controller.k8s.io', maxEndpointsPerSlice: 100 }

function svc(spec: Record<string, unknown> = {}, meta: Record<string, unknown> = {}): V1Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'web', namespace: 'ns', uid: 'svc-uid', labels: { team: 'a' }, ...meta },
    spec: {
      selector: { app: 'web' },
      clusterIP: '10.0.0.10',
      ipFamilies: ['IPv4'],
      ports: [{ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP' }],
      ...spec,
    },
  } as V1Service
}

interface PodOpts {
  ips?: string[]
  ready?: boolean
  deleting?: boolean
  phase?: string
  node?: string
  hostname?: string
  subdomain?: string
  ports?: { name: string; containerPort: number; protocol?: string }[]
  labels?: Record<string, string>
  namespace?: string
}

function pod(name: string, o: PodOpts = {}): V1Pod {
  const ips = o.ips ?? [`10.1.0.${Number(name.replace(/\D/g, '') || 1) % 250}`]
  return {
    metadata: {
      name,
      namespace: o.namespace ?? 'ns',
      uid: `uid-${name}`,
      labels: o.labels ?? { app: 'web' },
      ...(o.deleting ? { deletionTimestamp: '2024-01-01T00:00:00Z' as unknown as Date } : {}),
    },
    spec: {
      nodeName: o.node ?? 'n1',
      containers: [{ name: 'c', ports: o.ports ?? [{ name: 'http', containerPort: 8080 }] }],
      ...(o.hostname ? { hostname: o.hostname } : {}),
      ...(o.subdomain ? { subdomain: o.subdomain } : {}),
    },
    status: {
      phase: o.phase ?? 'Running',
      podIP: ips[0],
      podIPs: ips.map((ip) => ({ ip })),
      conditions: [{ type: 'Ready', status: o.ready === false ? 'False' : 'True' }],
    },
  } as V1Pod
}

/** An in-memory API: applies slice actions as the runner would. */
class Slices {
  items: V1EndpointSlice[] = []
  next = 0
  apply(actions: Action[]): void {
    for (const a of actions) {
      if (a.verb === 'create') {
        const o = structuredClone(a.object) as KubeObject
        const n = this.next++
        o.metadata = { ...o.metadata, name: `${o.metadata?.generateName}${n}`, uid: `slice-${n}`, resourceVersion: '1' }
        delete o.metadata.generateName
        this.items.push(o as unknown as V1EndpointSlice)
      } else if (a.verb === 'update') {
        const i = this.items.findIndex((s) => s.metadata?.name === a.object.metadata?.name)
        if (i < 0) throw new Error(`update of missing ${a.object.metadata?.name}`)
        if (this.items[i].metadata?.resourceVersion !== a.object.metadata?.resourceVersion) throw new Error('conflict')
        const o = structuredClone(a.object) as KubeObject
        o.metadata!.resourceVersion = String(Number(o.metadata!.resourceVersion) + 1)
        this.items[i] = o as unknown as V1EndpointSlice
      } else if (a.verb === 'delete') {
        const before = this.items.length
        this.items = this.items.filter((s) => s.metadata?.name !== a.name)
        if (this.items.length === before) throw new Error(`delete of missing ${a.name}`)
      } else {
        throw new Error(`unexpected ${a.verb}`)
      }
    }
  }
  endpoints(addressType = 'IPv4'): string[] {
    return this.items
      .filter((s) => s.addressType === addressType)
      .flatMap((s) => s.endpoints.map((e) => e.targetRef?.name ?? ''))
      .sort()
  }
}

function verbs(actions: Action[]): string[] {
  return actions.map((a) => a.verb)
}

function created(actions: Action[]): KubeObject[] {
  return actions.flatMap((a) => (a.verb === 'create' ? [a.object] : []))
}

t.test('new Service: one slice with labels, owner, ports and endpoint conditions', async (t) => {
  const nodes = new Map<string, V1Node>([['n1', { metadata: { name: 'n1', labels: { 'topology.kubernetes.io/zone': 'z1' } } }]])
  const actions = reconcileEndpointSlices(svc(), [pod('p1'), pod('p2', { ready: false })], [], nodes, opts)
  t.same(verbs(actions), ['create'])
  const slice = created(actions)[0]
  t.equal(slice.apiVersion, 'discovery.k8s.io/v1')
  t.equal(slice.kind, 'EndpointSlice')
  t.equal(slice.addressType, 'IPv4')
  t.same(slice.metadata!.generateName, 'web-')
  t.same(slice.metadata!.namespace, 'ns')
  t.same(slice.metadata!.labels, {
    team: 'a',
    'kubernetes.io/service-name': 'web',
    'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io',
  })
  t.same(slice.metadata!.ownerReferences, [{ apiVersion: 'v1', kind: 'Service', name: 'web', uid: 'svc-uid', controller: true, blockOwnerDeletion: true }])
  t.same(slice.ports, [{ name: 'http', port: 8080, protocol: 'TCP' }])
  t.same(slice.endpoints, [
    {
      addresses: ['10.1.0.1'],
      conditions: { ready: true, serving: true, terminating: false },
      targetRef: { kind: 'Pod', namespace: 'ns', name: 'p1', uid: 'uid-p1' },
      nodeName: 'n1',
      zone: 'z1',
    },
    {
      addresses: ['10.1.0.2'],
      conditions: { ready: false, serving: false, terminating: false },
      targetRef: { kind: 'Pod', namespace: 'ns', name: 'p2', uid: 'uid-p2' },
      nodeName: 'n1',
      zone: 'z1',
    },
  ])
})

t.test('endpoint conditions', async (t) => {
  const cases: { name: string; pod: V1Pod; publish?: boolean; want: Record<string, boolean> | undefined }[] = [
    { name: 'ready', pod: pod('p1'), want: { ready: true, serving: true, terminating: false } },
    { name: 'not ready', pod: pod('p1', { ready: false }), want: { ready: false, serving: false, terminating: false } },
    { name: 'terminating, ready', pod: pod('p1', { deleting: true }), want: { ready: false, serving: true, terminating: true } },
    { name: 'terminating, not ready', pod: pod('p1', { deleting: true, ready: false }), want: { ready: false, serving: false, terminating: true } },
    { name: 'publishNotReady, not ready', pod: pod('p1', { ready: false }), publish: true, want: { ready: true, serving: false, terminating: false } },
    { name: 'publishNotReady, terminating', pod: pod('p1', { deleting: true }), publish: true, want: { ready: true, serving: true, terminating: true } },
    { name: 'succeeded pod skipped', pod: pod('p1', { phase: 'Succeeded' }), want: undefined },
    { name: 'failed pod skipped', pod: pod('p1', { phase: 'Failed' }), want: undefined },
    { name: 'pod without IP skipped', pod: pod('p1', { ips: [] }), want: undefined },
    { name: 'pod of another namespace skipped', pod: pod('p1', { namespace: 'other' }), want: undefined },
    { name: 'pod not matching selector skipped', pod: pod('p1', { labels: { app: 'db' } }), want: undefined },
  ]
  for (const c of cases) {
    const service = svc(c.publish ? { publishNotReadyAddresses: true } : {})
    const slices = created(reconcileEndpointSlices(service, [c.pod], [], undefined, opts))
    t.equal(slices.length, 1, c.name)
    if (c.want === undefined) {
      t.same(slices[0].endpoints, [], `${c.name}: placeholder slice without endpoints`)
      t.same(slices[0].ports, [], `${c.name}: placeholder has no ports`)
    } else {
      t.same(slices[0].endpoints[0].conditions, c.want, c.name)
    }
  }
})

t.test('pods on unknown nodes are left out unless publishNotReadyAddresses', async (t) => {
  const nodes = new Map<string, V1Node>([['n1', { metadata: { name: 'n1' } }]])
  const pods = [pod('p1'), pod('p2', { node: 'gone' })]
  const a = created(reconcileEndpointSlices(svc(), pods, [], nodes, opts))
  t.same(a[0].endpoints.map((e: { targetRef: { name: string } }) => e.targetRef.name), ['p1'])
  const b = created(reconcileEndpointSlices(svc({ publishNotReadyAddresses: true }), pods, [], nodes, opts))
  t.same(b[0].endpoints.map((e: { targetRef: { name: string } }) => e.targetRef.name), ['p1', 'p2'])
})

t.test('named targetPort resolves per pod; unresolved pods go to another slice', async (t) => {
  const service = svc({
    ports: [
      { name: 'http', port: 80, targetPort: 'web', protocol: 'TCP', appProtocol: 'http' },
      { name: 'dns', port: 53, targetPort: 'dns', protocol: 'UDP' },
    ],
  })
  const pods = [
    pod('p1', { ports: [{ name: 'web', containerPort: 8080 }, { name: 'dns', containerPort: 5353, protocol: 'UDP' }] }),
    pod('p2', { ports: [{ name: 'web', containerPort: 9090 }, { name: 'dns', containerPort: 5353, protocol: 'UDP' }] }),
    // 'dns' exists only as TCP: the UDP service port does not resolve.
    pod('p3', { ports: [{ name: 'web', containerPort: 8080 }, { name: 'dns', containerPort: 5353, protocol: 'TCP' }] }),
    pod('p4', { ports: [] }),
  ]
  const slices = created(reconcileEndpointSlices(service, pods, [], undefined, opts))
  const byPorts = new Map(slices.map((s) => [JSON.stringify(s.ports), s.endpoints.map((e: { targetRef: { name: string } }) => e.targetRef.name)]))
  t.same(
    byPorts.get(JSON.stringify([{ name: 'dns', port: 5353, protocol: 'UDP' }, { name: 'http', port: 8080, protocol: 'TCP', appProtocol: 'http' }])),
    ['p1'],
  )
  t.same(
    byPorts.get(JSON.stringify([{ name: 'dns', port: 5353, protocol: 'UDP' }, { name: 'http', port: 9090, protocol: 'TCP', appProtocol: 'http' }])),
    ['p2'],
  )
  t.same(byPorts.get(JSON.stringify([{ name: 'http', port: 8080, protocol: 'TCP', appProtocol: 'http' }])), ['p3'])
  t.same(byPorts.get(JSON.stringify([])), ['p4'])
  t.equal(slices.length, 4)
})

t.test('dual-stack: one slice per family with that family\'s addresses', async (t) => {
  const service = svc({ ipFamilies: ['IPv6', 'IPv4'], clusterIP: 'fd00::10' })
  const pods = [pod('p1', { ips: ['10.1.0.1', 'fd00:1::1'] }), pod('p2', { ips: ['10.1.0.2'] })]
  const slices = created(reconcileEndpointSlices(service, pods, [], undefined, opts))
  t.same(slices.map((s) => s.addressType), ['IPv6', 'IPv4'])
  t.same(slices[0].endpoints.map((e: { addresses: string[] }) => e.addresses), [['fd00:1::1']])
  t.same(slices[1].endpoints.map((e: { addresses: string[] }) => e.addresses), [['10.1.0.1'], ['10.1.0.2']])

  // Dropping a family deletes its slices.
  const api = new Slices()
  api.apply(reconcileEndpointSlices(service, pods, [], undefined, opts))
  const single = svc({ ipFamilies: ['IPv4'] })
  const actions = reconcileEndpointSlices(single, pods, api.items, undefined, opts)
  t.same(verbs(actions), ['delete'])
  api.apply(actions)
  t.same(api.items.map((s) => s.addressType), ['IPv4'])
})

t.test('headless Service without ipFamilies gets both families and the headless label', async (t) => {
  const service = svc({ clusterIP: 'None', ipFamilies: undefined })
  const slices = created(reconcileEndpointSlices(service, [pod('p1')], [], undefined, opts))
  t.same(slices.map((s) => s.addressType), ['IPv4', 'IPv6'])
  t.equal(slices[0].metadata!.labels['service.kubernetes.io/headless'], '')
  t.same(slices[1].endpoints, [], 'IPv6 placeholder')
})

t.test('more than maxEndpointsPerSlice pods split across slices, then shrink', async (t) => {
  const many = Array.from({ length: 250 }, (_, i) => pod(`p${String(i).padStart(3, '0')}`, { ips: [`10.1.${Math.floor(i / 200)}.${i % 200}`] }))
  const api = new Slices()
  const first = reconcileEndpointSlices(svc(), many, [], undefined, opts)
  t.same(verbs(first), ['create', 'create', 'create'])
  api.apply(first)
  t.same(api.items.map((s) => s.endpoints.length).sort(), [100, 100, 50])
  t.equal(new Set(api.endpoints()).size, 250)

  t.same(reconcileEndpointSlices(svc(), many, api.items, undefined, opts), [], 'unchanged state: no actions')

  // Shrink to the first 90 pods: those live in the first slice; the others go.
  const few = many.slice(0, 90)
  const shrink = reconcileEndpointSlices(svc(), few, api.items, undefined, opts)
  t.same(verbs(shrink).sort(), ['delete', 'delete', 'update'])
  api.apply(shrink)
  t.equal(api.items.length, 1)
  t.same(api.endpoints(), few.map((p) => p.metadata!.name!))
  t.same(reconcileEndpointSlices(svc(), few, api.items, undefined, opts), [], 'settled')

  // New endpoints that fit go into an unchanged slice with room...
  const grow = reconcileEndpointSlices(svc(), many.slice(0, 100), api.items, undefined, opts)
  t.same(verbs(grow), ['update'])
  api.apply(grow)
  t.same(api.items.map((s) => s.endpoints.length), [100])
  // ...and those that do not fit into a single slice get a new one.
  const more = reconcileEndpointSlices(svc(), many.slice(0, 130), api.items, undefined, opts)
  t.same(verbs(more), ['create'])
  api.apply(more)
  t.same(api.items.map((s) => s.endpoints.length), [100, 30])
  t.same(api.endpoints(), many.slice(0, 130).map((p) => p.metadata!.name!))
})

t.test('a single endpoint change updates only the slice holding it', async (t) => {
  const many = Array.from({ length: 150 }, (_, i) => pod(`p${String(i).padStart(3, '0')}`, { ips: [`10.1.0.${i}`] }))
  const api = new Slices()
  api.apply(reconcileEndpointSlices(svc(), many, [], undefined, opts))
  const changed = [...many]
  changed[120] = pod('p120', { ips: ['10.1.0.120'], ready: false })
  const actions = reconcileEndpointSlices(svc(), changed, api.items, undefined, opts)
  t.same(verbs(actions), ['update'])
  const slice = (actions[0] as { object: KubeObject }).object
  const holder = api.items.find((s) => s.endpoints.some((e) => e.targetRef?.name === 'p120'))!
  t.equal(slice.metadata!.name, holder.metadata!.name)
  t.equal(slice.metadata!.resourceVersion, holder.metadata!.resourceVersion)
  t.same(slice.endpoints.find((e: { targetRef: { name: string } }) => e.targetRef.name === 'p120').conditions, { ready: false, serving: false, terminating: false })
  api.apply(actions)
  t.same(reconcileEndpointSlices(svc(), changed, api.items, undefined, opts), [])
})

t.test('Service label changes update slice labels; reserved labels are not copied', async (t) => {
  const api = new Slices()
  api.apply(reconcileEndpointSlices(svc(), [pod('p1')], [], undefined, opts))
  const relabelled = svc({}, { labels: { team: 'b', 'kubernetes.io/service-name': 'evil', 'endpointslice.kubernetes.io/managed-by': 'x' } })
  const actions = reconcileEndpointSlices(relabelled, [pod('p1')], api.items, undefined, opts)
  t.same(verbs(actions), ['update'])
  t.same((actions[0] as { object: KubeObject }).object.metadata!.labels, {
    team: 'b',
    'kubernetes.io/service-name': 'web',
    'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io',
  })
  api.apply(actions)
  t.same(reconcileEndpointSlices(relabelled, [pod('p1')], api.items, undefined, opts), [])
})

t.test('placeholder slice: created once, reused when endpoints appear, restored when they go', async (t) => {
  const api = new Slices()
  const empty = reconcileEndpointSlices(svc(), [], [], undefined, opts)
  t.same(verbs(empty), ['create'])
  api.apply(empty)
  t.same(reconcileEndpointSlices(svc(), [], api.items, undefined, opts), [], 'placeholder kept')
  const placeholderName = api.items[0].metadata!.name

  const fill = reconcileEndpointSlices(svc(), [pod('p1')], api.items, undefined, opts)
  t.same(verbs(fill), ['update'], 'the placeholder is rewritten rather than deleted and recreated')
  api.apply(fill)
  t.equal(api.items[0].metadata!.name, placeholderName)
  t.same(api.items[0].ports, [{ name: 'http', port: 8080, protocol: 'TCP' }])

  const drain = reconcileEndpointSlices(svc(), [], api.items, undefined, opts)
  api.apply(drain)
  t.equal(api.items.length, 1)
  t.same(api.items[0].endpoints, [])
  t.same(reconcileEndpointSlices(svc(), [], api.items, undefined, opts), [])
})

t.test('hostname is set only when the pod subdomain names the Service', async (t) => {
  const pods = [pod('p1', { hostname: 'h1', subdomain: 'web' }), pod('p2', { hostname: 'h2', subdomain: 'other' }), pod('p3', { subdomain: 'web' })]
  const slice = created(reconcileEndpointSlices(svc({ clusterIP: 'None' }), pods, [], undefined, opts))[0]
  t.same(slice.endpoints.map((e: { hostname?: string }) => e.hostname ?? null), ['h1', null, null])
})

t.test('Services that get no slices, and deleted Services', async (t) => {
  const api = new Slices()
  api.apply(reconcileEndpointSlices(svc(), [pod('p1')], [], undefined, opts))
  t.same(reconcileEndpointSlices(svc({ selector: undefined }), [pod('p1')], api.items, undefined, opts), [], 'no selector')
  t.same(reconcileEndpointSlices(svc({ selector: {} }), [pod('p1')], api.items, undefined, opts), [], 'empty selector')
  t.same(reconcileEndpointSlices(svc({ type: 'ExternalName', externalName: 'x.example' }), [pod('p1')], [], undefined, opts), [], 'ExternalName')

  const foreign = { ...structuredClone(api.items[0]), metadata: { ...api.items[0].metadata, name: 'web-manual', labels: { 'kubernetes.io/service-name': 'web' } } }
  const gone = reconcileEndpointSlices(undefined, [], [...api.items, foreign], undefined, opts)
  t.same(gone, [{ verb: 'delete', info: gone[0] && (gone[0] as { info: unknown }).info, namespace: 'ns', name: api.items[0].metadata!.name, uid: api.items[0].metadata!.uid }])
  t.equal((gone[0] as { info: { kind: string } }).info.kind, 'EndpointSlice')
})

t.test('slices owned by an older Service of the same name are replaced', async (t) => {
  const api = new Slices()
  api.apply(reconcileEndpointSlices(svc({}, { uid: 'old-uid' }), [pod('p1')], [], undefined, opts))
  const oldName = api.items[0].metadata!.name
  const actions = reconcileEndpointSlices(svc(), [pod('p1')], api.items, undefined, opts)
  t.same(verbs(actions), ['create', 'delete'])
  api.apply(actions)
  t.not(api.items[0].metadata!.name, oldName)
  t.equal(api.items[0].metadata!.ownerReferences![0].uid, 'svc-uid')
})

t.test('output is deterministic regardless of input order', async (t) => {
  const pods = Array.from({ length: 30 }, (_, i) => pod(`p${i}`, { ips: [`10.1.0.${i}`] }))
  const a = reconcileEndpointSlices(svc(), pods, [], undefined, opts)
  const b = reconcileEndpointSlices(svc(), [...pods].reverse(), [], undefined, opts)
  t.same(a, b)
})
