import t from 'tap'
import type { V1EndpointSlice, V1Pod, V1Service } from '@kubernetes/client-node'
import { buildZoneIndex, defaultZoneConfig, type ZoneIndex } from '../../dns/zone-index.ts'
import { canonicalIP, dashedIP, ipFromDashed, ipFromReverseName, lowerName, reverseName } from '../../dns/names.ts'

t.test('names: canonical addresses', async (t) => {
  const table: [string, string | undefined][] = [
    ['10.0.0.1', '10.0.0.1'],
    ['255.255.255.255', '255.255.255.255'],
    ['010.0.0.1', undefined],
    ['256.0.0.1', undefined],
    ['1.2.3', undefined],
    ['1.2.3.4.5', undefined],
    ['1..3.4', undefined],
    ['FD00:0000:0000:0000:0000:0000:0000:000A', 'fd00::a'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
    ['::', '::'],
    ['::1', '::1'],
    ['fe80::', 'fe80::'],
    ['::ffff:10.0.0.1', '::ffff:a00:1'],
    ['1:2:3:4:5:6:7', undefined],
    ['1::2::3', undefined],
    ['12345::', undefined],
    ['1:2:3:4:5:6:7:8:9', undefined],
    ['1:2:3:4:5:6:7::8', undefined],
    ['not-an-ip', undefined],
    ['', undefined],
  ]
  for (const [input, want] of table) t.equal(canonicalIP(input), want, JSON.stringify(input))
})

t.test('names: dashed labels and reverse names round-trip', async (t) => {
  const table: [string, string, string][] = [
    ['10.244.1.5', '10-244-1-5', '5.1.244.10.in-addr.arpa'],
    ['fd00::5', 'fd00--5', '5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa'],
    ['::1', '--1', '1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa'],
    ['2001:db8::1:0:0:1', '2001-db8--1-0-0-1', '1.0.0.0.0.0.0.0.0.0.0.0.1.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa'],
  ]
  for (const [ip, dashed, reverse] of table) {
    t.equal(dashedIP(ip), dashed)
    t.equal(ipFromDashed(dashed), ip)
    t.equal(reverseName(ip), reverse)
    t.equal(ipFromReverseName(reverse), ip)
  }
  t.equal(ipFromDashed('10-244-1'), undefined)
  t.equal(ipFromDashed('web'), undefined)
  t.equal(ipFromReverseName('1.0.0.10.in-addr.arpa.extra'), undefined)
  t.equal(ipFromReverseName('0.10.in-addr.arpa'), undefined)
  t.equal(ipFromReverseName('x.0.0.10.in-addr.arpa'), undefined)
  t.equal(ipFromReverseName('10.0.0.1.example'), undefined)
  t.equal(ipFromReverseName('00.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa'), undefined)
  t.equal(lowerName('Web.Default.SVC.'), 'web.default.svc')
})

const services: V1Service[] = [
  { metadata: { namespace: 'a', name: 'web' }, spec: { clusterIP: '10.96.0.1', ports: [{ name: 'http', port: 80 }] } },
  { metadata: { namespace: 'a', name: 'same-ip-twin' }, spec: { clusterIP: '10.96.0.1' } },
  { metadata: { namespace: 'b', name: 'db' }, spec: { clusterIP: 'None' } },
  { metadata: { namespace: 'b', name: 'other' }, spec: { clusterIP: 'None' } },
  { metadata: { namespace: 'c', name: 'gone' }, spec: { clusterIP: 'None' } },
  { metadata: { namespace: 'd', name: 'ext' }, spec: { type: 'ExternalName', externalName: 'x.example' } },
  { metadata: { namespace: 'd', name: 'no-ext' }, spec: { type: 'ExternalName' } },
  { metadata: { namespace: 'e', name: 'bad-ip' }, spec: { clusterIP: 'bogus' } },
]

function slice(namespace: string, svc: string, endpoints: V1EndpointSlice['endpoints'], addressType = 'IPv4'): V1EndpointSlice {
  return { metadata: { namespace, name: `${svc}-x`, labels: { 'kubernetes.io/service-name': svc } }, addressType, ports: [{ name: 'p', port: 1 }], endpoints }
}

const slices: V1EndpointSlice[] = [
  slice('b', 'db', [{ addresses: ['10.244.0.1'], hostname: 'DB-0' }, { addresses: ['10.244.0.2'] }]),
  slice('b', 'other', [{ addresses: ['10.244.0.1'], hostname: 'x' }]),
  slice('c', 'gone', [{ addresses: ['10.244.0.3'], conditions: { ready: false } }]),
  slice('a', 'web', [{ addresses: ['10.244.0.9'] }]),
  slice('b', 'nosuch', [{ addresses: ['10.244.0.8'] }]),
]

const pods: V1Pod[] = [
  { metadata: { namespace: 'a', name: 'p1' }, status: { phase: 'Running', podIPs: [{ ip: '10.244.0.1' }, { ip: 'FD00::1' }] } },
  { metadata: { namespace: 'b', name: 'p2' }, status: { phase: 'Running', podIP: '10.244.0.2' } },
  { metadata: { namespace: 'x', name: 'host1' }, spec: { hostNetwork: true, containers: [] }, status: { phase: 'Running', podIP: '192.168.1.10' } },
  { metadata: { namespace: 'y', name: 'host2' }, spec: { hostNetwork: true, containers: [] }, status: { phase: 'Running', podIP: '192.168.1.10' } },
  { metadata: { namespace: 'z', name: 'done' }, status: { phase: 'Failed', podIP: '10.244.0.7' } },
  { metadata: { namespace: 'z', name: 'nostatus' } },
]

const index: ZoneIndex = buildZoneIndex({ services, slices, pods }, defaultZoneConfig)

t.test('index: which Services get names', async (t) => {
  t.equal(index.serviceCount, 5)
  t.equal(index.service('a', 'web')?.kind, 'cluster')
  t.equal(index.service('b', 'db')?.kind, 'headless')
  t.equal(index.service('c', 'gone'), undefined, 'headless without ready endpoints')
  t.notOk(index.hasServiceNamespace('c'))
  t.equal(index.service('d', 'ext')?.externalName, 'x.example')
  t.equal(index.service('d', 'no-ext'), undefined, 'ExternalName without a name')
  t.equal(index.service('e', 'bad-ip'), undefined, 'unparseable clusterIP')
  t.same(index.service('b', 'db')?.v4, ['10.244.0.1', '10.244.0.2'])
  t.same(index.endpointsNamed(index.service('b', 'db')!, 'db-0').map((e) => e.address), ['10.244.0.1'], 'hostnames lower-cased')
  t.same(index.service('a', 'web')?.endpoints, [], 'slices of ClusterIP Services are not kept')
  t.equal(index.serial, 1)
})

t.test('index: PTR owners', async (t) => {
  t.same(index.ptrOwners('10.96.0.1').map((o) => index.ownerName(o)), ['web.a.svc.cluster.local', 'same-ip-twin.a.svc.cluster.local'])
  t.same(index.ptrOwners('10.244.0.1').map((o) => index.ownerName(o)), ['db-0.db.b.svc.cluster.local', 'x.other.b.svc.cluster.local'])
  t.same(index.ptrOwners('10.244.0.2').map((o) => index.ownerName(o)), ['10-244-0-2.db.b.svc.cluster.local'])
  t.same(index.ptrOwners('10.244.0.3'), [])
  t.same(index.ptrOwners('10.244.0.9'), [])
})

t.test('index: podNamespace', async (t) => {
  t.equal(index.podNamespace('10.244.0.1'), 'a')
  t.equal(index.podNamespace('fd00:0::1'), 'a', 'IPv6 compared in canonical form')
  t.equal(index.podNamespace('10.244.0.2'), 'b')
  t.equal(index.podNamespace('192.168.1.10'), 'x', 'shared hostNetwork address: the first pod')
  t.ok(index.hasPod('y', '192.168.1.10'))
  t.equal(index.podNamespace('10.244.0.7'), undefined, 'terminal pods are not indexed')
  t.equal(index.podNamespace('10.9.9.9'), undefined)
  t.equal(index.podNamespace('garbage'), undefined)
  const disabled = buildZoneIndex({ services, slices, pods }, { ...defaultZoneConfig, pods: 'disabled' })
  t.equal(disabled.podNamespace('10.244.0.1'), 'a', 'pods are indexed for autopath even when pod records are disabled')
})

t.test('index: config is copied and frozen', async (t) => {
  const nameserverIPs = ['10.96.0.10']
  const idx = buildZoneIndex({ services: [], slices: [], pods: [] }, { zone: 'Cluster.Local.', ttl: 7, pods: 'insecure', nameserverIPs }, 9)
  nameserverIPs.push('10.96.0.11')
  t.same(idx.config.nameserverIPs, ['10.96.0.10'])
  t.equal(idx.zone, 'cluster.local')
  t.equal(idx.serial, 9)
  t.ok(Object.isFrozen(idx.config))
})

t.test('index: large headless Services look hostnames up by map', async (t) => {
  const endpoints = Array.from({ length: 50 }, (_, i) => ({ addresses: [`10.1.0.${i}`], hostname: `h${i % 10}` }))
  const idx = buildZoneIndex({ services: [{ metadata: { namespace: 'n', name: 'big' }, spec: { clusterIP: 'None' } }], slices: [slice('n', 'big', endpoints)], pods: [] }, defaultZoneConfig)
  const entry = idx.service('n', 'big')!
  t.same(idx.endpointsNamed(entry, 'h3').map((e) => e.address), ['10.1.0.3', '10.1.0.13', '10.1.0.23', '10.1.0.33', '10.1.0.43'])
  t.same(idx.endpointsNamed(entry, 'nope'), [])
  t.equal(entry.v4.length, 50)
})
