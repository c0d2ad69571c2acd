// Seeded hostile Node objects (podCIDRs and addresses from fuzz.ts's hostile strings) through
// the host-gw route lines and the weft-agent ruleset: every line that comes out is well formed.
import t from 'tap'
import type { V1Node } from '@kubernetes/client-node'
import { hostGwRoutes, routeChanges } from '../../src/kubelet/host-gw.ts'
import { nodeNetworks } from '../../src/kubelet/node-networks.ts'
import { masqueradeRuleset, rulesetText } from '../../src/kubelet/pod-masquerade.ts'
import { HOSTILE_STRINGS, Rng, fuzzSettings } from '../helpers/fuzz.ts'

const self: V1Node = { metadata: { name: 'self' }, spec: { podCIDRs: ['10.244.0.0/24'] }, status: { addresses: [{ type: 'InternalIP', address: '172.31.0.2' }] } }

t.test('seeded hostile Node objects: every output line is well formed', async (t) => {
  const { seed, iterations } = fuzzSettings(2000)
  const rng = new Rng(seed)
  const field = () => (rng.chance(0.3) ? rng.pick(['10.244.7.0/24', 'fd00:7::/64', '172.31.0.77', 'fd31::77']) : rng.chance(0.5) ? rng.pick(HOSTILE_STRINGS) : rng.hostileString())
  const cidrLine = /^(route (del|replace) [0-9a-f:.]+\/\d{1,3} via [0-9a-f:.]+ proto 149)$/
  let lines = 0
  for (let i = 0; i < iterations; i++) {
    const nodes: V1Node[] = [self]
    for (let n = rng.int(4); n > 0; n--) {
      const spec = rng.chance(0.1) ? { podCIDR: field() } : { podCIDRs: Array.from({ length: rng.int(3) }, field) }
      const addresses = Array.from({ length: rng.int(3) }, () => ({ type: rng.pick(['InternalIP', 'ExternalIP', 'Hostname']), address: rng.chance(0.05) ? (rng.int(1000) as unknown as string) : field() }))
      // Shapes a schema would reject, from an API server that does not check them.
      const odd = rng.chance(0.05) ? rng.pick<unknown>([field(), { x: 1 }, null, 7]) : undefined
      nodes.push({ metadata: { name: `n${n}` }, spec: odd === undefined ? spec : ({ podCIDRs: odd } as never), status: { addresses: rng.chance(0.05) ? (odd as never) : addresses } })
    }
    const current = hostGwRoutes(nodeNetworks(nodes, 'self').networks)
    for (const line of routeChanges(current.slice(1), hostGwRoutes(nodeNetworks(nodes.slice(1), 'self').networks))) {
      lines++
      if (!cidrLine.test(line)) {
        t.fail(`case ${i} (seed ${seed}): route line ${JSON.stringify(line)}`)
        return
      }
    }
    const ruleset = rulesetText(masqueradeRuleset(nodeNetworks(nodes, rng.chance(0.5) ? 'self' : 'n1').networks, { hairpin: { ipv4: true, ipv6: rng.chance(0.5) } }))
    for (const line of ruleset.split('\n')) {
      if (!/^(|(add|delete) table ip6? weft-agent|add set ip6? weft-agent pod-cidrs \{ type ipv[46]_addr; flags interval; elements = \{ [0-9a-f:., /]+ \} \}|add chain ip6? weft-agent postrouting \{ type nat hook postrouting priority srcnat; policy accept; \}|add rule ip6? weft-agent postrouting ip6? saddr \{ [0-9a-f:., /]+ \} ip6? daddr (\{ [0-9a-f:., /]+ \} ct status dnat|!= @pod-cidrs) masquerade)$/.test(line)) {
        t.fail(`case ${i} (seed ${seed}): ruleset line ${JSON.stringify(line)}`)
        return
      }
    }
  }
  t.pass(`${iterations} cases, ${lines} route lines, all well formed`)
})
