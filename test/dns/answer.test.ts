import t from 'tap'
import type { V1EndpointSlice, V1Pod, V1Service } from '@kubernetes/client-node'
import { answer } from '../../dns/answer.ts'
import { RRClass, RRType, Rcode, type Answer, type ResourceRecord } from '../../dns/records.ts'
import { buildZoneIndex, defaultZoneConfig, type PodRecordsMode, type ZoneConfig } from '../../dns/zone-index.ts'

const Z = 'cluster.local'

const services: V1Service[] = [
  {
    metadata: { namespace: 'default', name: 'web' },
    spec: {
      clusterIP: '10.96.0.10',
      clusterIPs: ['10.96.0.10', 'FD00:0::A'],
      ports: [{ name: 'http', port: 80, protocol: 'TCP' }, { name: 'dns', port: 53, protocol: 'UDP' }, { port: 9000 }],
    },
  },
  { metadata: { namespace: 'default', name: 'plain' }, spec: { clusterIP: '10.96.0.11', ports: [{ port: 80 }] } },
  { metadata: { namespace: 'default', name: 'noip' }, spec: { clusterIP: '', ports: [{ name: 'x', port: 80 }] } },
  { metadata: { namespace: 'default', name: 'ext' }, spec: { type: 'ExternalName', externalName: 'Example.COM.', clusterIP: '10.96.0.99' } },
  { metadata: { namespace: 'default', name: 'alias' }, spec: { type: 'ExternalName', externalName: 'web.default.svc.cluster.local' } },
  { metadata: { namespace: 'default', name: 'loop' }, spec: { type: 'ExternalName', externalName: 'loop.default.svc.cluster.local' } },
  { metadata: { namespace: 'data', name: 'db' }, spec: { clusterIP: 'None', clusterIPs: ['None'], ports: [{ name: 'pg', port: 5432 }] } },
  { metadata: { namespace: 'data', name: 'pub' }, spec: { clusterIP: 'None', publishNotReadyAddresses: true } },
  { metadata: { namespace: 'data', name: 'empty' }, spec: { clusterIP: 'None', ports: [{ name: 'pg', port: 5432 }] } },
  { metadata: { namespace: 'solo', name: 'lonely' }, spec: { clusterIP: 'None' } },
]

function slice(namespace: string, svc: string, name: string, addressType: string, ports: V1EndpointSlice['ports'], endpoints: V1EndpointSlice['endpoints']): V1EndpointSlice {
  return { metadata: { namespace, name, labels: { 'kubernetes.io/service-name': svc } }, addressType, ports, endpoints }
}

const slices: V1EndpointSlice[] = [
  slice('data', 'db', 'db-a', 'IPv4', [{ name: 'pg', port: 5432, protocol: 'TCP' }, { port: 7000 }], [
    { addresses: ['10.244.1.5'], hostname: 'db-0' },
    { addresses: ['10.244.1.6'] },
    { addresses: ['10.244.1.7'], conditions: { ready: false } },
  ]),
  slice('data', 'db', 'db-b', 'IPv4', [{ name: 'pg', port: 5432 }], [{ addresses: ['10.244.1.6'], conditions: { ready: true } }]),
  slice('data', 'db', 'db-c', 'IPv6', [{ name: 'pg', port: 5432 }], [{ addresses: ['fd00::1:6'], conditions: { ready: true } }]),
  slice('data', 'db', 'db-fqdn', 'FQDN', [{ name: 'pg', port: 5432 }], [{ addresses: ['db.example.com'] }]),
  slice('data', 'pub', 'pub-a', 'IPv4', [{ name: 'gossip', port: 7946, protocol: 'UDP' }], [{ addresses: ['10.244.3.1'], conditions: { ready: false } }]),
  slice('data', 'empty', 'empty-a', 'IPv4', [{ name: 'pg', port: 5432 }], [{ addresses: ['10.244.4.1'], conditions: { ready: false } }]),
  slice('default', 'web', 'web-a', 'IPv4', [{ name: 'http', port: 8080 }], [{ addresses: ['10.244.9.9'] }]),
]

function pod(namespace: string, name: string, ips: string[], phase = 'Running', deleting = false): V1Pod {
  return {
    metadata: { namespace, name, ...(deleting ? { deletionTimestamp: new Date() } : {}) },
    status: { phase, podIP: ips[0], podIPs: ips.map((ip) => ({ ip })) },
  }
}

const pods: V1Pod[] = [
  pod('default', 'a', ['10.244.2.3', 'fd00::2:3']),
  pod('default', 'done', ['10.244.2.4'], 'Succeeded'),
  pod('default', 'broken', ['10.244.2.7'], 'Failed'),
  pod('default', 'going', ['10.244.2.6'], 'Running', true),
  pod('other', 'b', ['10.244.2.5'], 'Pending'),
]

function build(overrides: Partial<ZoneConfig> = {}) {
  return buildZoneIndex({ services, slices, pods }, { ...defaultZoneConfig, nameserverIPs: ['10.96.0.53', 'fd00::35'], ...overrides }, 42)
}
const index = build()

const typeNames = new Map(Object.entries(RRType).map(([k, v]) => [v as number, k]))

function show(rr: ResourceRecord): string {
  const d = rr.data
  const data =
    'address' in d ? d.address
    : 'target' in d && 'port' in d ? `${d.priority} ${d.weight} ${d.port} ${d.target}`
    : 'target' in d ? d.target
    : 'texts' in d ? d.texts.map((s) => JSON.stringify(s)).join(' ')
    : 'mname' in d ? `${d.mname} ${d.rname} ${d.serial} ${d.refresh} ${d.retry} ${d.expire} ${d.minimum}`
    : 'raw'
  return `${rr.name} ${rr.ttl} ${rr.class === RRClass.IN ? 'IN' : rr.class} ${typeNames.get(rr.type)} ${data}`
}

const rcodeNames = new Map(Object.entries(Rcode).map(([k, v]) => [v as number, k]))

interface Shown { rcode: string; aa: boolean; answers: string[]; authority: string[]; additional: string[] }

function ask(name: string, type: number, idx = index, qclass: number = RRClass.IN): Shown | undefined {
  const a: Answer | undefined = answer(idx, { name, type, class: qclass })
  if (!a) return undefined
  return { rcode: rcodeNames.get(a.rcode) ?? String(a.rcode), aa: a.authoritative, answers: a.answers.map(show), authority: a.authority.map(show), additional: a.additional.map(show) }
}

const SOA = `${Z} 5 IN SOA ns.dns.${Z} hostmaster.${Z} 42 7200 1800 86400 5`

function positive(answers: string[], additional: string[] = []): Shown {
  return { rcode: 'NOERROR', aa: true, answers, authority: [], additional }
}
const NXDOMAIN: Shown = { rcode: 'NXDOMAIN', aa: true, answers: [], authority: [SOA], additional: [] }
const NODATA: Shown = { rcode: 'NOERROR', aa: true, answers: [], authority: [SOA], additional: [] }

const webAdditional = [`web.default.svc.${Z} 5 IN A 10.96.0.10`, `web.default.svc.${Z} 5 IN AAAA fd00::a`]

const cases: [string, string, number, Shown | undefined][] = [
  // ClusterIP, dual stack
  ['A of a ClusterIP Service', `web.default.svc.${Z}`, RRType.A, positive([`web.default.svc.${Z} 5 IN A 10.96.0.10`])],
  ['AAAA of a dual-stack Service (canonical text)', `web.default.svc.${Z}`, RRType.AAAA, positive([`web.default.svc.${Z} 5 IN AAAA fd00::a`])],
  ['owner name kept as asked, case-insensitive match', `WEB.Default.SVC.Cluster.Local`, RRType.A, positive([`WEB.Default.SVC.Cluster.Local 5 IN A 10.96.0.10`])],
  ['trailing dot tolerated', `web.default.svc.${Z}.`, RRType.A, positive([`web.default.svc.${Z}. 5 IN A 10.96.0.10`])],
  ['ANY at a Service: its addresses', `web.default.svc.${Z}`, RRType.ANY, positive([`web.default.svc.${Z} 5 IN A 10.96.0.10`, `web.default.svc.${Z} 5 IN AAAA fd00::a`])],
  ['TXT at a Service is NODATA', `web.default.svc.${Z}`, RRType.TXT, NODATA],
  ['SRV of a named TCP port', `_http._tcp.web.default.svc.${Z}`, RRType.SRV, positive([`_http._tcp.web.default.svc.${Z} 5 IN SRV 0 100 80 web.default.svc.${Z}`], webAdditional)],
  ['SRV of a named UDP port', `_DNS._UDP.web.default.svc.${Z}`, RRType.SRV, positive([`_DNS._UDP.web.default.svc.${Z} 5 IN SRV 0 100 53 web.default.svc.${Z}`], webAdditional)],
  ['SRV with the wrong protocol does not exist', `_http._udp.web.default.svc.${Z}`, RRType.SRV, NXDOMAIN],
  ['SRV of an unknown port does not exist', `_https._tcp.web.default.svc.${Z}`, RRType.SRV, NXDOMAIN],
  ['A at an SRV name is NODATA', `_http._tcp.web.default.svc.${Z}`, RRType.A, NODATA],
  ['_tcp under a Service is an empty non-terminal', `_tcp.web.default.svc.${Z}`, RRType.SRV, NODATA],
  ['_sctp without such ports does not exist', `_sctp.web.default.svc.${Z}`, RRType.SRV, NXDOMAIN],
  ['SRV at the Service name: every named port', `web.default.svc.${Z}`, RRType.SRV, positive([`web.default.svc.${Z} 5 IN SRV 0 100 80 web.default.svc.${Z}`, `web.default.svc.${Z} 5 IN SRV 0 100 53 web.default.svc.${Z}`], webAdditional)],
  ['SRV at a Service without named ports is NODATA', `plain.default.svc.${Z}`, RRType.SRV, NODATA],
  ['ClusterIP Services have no endpoint names', `10-244-9-9.web.default.svc.${Z}`, RRType.A, NXDOMAIN],
  ['a Service without a clusterIP has no records', `noip.default.svc.${Z}`, RRType.A, NXDOMAIN],
  ['names below an SRV name do not exist', `x._http._tcp.web.default.svc.${Z}`, RRType.A, NXDOMAIN],
  // Headless
  ['headless A: every ready address once', `db.data.svc.${Z}`, RRType.A, positive([`db.data.svc.${Z} 5 IN A 10.244.1.5`, `db.data.svc.${Z} 5 IN A 10.244.1.6`])],
  ['headless AAAA', `db.data.svc.${Z}`, RRType.AAAA, positive([`db.data.svc.${Z} 5 IN AAAA fd00::1:6`])],
  ['endpoint hostname', `db-0.db.data.svc.${Z}`, RRType.A, positive([`db-0.db.data.svc.${Z} 5 IN A 10.244.1.5`])],
  ['endpoint without hostname: dashed address', `10-244-1-6.db.data.svc.${Z}`, RRType.A, positive([`10-244-1-6.db.data.svc.${Z} 5 IN A 10.244.1.6`])],
  ['IPv6 endpoint: dashed canonical address', `fd00--1-6.db.data.svc.${Z}`, RRType.AAAA, positive([`fd00--1-6.db.data.svc.${Z} 5 IN AAAA fd00::1:6`])],
  ['a not-ready endpoint has no name', `10-244-1-7.db.data.svc.${Z}`, RRType.A, NXDOMAIN],
  ['AAAA at an IPv4 endpoint name is NODATA', `db-0.db.data.svc.${Z}`, RRType.AAAA, NODATA],
  [
    'headless SRV: one per endpoint, targets the endpoint names, addresses in additional',
    `_pg._tcp.db.data.svc.${Z}`,
    RRType.SRV,
    positive(
      [`_pg._tcp.db.data.svc.${Z} 5 IN SRV 0 100 5432 db-0.db.data.svc.${Z}`, `_pg._tcp.db.data.svc.${Z} 5 IN SRV 0 100 5432 10-244-1-6.db.data.svc.${Z}`, `_pg._tcp.db.data.svc.${Z} 5 IN SRV 0 100 5432 fd00--1-6.db.data.svc.${Z}`],
      [`db-0.db.data.svc.${Z} 5 IN A 10.244.1.5`, `10-244-1-6.db.data.svc.${Z} 5 IN A 10.244.1.6`, `fd00--1-6.db.data.svc.${Z} 5 IN AAAA fd00::1:6`],
    ),
  ],
  ['publishNotReadyAddresses includes not-ready endpoints', `pub.data.svc.${Z}`, RRType.A, positive([`pub.data.svc.${Z} 5 IN A 10.244.3.1`])],
  [
    'publishNotReadyAddresses SRV (UDP port from the slice)',
    `_gossip._udp.pub.data.svc.${Z}`,
    RRType.SRV,
    positive([`_gossip._udp.pub.data.svc.${Z} 5 IN SRV 0 100 7946 10-244-3-1.pub.data.svc.${Z}`], [`10-244-3-1.pub.data.svc.${Z} 5 IN A 10.244.3.1`]),
  ],
  ['headless without ready endpoints is NXDOMAIN', `empty.data.svc.${Z}`, RRType.A, NXDOMAIN],
  ['…and so are its SRV names', `_pg._tcp.empty.data.svc.${Z}`, RRType.SRV, NXDOMAIN],
  ['headless without slices is NXDOMAIN', `lonely.solo.svc.${Z}`, RRType.A, NXDOMAIN],
  // ExternalName
  ['ExternalName: CNAME for A', `ext.default.svc.${Z}`, RRType.A, positive([`ext.default.svc.${Z} 5 IN CNAME example.com`])],
  ['ExternalName: CNAME for CNAME', `ext.default.svc.${Z}`, RRType.CNAME, positive([`ext.default.svc.${Z} 5 IN CNAME example.com`])],
  ['ExternalName: CNAME for SRV', `ext.default.svc.${Z}`, RRType.SRV, positive([`ext.default.svc.${Z} 5 IN CNAME example.com`])],
  ['ExternalName: no names below it', `_http._tcp.ext.default.svc.${Z}`, RRType.SRV, NXDOMAIN],
  ['ExternalName into the zone is followed', `alias.default.svc.${Z}`, RRType.A, positive([`alias.default.svc.${Z} 5 IN CNAME web.default.svc.${Z}`, `web.default.svc.${Z} 5 IN A 10.96.0.10`])],
  // Zone infrastructure
  ['dns-version TXT', `dns-version.${Z}`, RRType.TXT, positive([`dns-version.${Z} 5 IN TXT "1.1.0"`])],
  ['dns-version A is NODATA', `dns-version.${Z}`, RRType.A, NODATA],
  ['apex SOA', Z, RRType.SOA, positive([SOA])],
  ['apex NS with glue', Z, RRType.NS, positive([`${Z} 5 IN NS ns.dns.${Z}`], [`ns.dns.${Z} 5 IN A 10.96.0.53`, `ns.dns.${Z} 5 IN AAAA fd00::35`])],
  ['apex ANY', Z, RRType.ANY, positive([SOA, `${Z} 5 IN NS ns.dns.${Z}`])],
  ['apex A is NODATA', Z, RRType.A, NODATA],
  ['nameserver A', `ns.dns.${Z}`, RRType.A, positive([`ns.dns.${Z} 5 IN A 10.96.0.53`])],
  ['nameserver AAAA', `ns.dns.${Z}`, RRType.AAAA, positive([`ns.dns.${Z} 5 IN AAAA fd00::35`])],
  ['dns.<zone> is an empty non-terminal', `dns.${Z}`, RRType.A, NODATA],
  ['svc.<zone> is an empty non-terminal', `svc.${Z}`, RRType.A, NODATA],
  ['<ns>.svc.<zone> is an empty non-terminal', `default.svc.${Z}`, RRType.A, NODATA],
  ['a namespace without Services does not exist', `nothing.svc.${Z}`, RRType.A, NXDOMAIN],
  ['a namespace whose only Service has no records does not exist', `solo.svc.${Z}`, RRType.A, NXDOMAIN],
  ['an unknown Service', `nope.default.svc.${Z}`, RRType.A, NXDOMAIN],
  ['an unknown top label', `foo.${Z}`, RRType.A, NXDOMAIN],
  ['too many labels', `a.b.c.d.e.f.svc.${Z}`, RRType.A, NXDOMAIN],
  // Transfers, classes, outside the zone
  ['AXFR is refused', Z, RRType.AXFR, { rcode: 'REFUSED', aa: false, answers: [], authority: [], additional: [] }],
  ['IXFR is refused', `web.default.svc.${Z}`, RRType.IXFR, { rcode: 'REFUSED', aa: false, answers: [], authority: [], additional: [] }],
  ['outside the zone', 'example.com', RRType.A, undefined],
  ['a suffix that is not a label boundary', 'xcluster.local', RRType.A, undefined],
  ['the parent of the zone', 'local', RRType.SOA, undefined],
]

t.test('answers', async (t) => {
  for (const [what, name, type, want] of cases) t.same(ask(name, type), want, `${what}: ${name} ${typeNames.get(type)}`)
})

t.test('PTR records', async (t) => {
  const table: [string, string, number, Shown | undefined][] = [
    ['ClusterIP v4', '10.0.96.10.in-addr.arpa', RRType.PTR, positive([`10.0.96.10.in-addr.arpa 5 IN PTR web.default.svc.${Z}`])],
    ['ClusterIP v6', 'a.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa', RRType.PTR, positive([`a.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa 5 IN PTR web.default.svc.${Z}`])],
    ['headless endpoint with hostname', '5.1.244.10.in-addr.arpa', RRType.PTR, positive([`5.1.244.10.in-addr.arpa 5 IN PTR db-0.db.data.svc.${Z}`])],
    ['headless endpoint in two slices: one PTR', '6.1.244.10.IN-ADDR.ARPA.', RRType.PTR, positive([`6.1.244.10.IN-ADDR.ARPA. 5 IN PTR 10-244-1-6.db.data.svc.${Z}`])],
    ['headless v6 endpoint', '6.0.0.0.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa', RRType.PTR, positive([`6.0.0.0.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa 5 IN PTR fd00--1-6.db.data.svc.${Z}`])],
    ['ANY at a known reverse name', '11.0.96.10.in-addr.arpa', RRType.ANY, positive([`11.0.96.10.in-addr.arpa 5 IN PTR plain.default.svc.${Z}`])],
    ['A at a known reverse name is NODATA', '10.0.96.10.in-addr.arpa', RRType.A, { rcode: 'NOERROR', aa: true, answers: [], authority: [`in-addr.arpa 5 IN SOA ns.dns.${Z} hostmaster.${Z} 42 7200 1800 86400 5`], additional: [] }],
    ['not-ready endpoint: unknown, forwarded', '7.1.244.10.in-addr.arpa', RRType.PTR, undefined],
    ['endpoints of a ClusterIP Service: unknown', '9.9.244.10.in-addr.arpa', RRType.PTR, undefined],
    ['ExternalName clusterIP is ignored', '99.0.96.10.in-addr.arpa', RRType.PTR, undefined],
    ['pod IPs have no PTR', '3.2.244.10.in-addr.arpa', RRType.PTR, undefined],
    ['unknown address', '1.1.1.1.in-addr.arpa', RRType.PTR, undefined],
    ['partial reverse name', '96.10.in-addr.arpa', RRType.PTR, undefined],
    ['malformed octet', '010.0.96.10.in-addr.arpa', RRType.PTR, undefined],
    ['octet out of range', '256.0.96.10.in-addr.arpa', RRType.PTR, undefined],
    ['malformed nibble', 'g.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa', RRType.PTR, undefined],
    ['AXFR of a known reverse name is refused', '10.0.96.10.in-addr.arpa', RRType.AXFR, { rcode: 'REFUSED', aa: false, answers: [], authority: [], additional: [] }],
  ]
  for (const [what, name, type, want] of table) t.same(ask(name, type), want, `${what}: ${name}`)
})

t.test('pod records in each mode', async (t) => {
  const modes: Record<PodRecordsMode, ReturnType<typeof build>> = { disabled: build({ pods: 'disabled' }), insecure: build({ pods: 'insecure' }), verified: build({ pods: 'verified' }) }
  const a = (name: string, ip: string): Shown => positive([`${name} 5 IN A ${ip}`])
  const table: [string, string, number, Record<PodRecordsMode, Shown>][] = [
    ['a running pod', `10-244-2-3.default.pod.${Z}`, RRType.A, { disabled: NXDOMAIN, insecure: a(`10-244-2-3.default.pod.${Z}`, '10.244.2.3'), verified: a(`10-244-2-3.default.pod.${Z}`, '10.244.2.3') }],
    ['a pending pod', `10-244-2-5.other.pod.${Z}`, RRType.A, { disabled: NXDOMAIN, insecure: a(`10-244-2-5.other.pod.${Z}`, '10.244.2.5'), verified: a(`10-244-2-5.other.pod.${Z}`, '10.244.2.5') }],
    ['a pod IPv6 address', `fd00--2-3.default.pod.${Z}`, RRType.AAAA, { disabled: NXDOMAIN, insecure: positive([`fd00--2-3.default.pod.${Z} 5 IN AAAA fd00::2:3`]), verified: positive([`fd00--2-3.default.pod.${Z} 5 IN AAAA fd00::2:3`]) }],
    ['AAAA at an IPv4 pod name', `10-244-2-3.default.pod.${Z}`, RRType.AAAA, { disabled: NXDOMAIN, insecure: NODATA, verified: NODATA }],
    ['the wrong namespace', `10-244-2-3.other.pod.${Z}`, RRType.A, { disabled: NXDOMAIN, insecure: a(`10-244-2-3.other.pod.${Z}`, '10.244.2.3'), verified: NXDOMAIN }],
    ['no pod has the address', `1-2-3-4.default.pod.${Z}`, RRType.A, { disabled: NXDOMAIN, insecure: a(`1-2-3-4.default.pod.${Z}`, '1.2.3.4'), verified: NXDOMAIN }],
    ['a succeeded pod', `10-244-2-4.default.pod.${Z}`, RRType.A, { disabled: NXDOMAIN, insecure: a(`10-244-2-4.default.pod.${Z}`, '10.244.2.4'), verified: NXDOMAIN }],
    ['a failed pod', `10-244-2-7.default.pod.${Z}`, RRType.A, { disabled: NXDOMAIN, insecure: a(`10-244-2-7.default.pod.${Z}`, '10.244.2.7'), verified: NXDOMAIN }],
    ['a deleting pod', `10-244-2-6.default.pod.${Z}`, RRType.A, { disabled: NXDOMAIN, insecure: a(`10-244-2-6.default.pod.${Z}`, '10.244.2.6'), verified: NXDOMAIN }],
    ['not an address', `10-244-2.default.pod.${Z}`, RRType.A, { disabled: NXDOMAIN, insecure: NXDOMAIN, verified: NXDOMAIN }],
    ['pod.<zone>', `pod.${Z}`, RRType.A, { disabled: NXDOMAIN, insecure: NODATA, verified: NODATA }],
    ['<ns>.pod.<zone> with pods', `default.pod.${Z}`, RRType.A, { disabled: NXDOMAIN, insecure: NODATA, verified: NODATA }],
    ['<ns>.pod.<zone> without pods', `empty.pod.${Z}`, RRType.A, { disabled: NXDOMAIN, insecure: NODATA, verified: NXDOMAIN }],
    ['below a pod name', `x.10-244-2-3.default.pod.${Z}`, RRType.A, { disabled: NXDOMAIN, insecure: NXDOMAIN, verified: NXDOMAIN }],
  ]
  for (const [what, name, type, want] of table) {
    for (const mode of ['disabled', 'insecure', 'verified'] as const) t.same(ask(name, type, modes[mode]), want[mode], `${mode}: ${what}`)
  }
})

t.test('classes other than IN are refused; class ANY is answered', async (t) => {
  t.same(ask(`web.default.svc.${Z}`, RRType.A, index, RRClass.CH), { rcode: 'REFUSED', aa: false, answers: [], authority: [], additional: [] })
  t.same(ask(`web.default.svc.${Z}`, RRType.A, index, RRClass.ANY)?.answers, [`web.default.svc.${Z} 5 IN A 10.96.0.10`])
  t.equal(ask('example.com', RRType.A, index, RRClass.CH), undefined)
})

t.test('ExternalName chains into the zone stop after a bounded number of links', async (t) => {
  const got = ask(`loop.default.svc.${Z}`, RRType.A)!
  t.equal(got.rcode, 'NOERROR')
  t.equal(got.answers.length, 9)
  t.ok(got.answers.every((a) => a.endsWith(`IN CNAME loop.default.svc.${Z}`)))
})

t.test('config: zone, TTL and serial are applied everywhere', async (t) => {
  const idx = buildZoneIndex({ services, slices, pods }, { zone: 'Corp.Example', ttl: 30, pods: 'verified', nameserverIPs: [] })
  t.same(ask('web.default.svc.corp.example', RRType.A, idx), positive(['web.default.svc.corp.example 30 IN A 10.96.0.10']))
  const soa = 'corp.example 30 IN SOA ns.dns.corp.example hostmaster.corp.example 1 7200 1800 86400 30'
  t.same(ask('nope.corp.example', RRType.A, idx), { rcode: 'NXDOMAIN', aa: true, answers: [], authority: [soa], additional: [] })
  t.same(ask('ns.dns.corp.example', RRType.A, idx), { rcode: 'NOERROR', aa: true, answers: [], authority: [soa], additional: [] }, 'no nameserver addresses: NODATA')
  t.same(ask(`web.default.svc.${Z}`, RRType.A, idx), undefined, 'the default zone is not served')
  t.same(ask('10.0.96.10.in-addr.arpa', RRType.PTR, idx)?.answers, ['10.0.96.10.in-addr.arpa 30 IN PTR web.default.svc.corp.example'])
})

t.test('an empty cluster', async (t) => {
  const idx = buildZoneIndex({ services: [], slices: [], pods: [] }, defaultZoneConfig)
  t.equal(ask(`svc.${Z}`, RRType.A, idx)?.rcode, 'NXDOMAIN')
  t.equal(ask(`pod.${Z}`, RRType.A, idx)?.rcode, 'NXDOMAIN')
  t.equal(ask(Z, RRType.SOA, idx)?.answers.length, 1)
  t.same(ask(`dns-version.${Z}`, RRType.TXT, idx)?.answers, [`dns-version.${Z} 5 IN TXT "1.1.0"`])
})
