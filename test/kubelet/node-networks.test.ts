// Node objects are input from the API: their podCIDRs and addresses become `ip` route lines
// and nft rules only through a parser that rejects what it does not understand, and a bad
// Node costs only its own routes.
import t from 'tap'
import type { V1Node } from '@kubernetes/client-node'
import { hostGwRoutes, routeChanges } from '../../src/kubelet/host-gw.ts'
import { nodeNetworks } from '../../src/kubelet/node-networks.ts'
import { masqueradeRuleset as transactions, rulesetText, type MasqueradeOptions } from '../../src/kubelet/pod-masquerade.ts'

const masqueradeRuleset = (nodes: readonly V1Node[], self: string, opts?: MasqueradeOptions) => rulesetText(transactions(nodeNetworks(nodes, self).networks, opts))

function node(name: string, cidrs: string[], ips: string[]): V1Node {
  return { metadata: { name }, spec: { podCIDR: cidrs[0], podCIDRs: cidrs }, status: { addresses: ips.map((address) => ({ type: 'InternalIP', address })) } }
}

const self = node('self', ['10.244.0.0/24'], ['172.31.0.2'])

t.test('hostile podCIDRs and addresses never reach the route lines or the ruleset', async (t) => {
  const bad = [
    node('inject-nl', ['10.244.1.0/24\nlink del eth0'], ['172.31.0.3']),
    node('inject-nft', ['10.244.2.0/24 } ; flush ruleset'], ['172.31.0.4']),
    node('inject-via', ['10.244.3.0/24'], ['172.31.0.5 dev lo\nroute flush all']),
    node('extra-slash', ['10.244.4.0/24/8'], ['172.31.0.6']),
    node('default-route', ['0.0.0.0/0'], ['172.31.0.7']),
    node('steals-mine', ['10.244.0.128/25'], ['172.31.0.8']),
    node('two-v4', ['10.244.9.0/24', '10.244.10.0/24'], ['172.31.0.9']),
  ]
  const good = node('good', ['10.244.5.7/24', 'FD00:10:244:5::/64'], ['172.31.0.10', 'FD31::10'])
  const nodes = [self, ...bad, good]
  const { networks, problems } = nodeNetworks(nodes, 'self')
  t.same(
    networks.find((n) => n.name === 'good'),
    { name: 'good', self: false, podCIDRs: ['10.244.5.0/24', 'fd00:10:244:5::/64'], internalIPs: ['172.31.0.10', 'fd31::10'] },
    'valid values come out canonical',
  )
  t.same(problems.map((p) => p.node).sort(), bad.map((n) => n.metadata!.name!).sort(), 'each bad node is reported')
  for (const p of problems) t.match(p.message, /^Node "[^"]+": /, `the message names the node: ${p.message}`)
  t.match(problems.find((p) => p.node === 'steals-mine')!.message, /overlaps this node's pod CIDR 10\.244\.0\.0\/24/)

  const routes = hostGwRoutes(nodeNetworks(nodes, 'self').networks)
  t.same(routes, [
    { dst: '10.244.5.0/24', via: '172.31.0.10' },
    { dst: 'fd00:10:244:5::/64', via: 'fd31::10' },
  ], 'only the good node is routed')
  for (const line of routeChanges([], routes)) t.match(line, /^route replace [0-9a-f:.]+\/\d+ via [0-9a-f:.]+ proto 149$/)
  const ruleset = masqueradeRuleset(nodes, 'self', { hairpin: { ipv4: true, ipv6: true } })
  t.notMatch(ruleset, /flush|link|0\.0\.0\.0\/0/)
  t.match(ruleset, 'elements = { 10.244.0.0/24, 10.244.3.0/24, 10.244.5.0/24 }', 'a valid CIDR of a node with a bad address is still pod network')
})

t.test('a bad pod CIDR of this node keeps it out of the ruleset, not the others', async (t) => {
  const mine = node('self', ['10.244.0.0/24 accept'], ['172.31.0.2'])
  const { networks, problems } = nodeNetworks([mine, node('b', ['10.244.1.0/24'], ['172.31.0.3'])], 'self')
  t.same(networks.find((n) => n.self)?.podCIDRs, [])
  t.equal(problems.length, 1)
  t.notMatch(masqueradeRuleset([mine], 'self'), 'masquerade', 'no rule for a CIDR that is not one')
})

t.test('of two other Nodes with overlapping pod CIDRs, the one created first keeps its routes', async (t) => {
  const old = { ...node('old', ['10.244.1.0/24'], ['172.31.0.3']), metadata: { name: 'old', creationTimestamp: '2024-01-01T00:00:00Z' as unknown as Date } }
  const usurper = { ...node('a-usurper', ['10.244.1.0/25'], ['172.31.0.66']), metadata: { name: 'a-usurper', creationTimestamp: '2025-06-01T00:00:00Z' as unknown as Date } }
  t.same(hostGwRoutes(nodeNetworks([usurper, self, old], 'self').networks), [{ dst: '10.244.1.0/24', via: '172.31.0.3' }])
  const { problems } = nodeNetworks([usurper, self, old], 'self')
  t.same(problems.map((p) => p.message), ['Node "a-usurper": spec.podCIDRs 10.244.1.0/25 overlaps the pod CIDR of Node "old" (created earlier) 10.244.1.0/24: ignored'])
})
