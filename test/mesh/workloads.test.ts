import t from 'tap'
import type { V1Namespace, V1Pod } from '@kubernetes/client-node'
import { makeServicePort, type ServiceEntry } from '../../proxy/model.ts'
import { canonicalIp, resolveDestination, ServiceIndex, WorkloadIndex } from '../../mesh/workloads.ts'
import { connectAuthority, forwardedFor, parseConnectAuthority, parseForwardedFor, parseServerName, serverName } from '../../mesh/wire.ts'

const namespaces: Record<string, V1Namespace> = { shop: { metadata: { name: 'shop', labels: { 'weft.dev/mesh': 'enabled', 'weft.dev/mesh-mode': 'STRICT' } } }, plain: { metadata: { name: 'plain' } } }
const pod = (ns: string, name: string, ips: string[], extra: Partial<V1Pod['spec']> = {}, phase = 'Running'): V1Pod => ({
  metadata: { namespace: ns, name, labels: { app: name } },
  spec: { containers: [], nodeName: 'n1', serviceAccountName: `${name}-sa`, ...extra },
  status: { phase, hostIP: '192.168.1.1', podIP: ips[0], podIPs: ips.map((ip) => ({ ip })) },
})
const workloads = new WorkloadIndex(
  [pod('shop', 'web', ['10.244.0.5', 'fd00:10:244::5']), pod('plain', 'cli', ['10.244.0.6']), pod('shop', 'host', ['192.168.1.1'], { hostNetwork: true }), pod('shop', 'done', ['10.244.0.7'], {}, 'Succeeded')],
  (n) => namespaces[n],
)

t.test('pods by any of their IPs, in any spelling; hostNetwork and finished pods left out', async (t) => {
  t.match(workloads.byIp('10.244.0.5'), { namespace: 'shop', name: 'web', serviceAccount: 'web-sa', meshed: true, mode: 'STRICT', hostIP: '192.168.1.1', labels: { app: 'web' } })
  t.equal(workloads.byIp('fd00:10:244:0:0:0:0:5')?.name, 'web')
  t.equal(workloads.byIp('::ffff:10.244.0.5')?.name, 'web', 'an IPv4-mapped address')
  t.match(workloads.byIp('10.244.0.6'), { name: 'cli', meshed: false, mode: 'PERMISSIVE' })
  t.equal(workloads.byIp('192.168.1.1'), undefined)
  t.equal(workloads.byIp('10.244.0.7'), undefined)
  t.equal(workloads.byIp('not-an-ip'), undefined)
  t.equal(canonicalIp('FD00::0005'), 'fd00::5')
})

t.test('a destination resolves through a Service to one of its ready endpoints, or directly', async (t) => {
  const entry = (ip: string, port: number, endpoints: ServiceEntry['endpoints'], protocol: 'TCP' | 'UDP' = 'TCP'): ServiceEntry => ({ port: makeServicePort({ namespace: 'shop', name: 'web', portName: '', protocol, clusterIP: ip, port }), endpoints })
  const ep = (ip: string, port: number, ready = true) => ({ ip, port, ready, serving: ready, terminating: false, local: true })
  const services = new ServiceIndex([entry('10.96.0.20', 80, [ep('10.244.0.5', 8080), ep('10.244.0.9', 8080, false)]), entry('10.96.0.21', 80, []), entry('10.96.0.22', 53, [ep('10.244.0.5', 53)], 'UDP'), entry('10.96.0.23', 80, [ep('172.16.0.1', 80)])])
  t.match(resolveDestination('10.96.0.20', 80, workloads, services), { kind: 'pod', ip: '10.244.0.5', port: 8080, service: 'shop/web', workload: { name: 'web' } }, 'the not-ready endpoint is never picked')
  t.same(resolveDestination('10.96.0.21', 80, workloads, services), { kind: 'no-endpoints', service: 'shop/web' })
  t.match(resolveDestination('10.96.0.22', 53, workloads, services), { kind: 'other', ip: '10.96.0.22' }, 'UDP ports are not the mesh\'s')
  t.match(resolveDestination('10.96.0.23', 80, workloads, services), { kind: 'other', ip: '172.16.0.1', port: 80, service: 'shop/web' }, 'an endpoint that is no pod')
  t.match(resolveDestination('10.244.0.6', 8080, workloads, services), { kind: 'pod', ip: '10.244.0.6', workload: { name: 'cli' } })
  t.match(resolveDestination('1.1.1.1', 443, workloads, services), { kind: 'other', ip: '1.1.1.1', port: 443 })
  t.match(resolveDestination('10.96.0.20', 81, workloads, services), { kind: 'other' }, 'a port the Service does not have')
})

t.test('CONNECT targets: IP literals and ports only', async (t) => {
  t.equal(connectAuthority('10.0.0.1', 80), '10.0.0.1:80')
  t.equal(connectAuthority('fd00::1', 443), '[fd00::1]:443')
  t.same(parseConnectAuthority('10.0.0.1:80'), { ip: '10.0.0.1', port: 80 })
  t.same(parseConnectAuthority('[FD00:0::1]:443'), { ip: 'fd00::1', port: 443 })
  for (const bad of ['10.0.0.1', '10.0.0.1:0', '10.0.0.1:65536', '10.0.0.1:080', '10.0.0.1:+80', 'example.com:80', 'fd00::1:80', '[10.0.0.1]:80', 'user@10.0.0.1:80', '10.0.0.1:80/x', '', 42, 'x'.repeat(100)]) {
    t.throws(() => parseConnectAuthority(bad), JSON.stringify(bad))
  }
})

t.test('server names carry the destination identity and read back from the right', async (t) => {
  const id = { trustDomain: 'cluster.local', namespace: 'shop', serviceAccount: 'my.web' }
  t.equal(serverName(id), 'my.web.shop.weft-mesh')
  t.same(parseServerName('my.web.shop.weft-mesh', 'cluster.local'), id)
  t.equal(parseServerName('shop.weft-mesh', 'cluster.local'), undefined)
  t.equal(parseServerName('web.shop.example.com', 'cluster.local'), undefined)
  t.equal(parseServerName('web.Shop.weft-mesh', 'cluster.local'), undefined)
  t.equal(parseServerName(undefined, 'cluster.local'), undefined)
  t.throws(() => serverName({ trustDomain: 'cluster.local', namespace: 'a'.repeat(63), serviceAccount: 'b'.repeat(200) }), /longer than 253/)
})

t.test('the forwarded header carries one source address', async (t) => {
  t.equal(forwardedFor('10.0.0.1'), 'for=10.0.0.1')
  t.equal(forwardedFor('fd00::1'), 'for="[fd00::1]"')
  t.equal(parseForwardedFor('for=10.0.0.1'), '10.0.0.1')
  t.equal(parseForwardedFor('for="[FD00:0::1]"'), 'fd00::1')
  for (const bad of ['for=10.0.0.1, for=10.0.0.2', 'for=fd00::1', 'for="[10.0.0.1]"', 'by=10.0.0.1', 'for=unknown', 'for=10.0.0.256', '', undefined, ['for=10.0.0.1']]) t.equal(parseForwardedFor(bad), undefined, JSON.stringify(bad))
})
