import t from 'tap'
import type { V1Endpoint, DiscoveryV1EndpointPort, V1EndpointSlice, V1Service, V1ServicePort } from '@kubernetes/client-node'
import { backendEndpoints, backendKey, type BackendEndpoints } from '../../ingress/endpoints.ts'
import type { Backend } from '../../ingress/route-table.ts'

function service(ports: V1ServicePort[], type = 'ClusterIP', name = 'web', namespace = 'default'): V1Service {
  return { metadata: { name, namespace }, spec: { type, ports, ...(type === 'ExternalName' ? { externalName: 'example.com' } : {}) } }
}

function slice(
  name: string,
  ports: DiscoveryV1EndpointPort[],
  endpoints: V1Endpoint[],
  opts: { service?: string; namespace?: string; addressType?: string } = {},
): V1EndpointSlice {
  return {
    metadata: { name, namespace: opts.namespace ?? 'default', labels: { 'kubernetes.io/service-name': opts.service ?? 'web' } },
    addressType: opts.addressType ?? 'IPv4',
    ports,
    endpoints,
  }
}

const ep = (address: string, ready?: boolean, extra: { serving?: boolean; terminating?: boolean } = {}): V1Endpoint => ({
  addresses: [address],
  ...(ready === undefined && extra.serving === undefined ? {} : { conditions: { ready, ...extra } }),
})

const byNumber = (n: number): Backend => ({ namespace: 'default', service: 'web', port: { number: n } })
const byName = (name: string): Backend => ({ namespace: 'default', service: 'web', port: { name } })

const httpSvc = service([
  { name: 'http', port: 80, targetPort: 'web', protocol: 'TCP' },
  { name: 'metrics', port: 9090, targetPort: 9100 },
  { name: 'dns', port: 53, protocol: 'UDP' },
])
const httpSlice = slice('web-a', [{ name: 'http', port: 8080, protocol: 'TCP' }, { name: 'metrics', port: 9100 }], [ep('10.0.0.2'), ep('10.0.0.1', true)])

interface Case {
  name: string
  backend: Backend
  service: V1Service | undefined
  slices: V1EndpointSlice[]
  want: BackendEndpoints | { error: string; match: RegExp }
}

const cases: Case[] = [
  {
    name: 'port by number maps to the slice port of the same name',
    backend: byNumber(80),
    service: httpSvc,
    slices: [httpSlice],
    want: { endpoints: [{ address: '10.0.0.1', port: 8080 }, { address: '10.0.0.2', port: 8080 }] },
  },
  {
    name: 'port by name',
    backend: byName('metrics'),
    service: httpSvc,
    slices: [httpSlice],
    want: { endpoints: [{ address: '10.0.0.1', port: 9100 }, { address: '10.0.0.2', port: 9100 }] },
  },
  {
    name: 'named targetPort resolved per slice: each slice has its own number',
    backend: byName('http'),
    service: httpSvc,
    slices: [httpSlice, slice('web-b', [{ name: 'http', port: 8081 }], [ep('10.0.1.1')])],
    want: {
      endpoints: [
        { address: '10.0.0.1', port: 8080 },
        { address: '10.0.0.2', port: 8080 },
        { address: '10.0.1.1', port: 8081 },
      ],
    },
  },
  {
    name: 'unnamed single port',
    backend: byNumber(80),
    service: service([{ port: 80 }]),
    slices: [slice('web-a', [{ port: 3000 }], [ep('10.0.0.1')])],
    want: { endpoints: [{ address: '10.0.0.1', port: 3000 }] },
  },
  {
    name: 'ready true and unset are used; ready false is not, even serving and not terminating',
    backend: byNumber(80),
    service: service([{ port: 80 }]),
    slices: [
      slice('web-a', [{ port: 80 }], [
        ep('10.0.0.1', true),
        ep('10.0.0.2'),
        ep('10.0.0.3', false),
        ep('10.0.0.4', false, { serving: true, terminating: true }),
        ep('10.0.0.5', false, { serving: true, terminating: false }),
      ]),
    ],
    want: { endpoints: [{ address: '10.0.0.1', port: 80 }, { address: '10.0.0.2', port: 80 }] },
  },
  {
    name: 'none ready: empty, no fallback to serving-terminating endpoints',
    backend: byNumber(80),
    service: service([{ port: 80 }]),
    slices: [slice('web-a', [{ port: 80 }], [ep('10.0.0.1', false, { serving: true, terminating: true }), ep('10.0.0.2', false)])],
    want: { endpoints: [] },
  },
  {
    name: 'dedupe address:port across slices; same address on another port stays',
    backend: byNumber(80),
    service: service([{ name: 'http', port: 80 }]),
    slices: [
      slice('web-a', [{ name: 'http', port: 8080 }], [ep('10.0.0.1'), ep('10.0.0.2')]),
      slice('web-b', [{ name: 'http', port: 8080 }], [ep('10.0.0.2'), ep('10.0.0.1', false)]),
      slice('web-c', [{ name: 'http', port: 8081 }], [ep('10.0.0.1')]),
    ],
    want: {
      endpoints: [
        { address: '10.0.0.1', port: 8080 },
        { address: '10.0.0.1', port: 8081 },
        { address: '10.0.0.2', port: 8080 },
      ],
    },
  },
  {
    name: 'IPv6 slices as written, first address only, FQDN slices skipped',
    backend: byNumber(80),
    service: service([{ port: 80 }]),
    slices: [
      slice('web-6', [{ port: 80 }], [{ addresses: ['fd00::2', 'fd00::99'] }], { addressType: 'IPv6' }),
      slice('web-4', [{ port: 80 }], [ep('10.0.0.1')]),
      slice('web-f', [{ port: 80 }], [ep('web.example.com')], { addressType: 'FQDN' }),
    ],
    want: { endpoints: [{ address: '10.0.0.1', port: 80 }, { address: 'fd00::2', port: 80 }] },
  },
  {
    name: 'slices of other services, other namespaces, unlabelled, UDP ports, or without the port name are ignored',
    backend: byName('http'),
    service: service([{ name: 'http', port: 80 }]),
    slices: [
      slice('other-svc', [{ name: 'http', port: 80 }], [ep('10.9.0.1')], { service: 'api' }),
      slice('other-ns', [{ name: 'http', port: 80 }], [ep('10.9.0.2')], { namespace: 'prod' }),
      { metadata: { name: 'unlabelled', namespace: 'default' }, addressType: 'IPv4', ports: [{ name: 'http', port: 80 }], endpoints: [ep('10.9.0.3')] },
      slice('udp', [{ name: 'http', port: 80, protocol: 'UDP' }], [ep('10.9.0.4')]),
      slice('other-port', [{ name: 'grpc', port: 80 }], [ep('10.9.0.5')]),
      slice('no-ports', [], [ep('10.9.0.6')]),
      slice('good', [{ name: 'http', port: 80 }], [ep('10.0.0.1'), { addresses: [] }]),
    ],
    want: { endpoints: [{ address: '10.0.0.1', port: 80 }] },
  },
  {
    name: 'no slices yet: empty',
    backend: byNumber(80),
    service: service([{ port: 80 }]),
    slices: [],
    want: { endpoints: [] },
  },
  {
    name: 'missing service',
    backend: byNumber(80),
    service: undefined,
    slices: [httpSlice],
    want: { error: 'ServiceNotFound', match: /^service default\/web not found/ },
  },
  {
    name: 'missing port number',
    backend: byNumber(8080),
    service: httpSvc,
    slices: [httpSlice],
    want: { error: 'PortNotFound', match: /^service default\/web has no TCP port 8080 \(it has http=80\/TCP, metrics=9090\/TCP, dns=53\/UDP\)/ },
  },
  {
    name: 'port number of a UDP port',
    backend: byNumber(53),
    service: httpSvc,
    slices: [],
    want: { error: 'PortNotFound', match: /has no TCP port 53 / },
  },
  {
    name: 'missing port name',
    backend: byName('https'),
    service: httpSvc,
    slices: [httpSlice],
    want: { error: 'PortNotFound', match: /^service default\/web has no TCP port named "https"/ },
  },
  {
    name: 'service without ports',
    backend: byNumber(80),
    service: service([]),
    slices: [],
    want: { error: 'PortNotFound', match: /\(it has no ports\)/ },
  },
  {
    name: 'ExternalName',
    backend: byNumber(80),
    service: service([{ port: 80 }], 'ExternalName'),
    slices: [],
    want: { error: 'ExternalName', match: /^service default\/web is of type ExternalName, which weft ingress does not support/ },
  },
]

for (const c of cases) {
  t.test(c.name, async (t) => {
    const got = backendEndpoints(c.backend, c.service, c.slices)
    if ('match' in c.want) {
      if (!('error' in got)) return t.fail(`want error ${c.want.error}, got ${JSON.stringify(got)}`)
      t.equal(got.error, c.want.error)
      t.match(got.message, c.want.match)
    } else {
      t.same(got, c.want)
    }
  })
}

t.test('backendKey', async (t) => {
  t.equal(backendKey(byNumber(80)), 'default/web:80')
  t.equal(backendKey({ namespace: 'prod', service: 'api', port: { name: 'http' } }), 'prod/api:http')
})
