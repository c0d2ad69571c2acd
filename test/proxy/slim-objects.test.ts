import t from 'tap'
import type { V1EndpointSlice, V1Service } from '@kubernetes/client-node'
import { parseService, parseSlices } from '../../proxy/service-entries.ts'
import { slimEndpointSlice, slimService } from '../../proxy/slim-objects.ts'
import { sourceRangesAnnotation } from '../../src/api/validation/service.ts'

const managedFields = [{ manager: 'kubectl', operation: 'Apply', fieldsType: 'FieldsV1', fieldsV1: { 'f:spec': { 'f:ports': {} } } }]

const services: V1Service[] = [
  {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      name: 'web',
      namespace: 'shop',
      uid: 'u-1',
      resourceVersion: '42',
      labels: { app: 'web' },
      annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{"big":"x"}', [sourceRangesAnnotation]: '10.0.0.0/8' },
      managedFields,
    },
    spec: {
      type: 'LoadBalancer',
      clusterIP: '10.96.0.5',
      clusterIPs: ['10.96.0.5'],
      ports: [{ name: 'http', port: 80, nodePort: 30080, protocol: 'TCP' }],
      externalIPs: ['192.0.2.1'],
      sessionAffinity: 'ClientIP',
      sessionAffinityConfig: { clientIP: { timeoutSeconds: 60 } },
      externalTrafficPolicy: 'Local',
      healthCheckNodePort: 31000,
    },
    status: { loadBalancer: { ingress: [{ ip: '203.0.113.7' }] }, conditions: [{ type: 'x', status: 'True', lastTransitionTime: new Date(0), reason: 'r', message: 'm' }] },
  },
  { metadata: { name: 'plain', namespace: 'shop' }, spec: { clusterIP: '10.96.0.6', ports: [{ port: 53, protocol: 'UDP' }] } },
  { metadata: { name: 'Bad_Name', namespace: 'shop', annotations: { [sourceRangesAnnotation]: 'nonsense' } }, spec: { clusterIP: 'not-an-ip', ports: [{ port: 80 }] } },
]

const slices: V1EndpointSlice[] = [
  {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: 'web-1', namespace: 'shop', uid: 'u-2', resourceVersion: '43', labels: { 'kubernetes.io/service-name': 'web' }, managedFields },
    addressType: 'IPv4',
    ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    endpoints: [
      { addresses: ['10.244.0.5'], conditions: { ready: true, serving: true, terminating: false }, nodeName: 'node-1', zone: 'a', targetRef: { kind: 'Pod', name: 'web-abc', namespace: 'shop', uid: 'p-1' } },
      { addresses: ['10.244.1.5'], conditions: { ready: false, serving: true, terminating: true }, nodeName: 'node-2' },
    ],
  },
  // Hostile: what the parser refuses must still reach it.
  { metadata: { name: 'web-2', namespace: 'shop', labels: { 'kubernetes.io/service-name': 'web' } }, addressType: 'IPv4', ports: [{ port: 8080 }], endpoints: [null, 'x', { addresses: 'nope' }] as never },
]

t.test('the proxy parses a slimmed Service exactly as the whole one', async (t) => {
  for (const s of services) t.same(parseService(slimService(s)), parseService(s), s.metadata!.name!)
})

t.test('the proxy parses slimmed EndpointSlices exactly as the whole ones', async (t) => {
  for (const node of ['node-1', 'node-2']) t.same(parseSlices(slices.map(slimEndpointSlice), node), parseSlices(slices, node), node)
})

t.test('slimming drops what the proxy never reads', async (t) => {
  const s = slimService(services[0]!)
  t.equal(s.metadata!.managedFields, undefined)
  t.same(s.metadata!.annotations, { [sourceRangesAnnotation]: '10.0.0.0/8' }, 'only the source-ranges annotation stays')
  t.same(s.metadata, { name: 'web', namespace: 'shop', uid: 'u-1', resourceVersion: '42', labels: { app: 'web' }, annotations: { [sourceRangesAnnotation]: '10.0.0.0/8' } }, 'what an Event names stays')
  t.same(s.status, { loadBalancer: { ingress: [{ ip: '203.0.113.7' }] } })
  const e = slimEndpointSlice(slices[0]!)
  t.equal(e.metadata!.managedFields, undefined)
  t.equal(e.endpoints![0]!.targetRef, undefined)
  t.equal(slimService(services[1]!).status, undefined, 'no status invented')
})
