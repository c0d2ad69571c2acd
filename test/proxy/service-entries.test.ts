import t from 'tap'
import type { V1EndpointSlice, V1Service } from '@kubernetes/client-node'
import { noEndpointVerdict, usableEndpoints, type Endpoint, type ServiceEntry } from '../../proxy/model.ts'
import { parseService, parseSlices, portEndpoints, serviceEntries as entriesOf, servicePorts as portsOf } from '../../proxy/service-entries.ts'
import { ChangeTracker } from '../../proxy/change-tracker.ts'
import { chooseMode, parseMode } from '../../proxy/mode.ts'

function service(spec: V1Service['spec'], status?: V1Service['status'], annotations?: Record<string, string>): V1Service {
  return { metadata: { namespace: 'ns', name: 'web', annotations }, spec, status }
}

/** The ports and entries of a Service as the change tracker makes them: parsed first. */
const servicePorts = (svc: V1Service, family: 4 | 6) => portsOf(parseService(svc), family)
const serviceEntries = (svc: V1Service, slices: Parameters<typeof entriesOf>[1], family: 4 | 6) => entriesOf(parseService(svc), slices, family)

function slice(name: string, addressType: string, ports: { name?: string; port: number; protocol?: string }[], endpoints: V1EndpointSlice['endpoints']): V1EndpointSlice {
  return { metadata: { namespace: 'ns', name, labels: { 'kubernetes.io/service-name': 'web' } }, addressType, ports, endpoints }
}

t.test('servicePorts: one entry per port of the family, with every option carried', async (t) => {
  const svc = service(
    {
      type: 'LoadBalancer',
      clusterIP: '10.96.0.5',
      clusterIPs: ['10.96.0.5', 'fd00::5'],
      ports: [{ name: 'http', port: 80, nodePort: 30080 }, { name: 'dns', port: 53, protocol: 'UDP', nodePort: 30053 }],
      externalIPs: ['192.0.2.1', '2001:db8::1'],
      loadBalancerSourceRanges: ['198.51.100.0/24', '2001:db8:1::/48'],
      sessionAffinity: 'ClientIP',
      externalTrafficPolicy: 'Local',
      internalTrafficPolicy: 'Local',
    },
    { loadBalancer: { ingress: [{ ip: '203.0.113.7' }, { ip: '203.0.113.8', ipMode: 'Proxy' }, { hostname: 'lb.example' }] } },
  )
  const v4 = servicePorts(svc, 4)
  t.same(v4.map((p) => p.id), ['ns/web:http/TCP', 'ns/web:dns/UDP'])
  t.match(v4[0], { clusterIP: '10.96.0.5', port: 80, nodePort: 30080, externalIPs: ['192.0.2.1'], loadBalancerIPs: ['203.0.113.7'], loadBalancerSourceRanges: ['198.51.100.0/24'], affinitySeconds: 10800, externalLocal: true, internalLocal: true })
  const v6 = servicePorts(svc, 6)
  t.match(v6[1], { clusterIP: 'fd00::5', protocol: 'UDP', externalIPs: ['2001:db8::1'], loadBalancerIPs: [], loadBalancerSourceRanges: ['2001:db8:1::/48'] })
})

t.test('servicePorts: headless, ExternalName and other-family Services have none; ClusterIP type has no NodePort', async (t) => {
  t.same(servicePorts(service({ clusterIP: 'None', ports: [{ port: 80 }] }), 4), [])
  t.same(servicePorts(service({ type: 'ExternalName', externalName: 'x.example', ports: [{ port: 80 }] }), 4), [])
  t.same(servicePorts(service({ clusterIP: '10.96.0.5', ports: [{ port: 80 }] }), 6), [])
  const [p] = servicePorts(service({ clusterIP: '10.96.0.5', ports: [{ port: 80, nodePort: 30001 }], sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 60 } } }), 4)
  t.match(p, { id: 'ns/web:/TCP', nodePort: 0, affinitySeconds: 60, loadBalancerIPs: [] })
  const annotated = servicePorts(service({ type: 'LoadBalancer', clusterIP: '10.96.0.5', ports: [{ port: 80 }] }, undefined, { 'service.beta.kubernetes.io/load-balancer-source-ranges': '10.0.0.0/8, 192.168.0.0/16' }), 4)
  t.same(annotated[0].loadBalancerSourceRanges, ['10.0.0.0/8', '192.168.0.0/16'])
})

t.test('portEndpoints: matching port by name and protocol, conditions defaulted, duplicates merged, sorted', async (t) => {
  const [port] = servicePorts(service({ clusterIP: '10.96.0.5', ports: [{ name: 'http', port: 80 }] }), 4)
  const slices = [
    slice('a', 'IPv4', [{ name: 'http', port: 8080 }, { name: 'other', port: 9 }], [
      { addresses: ['10.244.1.9'], nodeName: 'n1' },
      { addresses: ['10.244.1.3'], conditions: { ready: false, serving: true, terminating: true }, nodeName: 'n2' },
    ]),
    slice('b', 'IPv4', [{ name: 'http', port: 8080 }], [{ addresses: ['10.244.1.9'], conditions: { ready: false } }]),
    slice('c', 'IPv6', [{ name: 'http', port: 8080 }], [{ addresses: ['fd00::9'] }]),
    slice('d', 'IPv4', [{ name: 'http', port: 8080, protocol: 'UDP' }], [{ addresses: ['10.244.9.9'] }]),
  ]
  t.same(portEndpoints(port, parseSlices(slices, 'n1').slices, 4), [
    { ip: '10.244.1.3', port: 8080, ready: false, serving: true, terminating: true, local: false },
    { ip: '10.244.1.9', port: 8080, ready: true, serving: true, terminating: false, local: true },
  ])
  t.same(serviceEntries(service({ clusterIP: '10.96.0.5', ports: [{ name: 'http', port: 80 }] }), [], 4)[0].endpoints, [])
})

t.test('usableEndpoints and noEndpointVerdict follow kube-proxy', async (t) => {
  const ep = (ip: string, o: Partial<Endpoint>): Endpoint => ({ ip, port: 80, ready: true, serving: true, terminating: false, local: false, ...o })
  const [port] = servicePorts(service({ clusterIP: '10.96.0.5', ports: [{ port: 80 }] }), 4)
  const entry = (endpoints: Endpoint[], o: Partial<typeof port> = {}): ServiceEntry => ({ port: { ...port, ...o }, endpoints })
  const ready = ep('10.0.0.1', {})
  const terminating = ep('10.0.0.2', { ready: false, terminating: true })
  const notServing = ep('10.0.0.3', { ready: false, serving: false, terminating: true })
  t.same(usableEndpoints(entry([ready, terminating]), 'internal'), [ready], 'ready ones first')
  t.same(usableEndpoints(entry([terminating, notServing]), 'internal'), [terminating], 'serving terminating ones when nothing is ready')
  t.same(noEndpointVerdict(entry([notServing]), 'internal'), 'reject')
  t.same(noEndpointVerdict(entry([]), 'external'), 'reject')
  t.equal(noEndpointVerdict(entry([ready]), 'internal'), undefined)
  const local = ep('10.0.0.4', { local: true })
  t.same(usableEndpoints(entry([ready, local], { internalLocal: true }), 'internal'), [local])
  t.same(usableEndpoints(entry([ready, local], { internalLocal: true }), 'external'), [ready, local], 'internal policy leaves external traffic alone')
  t.equal(noEndpointVerdict(entry([ready], { externalLocal: true }), 'external'), 'drop', 'endpoints elsewhere only: drop')
})

t.test('ChangeTracker: only what changed is reported, removals included, per family', async (t) => {
  const tracker = new ChangeTracker([4, 6], 'n1')
  const svc = service({ clusterIP: '10.96.0.5', clusterIPs: ['10.96.0.5'], ports: [{ name: 'http', port: 80 }] })
  tracker.setService(svc)
  tracker.setSlice(slice('a', 'IPv4', [{ name: 'http', port: 8080 }], [{ addresses: ['10.244.1.9'], nodeName: 'n1' }]))
  t.equal(tracker.pending, 1)
  let changed = tracker.take()
  t.same([...changed.get(4)!], ['ns/web:http/TCP'])
  t.same([...changed.get(6)!], [])
  t.same(tracker.entries(4).get('ns/web:http/TCP')?.endpoints.map((e) => e.ip), ['10.244.1.9'])
  t.equal(tracker.take().get(4)!.size, 0, 'nothing pending, nothing changed')
  tracker.setService(service({ clusterIP: '10.96.0.5', clusterIPs: ['10.96.0.5'], ports: [{ name: 'web', port: 80 }] }))
  changed = tracker.take()
  t.same([...changed.get(4)!].sort(), ['ns/web:http/TCP', 'ns/web:web/TCP'], 'a renamed port is a removal and an addition')
  t.same([...tracker.entries(4).keys()], ['ns/web:web/TCP'])
  tracker.deleteSlice(slice('a', 'IPv4', [], []))
  tracker.deleteService(svc)
  changed = tracker.take()
  t.same([...changed.get(4)!], ['ns/web:web/TCP'])
  t.equal(tracker.entries(4).size, 0)
  tracker.setSlice({ metadata: { namespace: 'ns', name: 'orphan' }, addressType: 'IPv4', endpoints: [] })
  t.equal(tracker.pending, 0, 'a slice without the service-name label is ignored')
})

t.test('mode: nftables when it works, userspace when asked or when it cannot be used', async (t) => {
  const works = async () => ({ ok: true as const })
  const broken = async () => ({ ok: false as const, reason: 'nft is not installed' })
  t.same(await chooseMode('auto', works), { mode: 'nftables', reason: 'nftables works' })
  t.same(await chooseMode('auto', broken), { mode: 'userspace', reason: 'nftables cannot be used: nft is not installed' })
  t.same(await chooseMode('userspace', works), { mode: 'userspace', reason: 'requested' })
  await t.rejects(chooseMode('nftables', broken), /nft is not installed.*--mode userspace/)
  t.equal(parseMode(''), 'auto')
  t.throws(() => parseMode('ipvs'), /must be nftables, userspace or auto/)
})

t.test('servicePorts: hostile values are parsed, canonical, and dropped when they do not parse', async (t) => {
  const svc = service(
    {
      type: 'LoadBalancer',
      clusterIP: '10.96.0.5',
      clusterIPs: ['10.96.0.5'],
      ports: [{ name: 'http', port: 80, nodePort: 30080 }],
      externalIPs: ['192.0.2.1', '192.0.2.2\nflush ruleset', '127.0.0.1', 'fe80::1%eth0', '010.000.002.003', '192.0.2.1'],
      loadBalancerSourceRanges: ['10.0.0.0/8; flush ruleset', ' 192.168.1.1/16 ', '10.0.0.0/8\ndelete table ip weft-proxy'],
      sessionAffinity: 'ClientIP',
      sessionAffinityConfig: { clientIP: { timeoutSeconds: '10s; } ; flush ruleset ; add set x {' as unknown as number } },
    },
    { loadBalancer: { ingress: [{ ip: '203.0.113.7 } ; flush ruleset' }, { ip: '203.0.113.8' }, { ip: '0.0.0.0' }] } },
  )
  const [p] = servicePorts(svc, 4)
  t.same(p?.externalIPs, ['192.0.2.1', '10.0.2.3'], 'good addresses kept (canonical, once); the rest dropped')
  t.same(p?.loadBalancerIPs, ['203.0.113.8'])
  t.same(p?.loadBalancerSourceRanges, ['192.168.0.0/16'], 'a padded range is kept, as its network')
  t.equal(p?.affinitySeconds, 10800, 'a timeout that is not a number falls back to the default')
  const none = servicePorts(service({ type: 'LoadBalancer', clusterIP: '10.96.0.5', ports: [{ port: 80 }], loadBalancerSourceRanges: ['bogus', '10.0.0.0/8 accept'] }), 4)
  t.same(none[0]?.loadBalancerSourceRanges, [])
  t.equal((none[0] as { loadBalancerSourcesRestricted?: boolean } | undefined)?.loadBalancerSourcesRestricted, true, 'ranges given but none valid: the load balancer admits no one')
  const annotated = servicePorts(service({ type: 'LoadBalancer', clusterIP: '10.96.0.5', ports: [{ port: 80 }] }, undefined, { 'service.beta.kubernetes.io/load-balancer-source-ranges': '10.0.0.0/8 } ; flush ruleset ; add x {, 192.168.0.0/16' }), 4)
  t.same(annotated[0]?.loadBalancerSourceRanges, ['192.168.0.0/16'])
})

t.test('servicePorts: a dual-stack load balancer restricted only in IPv4 admits no one over IPv6', async (t) => {
  const svc = service(
    { type: 'LoadBalancer', clusterIPs: ['10.96.0.5', 'fd00:96::5'], ipFamilies: ['IPv4', 'IPv6'], ports: [{ port: 80, nodePort: 30080 }], loadBalancerSourceRanges: ['192.168.0.0/16'] },
    { loadBalancer: { ingress: [{ ip: '203.0.113.7' }, { ip: '2001:db8::7' }] } },
  )
  const [v4] = servicePorts(svc, 4)
  const [v6] = servicePorts(svc, 6)
  t.same(v4?.loadBalancerSourceRanges, ['192.168.0.0/16'])
  t.same(v6?.loadBalancerSourceRanges, [], 'no IPv6 range')
  t.equal(v6?.loadBalancerSourcesRestricted, true, 'but the Service is restricted: the IPv6 load-balancer IP must not fail open')
  const open = servicePorts(service({ type: 'LoadBalancer', clusterIPs: ['10.96.0.5', 'fd00:96::5'], ports: [{ port: 80 }] }, { loadBalancer: { ingress: [{ ip: '2001:db8::7' }] } }), 6)
  t.equal(open[0]?.loadBalancerSourcesRestricted, false, 'no ranges at all: open')
})

t.test('servicePorts: a bad cluster IP, name, port or protocol drops only what it spoils', async (t) => {
  t.same(servicePorts(service({ clusterIP: '10.96.0.5\nflush ruleset', ports: [{ port: 80 }] }), 4), [], 'no usable cluster IP: nothing')
  t.same(servicePorts({ metadata: { namespace: 'ns', name: 'web x; flush ruleset' }, spec: { clusterIP: '10.96.0.5', ports: [{ port: 80 }] } }, 4), [], 'a name nft could choke on: nothing')
  t.same(servicePorts({ metadata: { namespace: 'n\ns', name: 'web' }, spec: { clusterIP: '10.96.0.5', ports: [{ port: 80 }] } }, 4), [])
  const ports = servicePorts(service({
    type: 'NodePort',
    clusterIP: '10.96.0.5',
    ports: [
      { name: 'ok', port: 80, nodePort: 30080 },
      { name: 'bad name; drop', port: 81 },
      { name: 'proto', port: 82, protocol: 'ICMP' },
      { name: 'zero', port: 0 },
      { name: 'text', port: '83 drop' as unknown as number },
      { name: 'np', port: 84, nodePort: 99999 },
      { name: 'ok', port: 85 },
    ],
  }), 4)
  t.same(ports.map((p) => `${p.portName}:${p.port}:${p.nodePort}`), ['ok:80:30080', 'np:84:0'])
})

t.test('portEndpoints: addresses and ports that do not parse are left out', async (t) => {
  const [port] = servicePorts(service({ clusterIP: '10.96.0.5', ports: [{ name: 'http', port: 80 }] }), 4)
  const eps = portEndpoints(port!, parseSlices([
    slice('a', 'IPv4', [{ name: 'http', port: 8080 }], [
      { addresses: ['10.244.1.9\nflush ruleset'] },
      { addresses: ['10.244.1.8 ; drop'] },
      { addresses: ['fd00::1'] },
      { addresses: ['010.244.001.007'] },
    ]),
    slice('b', 'IPv4', [{ name: 'http', port: '80; drop' as unknown as number }], [{ addresses: ['10.244.1.6'] }]),
  ], 'n1').slices, 4)
  t.same(eps.map((e) => `${e.ip}:${e.port}`), ['10.244.1.7:8080'])
})

t.test('ChangeTracker: health check ports and the entries of one Service, kept as Services change', async (t) => {
  const tracker = new ChangeTracker([4, 6], 'n1')
  const lb = (hc: number) => service({ type: 'LoadBalancer', clusterIPs: ['10.96.0.5', 'fd00::5'], externalTrafficPolicy: 'Local', healthCheckNodePort: hc, ports: [{ name: 'a', port: 80 }, { name: 'b', port: 81 }] })
  tracker.setService(lb(32000))
  tracker.setService({ metadata: { namespace: 'ns', name: 'plain' }, spec: { clusterIP: '10.96.0.6', ports: [{ port: 80 }] } })
  tracker.setSlice(slice('a', 'IPv4', [{ name: 'a', port: 8080 }], [{ addresses: ['10.244.1.9'], nodeName: 'n1' }]))
  tracker.take()
  t.same([...tracker.healthCheckNodePorts()], [['ns/web', 32000]], 'only the Service that has one')
  t.same(tracker.serviceEntries(4, 'ns/web').map((e) => `${e.port.id} ${e.endpoints.map((ep) => ep.ip)}`), ['ns/web:a/TCP 10.244.1.9', 'ns/web:b/TCP '])
  t.same(tracker.serviceEntries(6, 'ns/web').map((e) => e.port.clusterIP), ['fd00::5', 'fd00::5'])
  t.same(tracker.serviceEntries(4, 'ns/none'), [])
  tracker.setService(lb(32001))
  tracker.take()
  t.same([...tracker.healthCheckNodePorts()], [['ns/web', 32001]], 'a changed port')
  tracker.deleteService(lb(32001))
  tracker.take()
  t.equal(tracker.healthCheckNodePorts().size, 0, 'gone with the Service')
  t.same(tracker.serviceEntries(4, 'ns/web'), [])
})

t.test('parseSlices: each address parsed once for every port and family; what is dropped is reported', async (t) => {
  const { slices, problems } = parseSlices([
    slice('a', 'IPv4', [{ name: 'http', port: 8080 }, { name: 'bad', port: 0 }], [{ addresses: ['010.244.001.007'], nodeName: 'n1' }, { addresses: ['fd00::1'] }]),
    slice('f', 'FQDN', [{ port: 80 }], [{ addresses: ['example.com'] }]),
  ], 'n1')
  t.same(slices, [{ family: 4, ports: [{ name: 'http', protocol: 'TCP', port: 8080 }, { name: 'bad', protocol: 'TCP', port: undefined }], endpoints: [{ ip: '10.244.1.7', ready: true, serving: true, terminating: false, local: true }] }])
  t.same(problems.map((p) => [p.field, p.kind]), [
    ['EndpointSlice "a": ports[1].port', 'endpointslice.ports.port'],
    ['EndpointSlice "a": endpoints[1].addresses[0]', 'endpointslice.endpoints.addresses'],
  ])
})
