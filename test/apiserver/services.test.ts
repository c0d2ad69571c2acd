import t from 'tap'
import { call, startTestServer } from '../helpers/apiserver.ts'

const svc = (name: string, spec: Record<string, unknown>) => ({ metadata: { name }, spec: { selector: { app: name }, ports: [{ port: 80 }], ...spec } })
const path = '/api/v1/namespaces/default/services'

t.test('the kubernetes Service takes the first address; 10th is reserved for DNS', async (t) => {
  const { url } = await startTestServer(t)
  const k = await call(url, 'GET', `${path}/kubernetes`)
  t.equal(k.body.spec.clusterIP, '10.96.0.1')
  const dns = await call(url, 'POST', '/api/v1/namespaces/kube-system/services', { metadata: { name: 'kube-dns' }, spec: { clusterIP: '10.96.0.10', ports: [{ name: 'dns', port: 53, protocol: 'UDP' }] } })
  t.equal(dns.status, 201)
  t.equal(dns.body.spec.clusterIP, '10.96.0.10')
  const ips = new Set<string>()
  for (let i = 0; i < 30; i++) {
    const res = await call(url, 'POST', path, svc(`s${i}`, {}))
    t.equal(res.status, 201)
    ips.add(res.body.spec.clusterIP)
    t.not(res.body.spec.clusterIP, '10.96.0.10', 'dynamic allocation skips the reserved band')
  }
  t.equal(ips.size, 30, 'every Service got its own address')
})

t.test('defaulting: targetPort, protocol, families, policies', async (t) => {
  const { url } = await startTestServer(t)
  const res = await call(url, 'POST', path, svc('d', { type: 'LoadBalancer' }))
  t.equal(res.status, 201)
  const spec = res.body.spec
  t.equal(spec.ports[0].targetPort, 80)
  t.equal(spec.ports[0].protocol, 'TCP')
  t.same(spec.ipFamilies, ['IPv4'])
  t.equal(spec.ipFamilyPolicy, 'SingleStack')
  t.same(spec.clusterIPs, [spec.clusterIP])
  t.equal(spec.externalTrafficPolicy, 'Cluster')
  t.equal(spec.internalTrafficPolicy, 'Cluster')
  t.equal(spec.sessionAffinity, 'None')
  t.ok(spec.ports[0].nodePort >= 30000 && spec.ports[0].nodePort <= 32767, 'LoadBalancer gets a NodePort')
})

t.test('NodePorts are collision-free and released on delete', async (t) => {
  const { url } = await startTestServer(t)
  const a = await call(url, 'POST', path, svc('a', { type: 'NodePort', ports: [{ port: 80, nodePort: 30080 }] }))
  t.equal(a.status, 201)
  t.equal(a.body.spec.ports[0].nodePort, 30080)
  const b = await call(url, 'POST', path, svc('b', { type: 'NodePort', ports: [{ port: 80, nodePort: 30080 }] }))
  t.equal(b.status, 422)
  t.match(b.body.details.causes[0], { field: 'spec.ports[0].nodePort', message: /already allocated/ })
  t.equal((await call(url, 'GET', `${path}/b`)).status, 404, 'the refused Service is not stored')
  const out = await call(url, 'POST', path, svc('c', { type: 'NodePort', ports: [{ port: 80, nodePort: 80 }] }))
  t.equal(out.status, 422)
  t.match(out.body.message, /valid range/)
  t.equal((await call(url, 'DELETE', `${path}/a`)).status, 200)
  const again = await call(url, 'POST', path, svc('b', { type: 'NodePort', ports: [{ port: 80, nodePort: 30080 }] }))
  t.equal(again.status, 201, 'the port was released on delete')
})

t.test('cluster IPs: explicit, conflicting, immutable, released', async (t) => {
  const { url } = await startTestServer(t)
  const a = await call(url, 'POST', path, svc('a', { clusterIP: '10.96.5.5' }))
  t.equal(a.status, 201)
  const b = await call(url, 'POST', path, svc('b', { clusterIP: '10.96.5.5' }))
  t.equal(b.status, 422)
  t.match(b.body.details.causes[0].message, /already allocated/)
  const outside = await call(url, 'POST', path, svc('c', { clusterIP: '192.168.1.1' }))
  t.equal(outside.status, 422)
  const change = structuredClone(a.body)
  change.spec.clusterIP = '10.96.5.6'
  change.spec.clusterIPs = ['10.96.5.6']
  const changed = await call(url, 'PUT', `${path}/a`, change)
  t.equal(changed.status, 422, 'clusterIP is immutable')
  const keep = structuredClone(a.body)
  delete keep.spec.clusterIP
  delete keep.spec.clusterIPs
  keep.metadata.labels = { touched: 'yes' }
  const kept = await call(url, 'PUT', `${path}/a`, keep)
  t.equal(kept.status, 200)
  t.equal(kept.body.spec.clusterIP, '10.96.5.5', 'an update that leaves the IP out keeps it')
  await call(url, 'DELETE', `${path}/a`)
  t.equal((await call(url, 'POST', path, svc('b', { clusterIP: '10.96.5.5' }))).status, 201, 'released on delete')
})

t.test('type changes allocate and release NodePorts; headless and ExternalName get no IP', async (t) => {
  const { url } = await startTestServer(t)
  const a = await call(url, 'POST', path, svc('a', { type: 'NodePort' }))
  const port = a.body.spec.ports[0].nodePort
  const toCluster = await call(url, 'PATCH', `${path}/a`, { spec: { type: 'ClusterIP' } }, { 'content-type': 'application/strategic-merge-patch+json' })
  t.equal(toCluster.status, 200)
  t.notOk(toCluster.body.spec.ports[0].nodePort)
  const reuse = await call(url, 'POST', path, svc('b', { type: 'NodePort', ports: [{ port: 80, nodePort: port }] }))
  t.equal(reuse.status, 201, 'the NodePort was released by the type change')
  const headless = await call(url, 'POST', path, svc('h', { clusterIP: 'None' }))
  t.equal(headless.status, 201)
  t.equal(headless.body.spec.clusterIP, 'None')
  t.same(headless.body.spec.clusterIPs, ['None'])
  const ext = await call(url, 'POST', path, { metadata: { name: 'e' }, spec: { type: 'ExternalName', externalName: 'example.com' } })
  t.equal(ext.status, 201)
  t.notOk(ext.body.spec.clusterIP)
})

t.test('dual-stack clusters allocate one address per family', async (t) => {
  const { url } = await startTestServer(t, { serviceCidrs: ['10.96.0.0/16', 'fd00:10:96::/112'] })
  const res = await call(url, 'POST', path, svc('ds', { ipFamilyPolicy: 'PreferDualStack' }))
  t.equal(res.status, 201)
  t.same(res.body.spec.ipFamilies, ['IPv4', 'IPv6'])
  t.equal(res.body.spec.clusterIPs.length, 2)
  t.match(res.body.spec.clusterIPs[1], /^fd00:10:96::/)
  const v6 = await call(url, 'POST', path, svc('v6', { ipFamilies: ['IPv6'] }))
  t.match(v6.body.spec.clusterIP, /^fd00:10:96::/)
})

t.test('fields that reach the data plane are refused with 422 and a cause per field: create, update, status', async (t) => {
  const { url } = await startTestServer(t)
  const bad = await call(url, 'POST', path, svc('lb', { type: 'LoadBalancer', externalIPs: ['192.0.2.1\nflush ruleset'], loadBalancerSourceRanges: ['10.0.0.0/8', '10.0.0.0/8; flush ruleset'] }))
  t.equal(bad.status, 422)
  t.equal(bad.body.reason, 'Invalid')
  t.same(bad.body.details.causes.map((c: { field: string }) => c.field), ['spec.externalIPs[0]', 'spec.LoadBalancerSourceRanges[1]'])
  t.equal((await call(url, 'GET', `${path}/lb`)).status, 404, 'nothing stored')
  const annotated = await call(url, 'POST', path, { ...svc('ann', { type: 'LoadBalancer' }), metadata: { name: 'ann', annotations: { 'service.beta.kubernetes.io/load-balancer-source-ranges': '10.0.0.0/8,bogus' } } })
  t.equal(annotated.status, 422)
  t.same(annotated.body.details.causes.map((c: { field: string }) => c.field), ['metadata.annotations[service.beta.kubernetes.io/load-balancer-source-ranges]'])

  const ok = await call(url, 'POST', path, svc('lb', { type: 'LoadBalancer', loadBalancerSourceRanges: ['10.0.0.0/8'] }))
  t.equal(ok.status, 201)
  const update = structuredClone(ok.body)
  update.spec.externalIPs = ['fe80::1%eth0']
  const updated = await call(url, 'PUT', `${path}/lb`, update)
  t.equal(updated.status, 422, 'an update is checked too')
  t.equal(updated.body.details.causes[0].field, 'spec.externalIPs[0]')
  const patched = await call(url, 'PATCH', `${path}/lb`, { spec: { loadBalancerSourceRanges: ['10.0.0.0/8\nadd rule ip x y accept'] } }, { 'content-type': 'application/merge-patch+json' })
  t.equal(patched.status, 422, 'and a patch')

  const withStatus = structuredClone(ok.body)
  withStatus.status = { loadBalancer: { ingress: [{ ip: '192.0.2.10\nflush ruleset', ipMode: 'VIP' }] } }
  const put = await call(url, 'PUT', `${path}/lb/status`, withStatus)
  t.equal(put.status, 422, 'PUT status')
  t.same(put.body.details.causes.map((c: { field: string }) => c.field), ['status.loadBalancer.ingress[0].ip'])
  const patch = await call(url, 'PATCH', `${path}/lb/status`, { status: { loadBalancer: { ingress: [{ ip: '192.0.2.10 ; flush ruleset' }] } } }, { 'content-type': 'application/merge-patch+json' })
  t.equal(patch.status, 422, 'PATCH status')
  t.equal(patch.body.details.causes[0].field, 'status.loadBalancer.ingress[0].ip')
  const good = await call(url, 'PATCH', `${path}/lb/status`, { status: { loadBalancer: { ingress: [{ ip: '192.0.2.10' }] } } }, { 'content-type': 'application/merge-patch+json' })
  t.equal(good.status, 200)
  t.same(good.body.status.loadBalancer.ingress, [{ ip: '192.0.2.10', ipMode: 'VIP' }], 'ipMode defaults to VIP')
  const asClusterIP = await call(url, 'PATCH', `${path}/lb`, { spec: { type: 'ClusterIP', loadBalancerSourceRanges: null } }, { 'content-type': 'application/merge-patch+json' })
  t.equal(asClusterIP.status, 200, 'a spec update is not refused for the status it carries over')
})

t.test('healthCheckNodePort: allocated for LoadBalancer + Local, kept on update, released when no longer needed', async (t) => {
  const { url } = await startTestServer(t)
  const merge = { 'content-type': 'application/merge-patch+json' }
  const lb = await call(url, 'POST', path, svc('hc', { type: 'LoadBalancer', externalTrafficPolicy: 'Local' }))
  t.equal(lb.status, 201)
  const port = lb.body.spec.healthCheckNodePort
  t.ok(port >= 30000 && port <= 32767, `allocated (${port})`)
  t.not(port, lb.body.spec.ports[0].nodePort, 'apart from the NodePorts')
  const touched = await call(url, 'PATCH', `${path}/hc`, { metadata: { labels: { a: 'b' } } }, merge)
  t.equal(touched.body.spec.healthCheckNodePort, port, 'kept across updates')
  const taken = await call(url, 'POST', path, svc('other', { type: 'NodePort', ports: [{ port: 80, nodePort: port }] }))
  t.equal(taken.status, 422, 'nobody else gets it')
  const cluster = await call(url, 'PATCH', `${path}/hc`, { spec: { externalTrafficPolicy: 'Cluster' } }, merge)
  t.equal(cluster.status, 200, 'switching to Cluster drops the port rather than failing validation')
  t.equal(cluster.body.spec.healthCheckNodePort, undefined)
  const reuse = await call(url, 'POST', path, svc('other', { type: 'NodePort', ports: [{ port: 80, nodePort: port }] }))
  t.equal(reuse.status, 201, 'and released it')
  const local = await call(url, 'PATCH', `${path}/hc`, { spec: { externalTrafficPolicy: 'Local' } }, merge)
  t.equal(local.status, 200)
  t.ok(local.body.spec.healthCheckNodePort >= 30000, 'back to Local: a new one')
  const given = await call(url, 'POST', path, svc('given', { type: 'LoadBalancer', externalTrafficPolicy: 'Local', healthCheckNodePort: 31999 }))
  t.equal(given.body.spec.healthCheckNodePort, 31999, 'a requested port is honoured')
})
