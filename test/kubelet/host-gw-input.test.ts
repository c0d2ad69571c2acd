// host-gw routes from Node objects nobody validated (a real Kubernetes API server keeps
// Node addresses as given): one bad Node costs its own routes, never the others'.
import t from 'tap'
import type { V1Node } from '@kubernetes/client-node'
import { hostGwRoutes, routeChanges } from '../../src/kubelet/host-gw.ts'
import { nodeNetworks } from '../../src/kubelet/node-networks.ts'
import { checkIpBatchLines } from '../../src/netlink/index.ts'

function node(name: string, cidrs: string[], ips: string[]): V1Node {
  return { metadata: { name }, spec: { podCIDRs: cidrs }, status: { addresses: ips.map((address) => ({ type: 'InternalIP', address })) } }
}

t.test('addresses and pod CIDRs that do not parse give no route; the rest still do', async (t) => {
  const nodes = [
    node('self', ['10.244.0.0/24'], ['172.31.0.2']),
    node('bad-ip', ['10.244.1.0/24'], ['172.31.0.3\nroute flush table main']),
    node('bad-cidr', ['10.244.2.0/24 # x', '10.244.22.0/24\nroute flush table main'], ['172.31.0.4']),
    node('zone', ['fd00:10:244:3::/64'], ['fe80::1%eth0']),
    node('good', ['10.244.4.0/24'], ['172.31.0.5']),
    node('padded', ['010.244.005.000/24'], ['172.031.000.006']),
  ]
  const routes = hostGwRoutes(nodeNetworks(nodes, 'self').networks)
  t.same(routes, [
    { dst: '10.244.4.0/24', via: '172.31.0.5' },
    { dst: '10.244.5.0/24', via: '172.31.0.6' },
  ])
  t.doesNotThrow(() => checkIpBatchLines(routeChanges([], routes)), 'every line is fit for ip -batch')
})
