// The informers keep only what the zone reads of each object (zone-objects.ts): a zone built
// from the trimmed objects, and from their copies as the query threads get them
// (structuredClone, as postMessage makes), answers every kind of question as the full
// objects do.
import t from 'tap'
import type { V1EndpointSlice, V1Pod, V1Service } from '@kubernetes/client-node'
import { answer } from '../../dns/answer.ts'
import { reverseName } from '../../dns/names.ts'
import { RRClass, RRType } from '../../dns/records.ts'
import { buildZoneIndex, defaultZoneConfig, type ZoneConfig } from '../../dns/zone-index.ts'
import { zonePod, zoneService, zoneSlice } from '../../dns/zone-objects.ts'

const Z = 'cluster.local'
const managedFields = [{ manager: 'kubectl', operation: 'Update', apiVersion: 'v1', time: new Date('2026-01-01T00:00:00Z'), fieldsType: 'FieldsV1', fieldsV1: { 'f:spec': {} } }]
const meta = (namespace: string, name: string, extra: object = {}) => ({
  namespace,
  name,
  uid: `uid-${namespace}-${name}`,
  resourceVersion: '17',
  creationTimestamp: new Date('2026-01-01T00:00:00Z'),
  labels: { app: name },
  annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{"a":1}'.repeat(20) },
  managedFields,
  ...extra,
})

function service(namespace: string, name: string, spec: V1Service['spec']): V1Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: meta(namespace, name),
    spec: { sessionAffinity: 'None', ipFamilies: ['IPv4'], ipFamilyPolicy: 'SingleStack', internalTrafficPolicy: 'Cluster', selector: { app: name }, ...spec },
    status: { loadBalancer: {} },
  }
}

const services: V1Service[] = [
  service('default', 'web', { clusterIP: '10.96.0.10', clusterIPs: ['10.96.0.10', 'fd00::a'], ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 8080, nodePort: 30080 }, { name: 'dns', port: 53, protocol: 'UDP' }, { port: 9000 }] }),
  service('default', 'ext', { type: 'ExternalName', externalName: 'Example.COM.' }),
  service('default', 'alias', { type: 'ExternalName', externalName: `web.default.svc.${Z}` }),
  service('data', 'db', { clusterIP: 'None', clusterIPs: ['None'], ports: [{ name: 'pg', port: 5432 }] }),
  service('data', 'pub', { clusterIP: 'None', publishNotReadyAddresses: true }),
]

function slice(namespace: string, svc: string, name: string, addressType: string, ports: V1EndpointSlice['ports'], endpoints: V1EndpointSlice['endpoints']): V1EndpointSlice {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: meta(namespace, name, { labels: { 'kubernetes.io/service-name': svc, 'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io' }, ownerReferences: [{ apiVersion: 'v1', kind: 'Service', name: svc, uid: 'x' }] }),
    addressType,
    ports,
    endpoints: endpoints!.map((e) => ({ nodeName: 'node-1', zone: 'a', targetRef: { kind: 'Pod', name: 'p', namespace }, ...e, conditions: { serving: true, terminating: false, ...e.conditions } })),
  }
}

const slices: V1EndpointSlice[] = [
  slice('data', 'db', 'db-a', 'IPv4', [{ name: 'pg', port: 5432, protocol: 'TCP', appProtocol: 'postgres' }], [
    { addresses: ['10.244.1.5'], hostname: 'db-0', conditions: { ready: true } },
    { addresses: ['10.244.1.6'], conditions: { ready: true } },
    { addresses: ['10.244.1.7'], conditions: { ready: false } },
  ]),
  slice('data', 'db', 'db-b', 'IPv6', [{ name: 'pg', port: 5432 }], [{ addresses: ['fd00::1:6'], conditions: { ready: true } }]),
  slice('data', 'pub', 'pub-a', 'IPv4', [{ name: 'gossip', port: 7946, protocol: 'UDP' }], [{ addresses: ['10.244.3.1'], conditions: { ready: false } }]),
]

function pod(namespace: string, name: string, ips: string[], phase = 'Running', deleting = false): V1Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: meta(namespace, name, deleting ? { deletionTimestamp: new Date('2026-01-02T00:00:00Z') } : {}),
    spec: { nodeName: 'node-1', containers: [{ name: 'c', image: 'weft/echo', env: [{ name: 'A', value: 'b'.repeat(200) }] }] },
    status: { phase, podIP: ips[0], podIPs: ips.map((ip) => ({ ip })), hostIP: '192.0.2.1', conditions: [{ type: 'Ready', status: 'True' }], containerStatuses: [] },
  }
}

const pods: V1Pod[] = [pod('default', 'a', ['10.244.2.3', 'fd00::2:3']), pod('default', 'done', ['10.244.2.4'], 'Succeeded'), pod('default', 'going', ['10.244.2.6'], 'Running', true)]

const questions: [string, number][] = [
  [`web.default.svc.${Z}`, RRType.A],
  [`web.default.svc.${Z}`, RRType.AAAA],
  [`web.default.svc.${Z}`, RRType.ANY],
  [`_http._tcp.web.default.svc.${Z}`, RRType.SRV],
  [`_dns._udp.web.default.svc.${Z}`, RRType.SRV],
  [`10.0.96.10.in-addr.arpa`, RRType.PTR],
  [reverseName('fd00::a')!, RRType.PTR],
  [`ext.default.svc.${Z}`, RRType.A],
  [`alias.default.svc.${Z}`, RRType.A],
  [`db.data.svc.${Z}`, RRType.A],
  [`db.data.svc.${Z}`, RRType.AAAA],
  [`db-0.db.data.svc.${Z}`, RRType.A],
  [`10-244-1-6.db.data.svc.${Z}`, RRType.A],
  [`10-244-1-7.db.data.svc.${Z}`, RRType.A],
  [`_pg._tcp.db.data.svc.${Z}`, RRType.SRV],
  [`5.1.244.10.in-addr.arpa`, RRType.PTR],
  [`pub.data.svc.${Z}`, RRType.A],
  [`_gossip._udp.pub.data.svc.${Z}`, RRType.SRV],
  [`10-244-2-3.default.pod.${Z}`, RRType.A],
  [`10-244-2-4.default.pod.${Z}`, RRType.A],
  [`10-244-2-6.default.pod.${Z}`, RRType.A],
  [`fd00--2-3.default.pod.${Z}`, RRType.AAAA],
  [`default.svc.${Z}`, RRType.A],
  [Z, RRType.SOA],
  [Z, RRType.NS],
  [`dns-version.${Z}`, RRType.TXT],
  [`nope.default.svc.${Z}`, RRType.A],
]

for (const pods_ of ['verified', 'insecure'] as const) {
  t.test(`trimmed objects answer as the full ones (pods ${pods_})`, async (t) => {
    const config: ZoneConfig = { ...defaultZoneConfig, pods: pods_, nameserverIPs: ['10.96.0.53'] }
    const full = buildZoneIndex({ services, slices, pods }, config, 7)
    const trimmedInputs = { services: services.map(zoneService), slices: slices.map(zoneSlice), pods: pods.map(zonePod) }
    const trimmed = buildZoneIndex(trimmedInputs, config, 7)
    const copied = buildZoneIndex(structuredClone(trimmedInputs), config, 7)
    for (const [name, type] of questions) {
      const want = answer(full, { name, type, class: RRClass.IN })
      t.ok(want && (want.answers.length > 0 || name.startsWith('nope') || name.startsWith('10-244-2-4') || name.startsWith('10-244-2-6') || name.startsWith('default.svc') || name.startsWith('10-244-1-7')), `${name} ${type}: the full zone answers`)
      t.same(answer(trimmed, { name, type, class: RRClass.IN }), want, `${name} ${type}: trimmed`)
      t.same(answer(copied, { name, type, class: RRClass.IN }), want, `${name} ${type}: trimmed and copied to a thread`)
    }
    t.ok(JSON.stringify(trimmedInputs).length * 4 < JSON.stringify({ services, slices, pods }).length, 'the trimmed objects are a fraction of the full ones')
  })
}
