import t from 'tap'
import type { V1Node } from '@kubernetes/client-node'
import { currentPodRoutes, hostGwRoutes, routeChanges, syncHostGwRoutes } from '../../src/kubelet/host-gw.ts'
import { nodeNetworks } from '../../src/kubelet/node-networks.ts'
import { ipBatch, listRoutes } from '../../src/netlink/index.ts'
import { testNetns } from '../helpers/netns.ts'

function node(name: string, cidrs: string[], ips: string[]): V1Node {
  return { metadata: { name }, spec: { podCIDR: cidrs[0], podCIDRs: cidrs }, status: { addresses: [...ips.map((address) => ({ type: 'InternalIP', address })), { type: 'Hostname', address: name }] } }
}

t.test('routes to every other node, per family', async (t) => {
  const nodes = [node('a', ['10.244.0.0/24'], ['172.31.0.2']), node('b', ['10.244.1.0/24', 'fd00:10:244:1::/64'], ['172.31.0.3', 'fd31::3']), node('c', [], ['172.31.0.4']), node('d', ['10.244.3.0/24'], [])]
  t.same(hostGwRoutes(nodeNetworks(nodes, 'a').networks), [
    { dst: '10.244.1.0/24', via: '172.31.0.3' },
    { dst: 'fd00:10:244:1::/64', via: 'fd31::3' },
  ])
  t.same(routeChanges([{ dst: '10.244.9.0/24', via: '172.31.0.9' }, { dst: '10.244.1.0/24', via: '172.31.0.3' }], [{ dst: '10.244.1.0/24', via: '172.31.0.3' }, { dst: '10.244.2.0/24', via: '172.31.0.5' }]), [
    'route del 10.244.9.0/24 via 172.31.0.9 proto 149',
    'route replace 10.244.2.0/24 via 172.31.0.5 proto 149',
  ])
})

t.test('the applier programs a namespace and touches only its own routes', async (t) => {
  const ns = await testNetns(t, 'hgw')
  await ipBatch(['link add u0 type veth peer name u1', 'link set u0 up', 'link set u1 up', 'addr add 172.31.0.2/24 dev u0', 'route add 10.99.0.0/16 via 172.31.0.50'], ns)
  const nodes = [node('self', ['10.244.0.0/24'], ['172.31.0.2']), node('b', ['10.244.1.0/24'], ['172.31.0.3']), node('c', ['10.244.2.0/24'], ['172.31.0.4'])]
  await syncHostGwRoutes(nodeNetworks(nodes, 'self').networks, ns)
  t.same(await currentPodRoutes(ns), [
    { dst: '10.244.1.0/24', via: '172.31.0.3' },
    { dst: '10.244.2.0/24', via: '172.31.0.4' },
  ])
  t.same(await syncHostGwRoutes(nodeNetworks(nodes, 'self').networks, ns), [], 'a second sync changes nothing')
  await syncHostGwRoutes(nodeNetworks(nodes.slice(0, 2), 'self').networks, ns)
  t.same(await currentPodRoutes(ns), [{ dst: '10.244.1.0/24', via: '172.31.0.3' }], 'a gone node loses its route')
  t.ok((await listRoutes(4, ns)).some((r) => r.dst === '10.99.0.0/16'), 'routes weft did not make stay')
})
