// A StatefulSet's pods are found by name through cluster DNS: pure functions end to end
// (StatefulSet reconcile → EndpointSlice reconcile → zone index → answer).
import t from 'tap'
import type { V1EndpointSlice, V1Service } from '@kubernetes/client-node'
import { reconcileEndpointSlices } from '../../src/controllers/endpointslice/reconcile.ts'
import { answer } from '../../dns/answer.ts'
import { RRClass, RRType, Rcode } from '../../dns/records.ts'
import { buildZoneIndex, defaultZoneConfig } from '../../dns/zone-index.ts'
import { Cluster, statefulSet } from './statefulset-cluster.ts'

t.test('<pod>.<serviceName>.<namespace>.svc resolves to the pod', async (t) => {
  const c = new Cluster(statefulSet({ replicas: 2, policy: 'Parallel' }))
  c.reconcile()
  let ip = 10
  for (const p of c.pods.values()) p.status = { phase: 'Running', podIP: `10.244.0.${ip}`, podIPs: [{ ip: `10.244.0.${ip++}` }], conditions: [{ type: 'Ready', status: 'True' }] }
  const headless: V1Service = { metadata: { name: 'db-headless', namespace: 'data' }, spec: { clusterIP: 'None', clusterIPs: ['None'], selector: { app: 'db' }, ports: [{ name: 'pg', port: 5432 }] } }
  const slices = reconcileEndpointSlices(headless, [...c.pods.values()], []).flatMap((a) => (a.verb === 'create' ? [a.object as V1EndpointSlice] : []))
  t.same(slices.flatMap((s) => s.endpoints!.map((e) => e.hostname)).sort(), ['db-0', 'db-1'], 'the endpoints carry the pod hostnames (subdomain = the Service)')
  const zone = buildZoneIndex({ services: [headless], slices, pods: [...c.pods.values()] }, defaultZoneConfig)
  const a = answer(zone, { name: 'db-1.db-headless.data.svc.cluster.local', type: RRType.A, class: RRClass.IN })
  t.equal(a?.rcode, Rcode.NOERROR)
  t.same(a?.answers.map((r) => ('address' in r.data ? r.data.address : '')), ['10.244.0.11'])
  const other: V1Service = { ...headless, metadata: { ...headless.metadata, name: 'other' } }
  const none = reconcileEndpointSlices(other, [...c.pods.values()], []).flatMap((x) => (x.verb === 'create' ? [x.object as V1EndpointSlice] : []))
  t.same(none.flatMap((s) => s.endpoints!.map((e) => e.hostname ?? '')), ['', ''], 'a Service that is not the subdomain gets no hostnames')
})
