import t from 'tap'
import type { V1Endpoints, V1Pod, V1Service } from '@kubernetes/client-node'
import type { Action, KubeObject } from '../../src/controllers/actions.ts'
import { reconcileEndpoints } from '../../src/controllers/endpointslice/endpoints.ts'

function svc(spec: Record<string, unknown> = {}, labels: Record<string, string> = { team: 'a' }): V1Service {
  return {
    metadata: { name: 'web', namespace: 'ns', uid: 'svc-uid', labels },
    spec: {
      selector: { app: 'web' },
      clusterIP: '10.0.0.10',
      ipFamilies: ['IPv4'],
      ports: [
        { name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' },
        { name: 'metrics', port: 9100, targetPort: 9100, protocol: 'TCP' },
      ],
      ...spec,
    },
  } as V1Service
}

function pod(name: string, ip: string, o: { ready?: boolean; deleting?: boolean; http?: number; hostname?: string; subdomain?: string; ips?: string[] } = {}): V1Pod {
  return {
    metadata: {
      name,
      namespace: 'ns',
      uid: `uid-${name}`,
      labels: { app: 'web' },
      ...(o.deleting ? { deletionTimestamp: '2024-01-01T00:00:00Z' as unknown as Date } : {}),
    },
    spec: {
      nodeName: 'n1',
      containers: [{ name: 'c', ports: o.http === undefined ? [] : [{ name: 'http', containerPort: o.http }] }],
      ...(o.hostname ? { hostname: o.hostname } : {}),
      ...(o.subdomain ? { subdomain: o.subdomain } : {}),
    },
    status: {
      phase: 'Running',
      podIP: ip,
      podIPs: (o.ips ?? [ip]).map((i) => ({ ip: i })),
      conditions: [{ type: 'Ready', status: o.ready === false ? 'False' : 'True' }],
    },
  } as V1Pod
}

function addr(name: string, ip: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { ip, targetRef: { kind: 'Pod', namespace: 'ns', name, uid: `uid-${name}` }, nodeName: 'n1', ...extra }
}

function only(actions: Action[], verb: 'create' | 'update'): KubeObject {
  if (actions.length !== 1 || actions[0].verb !== verb) throw new Error(`expected one ${verb}, got ${JSON.stringify(actions.map((a) => a.verb))}`)
  return (actions[0] as { object: KubeObject }).object
}

/** What the API would store after the action: a resourceVersion added. */
function stored(object: KubeObject): V1Endpoints {
  return { ...structuredClone(object), metadata: { ...object.metadata, uid: 'ep-uid', resourceVersion: '5' } } as V1Endpoints
}

t.test('subsets group addresses by the ports they offer', async (t) => {
  const pods = [
    pod('a', '10.1.0.3', { http: 8080 }),
    pod('b', '10.1.0.1', { http: 8080, ready: false }),
    pod('c', '10.1.0.2', { http: 9090 }),
    pod('d', '10.1.0.4'), // no 'http' port: offers only metrics
  ]
  const ep = only(reconcileEndpoints(svc(), pods, undefined), 'create')
  t.equal(ep.apiVersion, 'v1')
  t.equal(ep.kind, 'Endpoints')
  t.same(ep.metadata, { name: 'web', namespace: 'ns', labels: { team: 'a' } })
  const subsets = ep.subsets as Record<string, unknown>[]
  const byAddrs = (ips: string[]): Record<string, unknown> | undefined =>
    subsets.find((s) => JSON.stringify([...((s.addresses as { ip: string }[]) ?? []), ...((s.notReadyAddresses as { ip: string }[]) ?? [])].map((a) => a.ip)) === JSON.stringify(ips))
  t.equal(subsets.length, 3)
  // Each port is offered by its own set of addresses, so each makes its own subset.
  t.same(byAddrs(['10.1.0.3', '10.1.0.1']), {
    addresses: [addr('a', '10.1.0.3')],
    notReadyAddresses: [addr('b', '10.1.0.1')],
    ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
  })
  t.same(byAddrs(['10.1.0.2']), {
    addresses: [addr('c', '10.1.0.2')],
    ports: [{ name: 'http', port: 9090, protocol: 'TCP' }],
  })
  t.same(byAddrs(['10.1.0.2', '10.1.0.3', '10.1.0.4', '10.1.0.1']), {
    addresses: [addr('c', '10.1.0.2'), addr('a', '10.1.0.3'), addr('d', '10.1.0.4')],
    notReadyAddresses: [addr('b', '10.1.0.1')],
    ports: [{ name: 'metrics', port: 9100, protocol: 'TCP' }],
  })
})

t.test('ports offered by the same addresses share one subset', async (t) => {
  const pods = [pod('a', '10.1.0.2', { http: 8080 }), pod('b', '10.1.0.1', { http: 8080 })]
  const ep = only(reconcileEndpoints(svc(), pods, undefined), 'create')
  t.same(ep.subsets, [
    {
      addresses: [addr('b', '10.1.0.1'), addr('a', '10.1.0.2')],
      ports: [
        { name: 'http', port: 8080, protocol: 'TCP' },
        { name: 'metrics', port: 9100, protocol: 'TCP' },
      ],
    },
  ])
})

t.test('readiness, termination and publishNotReadyAddresses', async (t) => {
  const cases: { name: string; pod: V1Pod; publish?: boolean; want: 'ready' | 'notReady' | 'absent' }[] = [
    { name: 'ready pod', pod: pod('a', '10.1.0.1', { http: 80 }), want: 'ready' },
    { name: 'unready pod', pod: pod('a', '10.1.0.1', { http: 80, ready: false }), want: 'notReady' },
    { name: 'terminating pod', pod: pod('a', '10.1.0.1', { http: 80, deleting: true }), want: 'absent' },
    { name: 'unready, publishNotReady', pod: pod('a', '10.1.0.1', { http: 80, ready: false }), publish: true, want: 'ready' },
    { name: 'terminating, publishNotReady', pod: pod('a', '10.1.0.1', { http: 80, deleting: true }), publish: true, want: 'ready' },
  ]
  for (const c of cases) {
    const ep = only(reconcileEndpoints(svc({ publishNotReadyAddresses: c.publish ?? false }), [c.pod], undefined), 'create')
    const s = (ep.subsets ?? [])[0]
    const got = s === undefined ? 'absent' : s.addresses ? 'ready' : 'notReady'
    t.equal(got, c.want, c.name)
  }
})

t.test('hostname, headless without ports, family selection', async (t) => {
  const headless = svc({ clusterIP: 'None', ports: [] })
  const ep = only(reconcileEndpoints(headless, [pod('a', '10.1.0.1', { hostname: 'h', subdomain: 'web' }), pod('b', '10.1.0.2', { hostname: 'x' })], undefined), 'create')
  t.same(ep.subsets, [{ addresses: [addr('a', '10.1.0.1', { hostname: 'h' }), addr('b', '10.1.0.2')] }])
  t.same(ep.metadata!.labels, { team: 'a', 'service.kubernetes.io/headless': '' })

  const v6 = svc({ ipFamilies: ['IPv6', 'IPv4'], clusterIP: 'fd00::1' })
  const dual = only(reconcileEndpoints(v6, [pod('a', '10.1.0.1', { http: 80, ips: ['10.1.0.1', 'fd00:1::1'] }), pod('b', '10.1.0.2', { http: 80 })], undefined), 'create')
  t.same(
    (dual.subsets as { addresses: { ip: string }[] }[]).flatMap((s) => s.addresses.map((a) => a.ip)),
    ['fd00:1::1'],
    'primary family only; pods without such an address are left out',
  )
})

t.test('unchanged → nothing; changes → one update with the stored resourceVersion', async (t) => {
  const pods = [pod('a', '10.1.0.1', { http: 80 }), pod('b', '10.1.0.2', { http: 80 })]
  const existing = stored(only(reconcileEndpoints(svc(), pods, undefined), 'create'))
  t.same(reconcileEndpoints(svc(), pods, existing), [])
  t.same(reconcileEndpoints(svc(), [...pods].reverse(), existing), [], 'pod order does not matter')

  const updated = only(reconcileEndpoints(svc(), [pods[0]], existing), 'update')
  t.equal(updated.metadata!.resourceVersion, '5')
  t.equal(updated.metadata!.name, 'web')
  t.same((updated.subsets as { addresses: unknown[] }[])[0].addresses, [addr('a', '10.1.0.1')])

  const relabelled = only(reconcileEndpoints(svc({}, { team: 'b' }), pods, existing), 'update')
  t.same(relabelled.metadata!.labels, { team: 'b' })

  const emptied = only(reconcileEndpoints(svc(), [], existing), 'update')
  t.notOk('subsets' in emptied, 'no pods: no subsets')
  t.same(reconcileEndpoints(svc(), [], stored(emptied)), [])
})

t.test('more than 1000 addresses are truncated and annotated', async (t) => {
  const pods = Array.from({ length: 1005 }, (_, i) => pod(`p${i}`, `10.1.${Math.floor(i / 250)}.${i % 250}`, { http: 80, ready: i >= 10 }))
  const ep = only(reconcileEndpoints(svc(), pods, undefined), 'create')
  t.same(ep.metadata!.annotations, { 'endpoints.kubernetes.io/over-capacity': 'truncated' })
  const s = (ep.subsets as { addresses: unknown[]; notReadyAddresses: unknown[] }[])[0]
  t.equal(s.addresses.length, 995, 'every ready address kept')
  t.equal(s.notReadyAddresses.length, 5, 'not-ready addresses cut to fit')
  t.same(reconcileEndpoints(svc(), pods, stored(ep)), [], 'truncated state is stable')
  const fewer = only(reconcileEndpoints(svc(), pods.slice(0, 20), stored(ep)), 'update')
  t.notOk(fewer.metadata!.annotations, 'annotation removed when back under capacity')
})

t.test('no selector → nothing; deleted Service → delete', async (t) => {
  const existing = stored(only(reconcileEndpoints(svc(), [pod('a', '10.1.0.1', { http: 80 })], undefined), 'create'))
  t.same(reconcileEndpoints(svc({ selector: undefined }), [pod('a', '10.1.0.1')], existing), [])
  t.same(reconcileEndpoints(svc({ selector: undefined }), [], undefined), [])
  const del = reconcileEndpoints(undefined, [], existing)
  t.equal(del.length, 1)
  t.match(del[0], { verb: 'delete', namespace: 'ns', name: 'web', uid: 'ep-uid', info: { kind: 'Endpoints' } })
  t.same(reconcileEndpoints(undefined, [], undefined), [])
})
