import t from 'tap'
import { baseRules, serviceRules, type ServiceRules } from '../../../proxy/nftables/rules.ts'
import { entry, ep, port, state } from './fixtures.ts'

const SVC = 'service-ULMVA6XW-ns1/svc1/tcp/p80'
const PICK1 = 'meta l4proto tcp dnat ip addr . port to ip daddr . th dport . numgen random mod 1 map @service-endpoints-tcp'

function elements(r: ServiceRules): string[] {
  return r.elements.map((e) => `${e.set}: ${e.value ? `${e.key} : ${e.value}` : e.key}`).sort()
}

function build(...args: Parameters<typeof entry>): ServiceRules {
  const e = entry(...args)
  return serviceRules(e, state([e]))
}

t.test('ClusterIP with endpoints: map elements and a shared pick chain, no chain of its own', async (t) => {
  const r = build(port(), [ep('10.180.0.1'), ep('10.180.0.2', { ready: false, serving: false })])
  t.same(elements(r), [
    'cluster-ips: 172.30.0.41',
    'service-endpoints-tcp: 172.30.0.41 . 80 . 0 : 10.180.0.1 . 80',
    'service-ips: 172.30.0.41 . tcp . 80 : goto pick-service-tcp-1',
  ])
  t.same(r.chains.size + r.sets.size, 0)
  t.same(Object.fromEntries(r.shared), { 'pick-service-tcp-1': [PICK1] })
  t.same(r.endpointIPs, ['10.180.0.1'], 'the unready endpoint is not used')
})

t.test('endpoint choice: entries 0..n-1 and the pick chain of n, for any n', async (t) => {
  for (const n of [2, 3, 5, 20, 300]) {
    const eps = Array.from({ length: n }, (_, i) => ep(`10.180.${i >> 8}.${i & 255}`, { port: 8080 }))
    const r = build(port(), eps)
    const entries = r.elements.filter((e) => e.set === 'service-endpoints-tcp')
    t.same(entries.map((e) => e.key), eps.map((_, i) => `172.30.0.41 . 80 . ${i}`), `${n}: one entry per index`)
    t.same(new Set(entries.map((e) => e.value)).size, n, `${n}: each endpoint once`)
    t.same([...r.shared.keys()], [`pick-service-tcp-${n}`])
    t.match(r.shared.get(`pick-service-tcp-${n}`)![0], new RegExp(` numgen random mod ${n} map @service-endpoints-tcp$`))
    t.ok(r.elements.some((e) => e.set === 'service-ips' && e.value === `goto pick-service-tcp-${n}`))
  }
})

t.test('the chains of any number of Services are the base ones and a pick chain per endpoint count in use', async (t) => {
  const entries = Array.from({ length: 500 }, (_, i) => entry(port({ name: `s${i}`, clusterIP: `172.30.${i >> 8}.${i & 255}`, nodePort: i % 7 === 0 ? 30000 + i : 0 }), Array.from({ length: 1 + (i % 4) }, (_, j) => ep(`10.181.${i >> 8}.${i & 255}`, { port: 1000 + j }))))
  const st = state(entries)
  const chains = new Set<string>()
  for (const e of entries) {
    const r = serviceRules(e, st)
    for (const c of [...r.chains.keys(), ...r.shared.keys()]) chains.add(c)
  }
  t.same([...chains].sort(), ['pick-nodeport-tcp-1', 'pick-nodeport-tcp-2', 'pick-nodeport-tcp-3', 'pick-nodeport-tcp-4', 'pick-service-tcp-1', 'pick-service-tcp-2', 'pick-service-tcp-3', 'pick-service-tcp-4'])
})

t.test('hairpin: the node\'s own endpoints, and every endpoint of a Local-policy port with external entries', async (t) => {
  const hairpin = (r: ServiceRules) => elements(r).filter((e) => e.startsWith('hairpin'))
  const eps = [ep('10.180.0.1'), ep('10.180.0.2', { local: true })]
  t.same(hairpin(build(port({ nodePort: 30080 }), eps)), ['hairpin: 10.180.0.2 . 10.180.0.2'], 'a pod\'s traffic is DNATed on its own node: only local endpoints come back to themselves here')
  t.same(hairpin(build(port({ externalLocal: true }), eps)), ['hairpin: 10.180.0.2 . 10.180.0.2'], 'Local policy without external entries changes nothing')
  t.same(hairpin(build(port({ nodePort: 30080, externalLocal: true }), eps)), ['hairpin: 10.180.0.1 . 10.180.0.1', 'hairpin: 10.180.0.2 . 10.180.0.2'], 'pods elsewhere reach its NodePort unmasqueraded')
})

t.test('ClusterIPs reached from outside the pod networks are masqueraded by one fixed rule in postrouting', async (t) => {
  const rule = 'ct status dnat ct original ip daddr @cluster-ips ip saddr != { 10.0.0.0/8 } jump mark-for-masquerade'
  t.ok(baseRules(state([])).chains.get('masquerading')!.includes(rule))
  t.same(baseRules(state([], { clusterCIDRs: [] })).chains.get('masquerading')!.filter((r) => r.includes('cluster-ips')), [], 'no pod networks: no such rule')
  t.same(baseRules(state([])).chains.get('services'), [
    'ip daddr . meta l4proto . th dport vmap @service-ips',
    'fib daddr type local ip daddr != 127.0.0.0/8 meta l4proto . th dport vmap @service-nodeports',
  ])
})

t.test('NodePort and externalIP (Cluster policy) go through the fixed external chains, masqueraded', async (t) => {
  const r = build(port({ nodePort: 30080, externalIPs: ['192.168.99.1'] }), [ep('10.180.0.1'), ep('10.180.0.2')])
  t.same(elements(r), [
    'cluster-ips: 172.30.0.41',
    'external-ips: 192.168.99.1 . tcp . 80 : goto pick-service-tcp-2',
    'external-nodeports: tcp . 30080 : goto pick-nodeport-tcp-2',
    'nodeport-endpoints-tcp: 30080 . 0 : 10.180.0.1 . 80',
    'nodeport-endpoints-tcp: 30080 . 1 : 10.180.0.2 . 80',
    'service-endpoints-tcp: 172.30.0.41 . 80 . 0 : 10.180.0.1 . 80',
    'service-endpoints-tcp: 172.30.0.41 . 80 . 1 : 10.180.0.2 . 80',
    'service-endpoints-tcp: 192.168.99.1 . 80 . 0 : 10.180.0.1 . 80',
    'service-endpoints-tcp: 192.168.99.1 . 80 . 1 : 10.180.0.2 . 80',
    'service-ips: 172.30.0.41 . tcp . 80 : goto pick-service-tcp-2',
    'service-ips: 192.168.99.1 . tcp . 80 : goto external',
    'service-nodeports: tcp . 30080 : goto nodeport-external',
  ])
  t.same(Object.fromEntries(r.shared), {
    'pick-service-tcp-2': ['meta l4proto tcp dnat ip addr . port to ip daddr . th dport . numgen random mod 2 map @service-endpoints-tcp'],
    'pick-nodeport-tcp-2': ['meta l4proto tcp dnat ip addr . port to th dport . numgen random mod 2 map @nodeport-endpoints-tcp'],
  })
  const base = baseRules(state([]))
  t.same(base.chains.get('external'), ['jump mark-for-masquerade', 'ip daddr . meta l4proto . th dport vmap @external-ips'])
  t.same(base.chains.get('nodeport-external'), ['jump mark-for-masquerade', 'meta l4proto . th dport vmap @external-nodeports'])
})

t.test('load-balancer IP with source ranges gets a firewall chain', async (t) => {
  const r = build(port({ loadBalancerIPs: ['1.2.3.4'], loadBalancerSourceRanges: ['203.0.113.0/24'] }), [ep('10.180.0.1')])
  const fw = 'firewall-ULMVA6XW-ns1/svc1/tcp/p80'
  t.same(r.chains.get(fw), ['ip saddr != { 203.0.113.0/24 } drop'])
  t.ok(elements(r).includes(`firewall-ips: 1.2.3.4 . tcp . 80 : goto ${fw}`))
  t.ok(elements(r).includes('service-ips: 1.2.3.4 . tcp . 80 : goto external'))
  const open = build(port({ loadBalancerIPs: ['1.2.3.4'] }), [ep('10.180.0.1')])
  t.same(open.chains.size, 0, 'no ranges: no firewall')
  const e = entry(port({ loadBalancerIPs: ['1.2.3.4'], loadBalancerSourceRanges: ['192.168.0.0/16'] }), [ep('10.180.0.1')])
  t.same(serviceRules(e, state([e])).chains.get(fw), ['ip saddr != { 192.168.0.0/16, 1.2.3.4 } drop'], 'the node is in a range: its VIP-sourced traffic passes')
})

t.test('source ranges given but none valid: the firewall admits no one', async (t) => {
  const fw = 'firewall-ULMVA6XW-ns1/svc1/tcp/p80'
  const r = build(port({ loadBalancerIPs: ['1.2.3.4'], loadBalancerSourcesRestricted: true }), [ep('10.180.0.1')])
  t.same(r.chains.get(fw), ['drop'])
  t.ok(elements(r).includes(`firewall-ips: 1.2.3.4 . tcp . 80 : goto ${fw}`))
})

t.test('ClientIP affinity: a chain per port with a set per endpoint, no endpoint chains', async (t) => {
  const r = build(port({ affinitySeconds: 10800, nodePort: 30080 }), [ep('10.180.0.1'), ep('10.180.0.2')])
  const a1 = 'affinity-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80'
  const a2 = 'affinity-2ZNDXFAB-ns1/svc1/tcp/p80__10.180.0.2/80'
  const spec = 'type ipv4_addr; flags dynamic,timeout; timeout 10800s;'
  t.same(Object.fromEntries(r.sets), { [a1]: spec, [a2]: spec }, 'kube-proxy\'s set names (hashes 5OJB2KTY, 2ZNDXFAB)')
  const dnat = (set: string, ip: string) => `update @${set} { ip saddr } meta l4proto tcp dnat to ${ip}:80`
  t.same(Object.fromEntries(r.chains), {
    [SVC]: [`ip saddr @${a1} ${dnat(a1, '10.180.0.1')}`, `ip saddr @${a2} ${dnat(a2, '10.180.0.2')}`, `numgen random mod 2 0 ${dnat(a1, '10.180.0.1')}`, dnat(a2, '10.180.0.2')],
  })
  t.same(r.shared.size, 0)
  t.ok(elements(r).includes(`service-ips: 172.30.0.41 . tcp . 80 : goto ${SVC}`))
  t.ok(elements(r).includes(`external-nodeports: tcp . 30080 : goto ${SVC}`), 'the NodePort shares the chain (and the clients\' memory)')
  t.notOk(r.elements.some((e) => e.set.endsWith('-endpoints')), 'no endpoint map entries')
})

t.test('internalTrafficPolicy Local', async (t) => {
  const r = build(port({ internalLocal: true }), [ep('10.180.0.1'), ep('10.180.0.2', { local: true })])
  t.same(elements(r), [
    'cluster-ips: 172.30.0.41',
    'hairpin: 10.180.0.2 . 10.180.0.2',
    'service-endpoints-tcp: 172.30.0.41 . 80 . 0 : 10.180.0.2 . 80',
    'service-ips: 172.30.0.41 . tcp . 80 : goto pick-service-tcp-1',
  ])
  const none = build(port({ internalLocal: true }), [ep('10.180.0.1')])
  t.same(elements(none), ['cluster-ips: 172.30.0.41', 'no-endpoint-services: 172.30.0.41 . tcp . 80 : drop'], 'no local endpoint: dropped, not rejected')
  t.same(none.shared.size + none.chains.size, 0)
})

t.test('externalTrafficPolicy Local', async (t) => {
  const r = build(port({ nodePort: 30080, externalIPs: ['192.168.99.1'], externalLocal: true }), [ep('10.180.0.1'), ep('10.180.0.2', { local: true })])
  const els = elements(r)
  for (const want of [
    'service-nodeports: tcp . 30080 : goto nodeport-external-local',
    'external-nodeports: tcp . 30080 : goto pick-nodeport-tcp-2',
    'external-local-nodeports: tcp . 30080 : goto pick-nodeport-local-tcp-1',
    'nodeport-local-endpoints-tcp: 30080 . 0 : 10.180.0.2 . 80',
    'service-ips: 192.168.99.1 . tcp . 80 : goto external-local',
    'external-ips: 192.168.99.1 . tcp . 80 : goto pick-service-tcp-2',
    'external-local-ips: 192.168.99.1 . tcp . 80 : goto pick-service-local-tcp-1',
    'service-local-endpoints-tcp: 192.168.99.1 . 80 . 0 : 10.180.0.2 . 80',
  ]) t.ok(els.includes(want), want)
  t.same(baseRules(state([])).chains.get('nodeport-external-local'), [
    'ip saddr { 10.0.0.0/8 } meta l4proto . th dport vmap @external-nodeports',
    'fib saddr type local jump mark-for-masquerade',
    'fib saddr type local meta l4proto . th dport vmap @external-nodeports',
    'meta l4proto . th dport vmap @external-local-nodeports',
  ], 'pods and the node use any endpoint (the node masqueraded); others only the local ones')
  const remote = elements(build(port({ nodePort: 30080, externalLocal: true }), [ep('10.180.0.1')]))
  t.ok(remote.includes('no-endpoint-nodeports: tcp . 30080 : drop'), 'no local endpoint: outside traffic is dropped')
  t.ok(remote.includes('external-nodeports: tcp . 30080 : goto pick-nodeport-tcp-1'), 'pods still reach it')
  t.notOk(remote.some((e) => e.startsWith('external-local-')), 'and nothing local to pick')
})

t.test('terminating endpoints are a fallback', async (t) => {
  const term = { ready: false, serving: true, terminating: true }
  const r = build(port(), [ep('10.180.0.1', term), ep('10.180.0.2', { ready: false, serving: false, terminating: true })])
  t.same(r.endpointIPs, ['10.180.0.1'])
  const mixed = build(port(), [ep('10.180.0.1', term), ep('10.180.0.3')])
  t.same(mixed.endpointIPs, ['10.180.0.3'], 'unused when a ready one exists')
})

t.test('no endpoints: reject', async (t) => {
  const r = build(port({ protocol: 'UDP', nodePort: 30080, externalIPs: ['192.168.99.1'] }), [])
  t.same(r.chains.size + r.shared.size, 0)
  t.same(elements(r), [
    'cluster-ips: 172.30.0.41',
    'no-endpoint-nodeports: udp . 30080 : goto reject-chain',
    'no-endpoint-services: 172.30.0.41 . udp . 80 : goto reject-chain',
    'no-endpoint-services: 192.168.99.1 . udp . 80 : goto reject-chain',
  ])
})

t.test('UDP and SCTP', async (t) => {
  const u = build(port({ protocol: 'UDP', portName: 'dns', port: 53 }), [ep('10.180.0.1', { port: 5353 })])
  t.same(elements(u).filter((e) => /pick|endpoints/.test(e)), ['service-endpoints-udp: 172.30.0.41 . 53 . 0 : 10.180.0.1 . 5353', 'service-ips: 172.30.0.41 . udp . 53 : goto pick-service-udp-1'], 'UDP has its own endpoint map and pick chains')
  t.same(u.shared.get('pick-service-udp-1'), ['meta l4proto udp dnat ip addr . port to ip daddr . th dport . numgen random mod 1 map @service-endpoints-udp'])
  const s = build(port({ protocol: 'SCTP', affinitySeconds: 5 }), [ep('10.180.0.1')])
  t.ok(s.elements.some((e) => e.key === '172.30.0.41 . sctp . 80'))
  t.ok([...s.chains.values()].flat().at(-1)!.endsWith('meta l4proto sctp dnat to 10.180.0.1:80'))
})

t.test('IPv6', async (t) => {
  const e = entry(port({ clusterIP: 'fd00:30::41', nodePort: 30080 }), [ep('fd00:10::1')])
  t.same(serviceRules(entry(e.port, [ep('fd00:10::1', { local: true })]), state([], { family: 6 })).elements.filter((x) => x.set === 'hairpin'), [{ set: 'hairpin', key: 'fd00:10::1 . fd00:10::1', value: '' }])
  const r = serviceRules(e, state([e], { family: 6 }))
  t.same(elements(r), [
    'cluster-ips: fd00:30::41',
    'external-nodeports: tcp . 30080 : goto pick-nodeport-tcp-1',
    'nodeport-endpoints-tcp: 30080 . 0 : fd00:10::1 . 80',
    'service-endpoints-tcp: fd00:30::41 . 80 . 0 : fd00:10::1 . 80',
    'service-ips: fd00:30::41 . tcp . 80 : goto pick-service-tcp-1',
    'service-nodeports: tcp . 30080 : goto nodeport-external',
  ])
  t.same(r.shared.get('pick-service-tcp-1'), ['meta l4proto tcp dnat ip6 addr . port to ip6 daddr . th dport . numgen random mod 1 map @service-endpoints-tcp'])
  const sticky = serviceRules(entry(port({ clusterIP: 'fd00:30::41', affinitySeconds: 60 }), [ep('fd00:10::1')]), state([], { family: 6 }))
  const set = [...sticky.sets.keys()][0]!
  t.match(set, /__fd00\.10\.\.1\/80$/, 'colons become dots in set names')
  t.same(sticky.chains.get(SVC), [`ip6 saddr @${set} update @${set} { ip6 saddr } meta l4proto tcp dnat to [fd00:10::1]:80`, `update @${set} { ip6 saddr } meta l4proto tcp dnat to [fd00:10::1]:80`])
  const base = baseRules(state([], { family: 6 }))
  t.same(base.chains.get('services'), [
    'ip6 daddr . meta l4proto . th dport vmap @service-ips',
    'fib daddr type local ip6 daddr != ::1 meta l4proto . th dport vmap @service-nodeports',
  ])
  t.same(base.sets.get('cluster-ips'), { kind: 'set', spec: 'type ipv6_addr;' })
  t.same(base.sets.get('service-endpoints-tcp'), { kind: 'map', spec: 'typeof ip6 daddr . th dport . numgen random mod 64 : ip6 daddr . tcp dport;' })
  t.same(base.sets.get('nodeport-local-endpoints-sctp'), { kind: 'map', spec: 'typeof th dport . numgen random mod 64 : ip6 daddr . sctp dport;' })
  t.same(base.sets.get('hairpin'), { kind: 'set', spec: 'type ipv6_addr . ipv6_addr;' })
})

t.test('base rules', async (t) => {
  const b = baseRules(state([]))
  t.same(
    b.baseChains.map((c) => `${c.name} { ${c.spec} }`),
    [
      'filter-prerouting { type filter hook prerouting priority -110; policy accept; }',
      'filter-input { type filter hook input priority -110; policy accept; }',
      'filter-forward { type filter hook forward priority -110; policy accept; }',
      'filter-output { type filter hook output priority -110; policy accept; }',
      'filter-output-post-dnat { type filter hook output priority -90; policy accept; }',
      'nat-prerouting { type nat hook prerouting priority -100; policy accept; }',
      'nat-output { type nat hook output priority -100; policy accept; }',
      'nat-postrouting { type nat hook postrouting priority 100; policy accept; }',
    ],
  )
  t.same(b.chains.get('masquerading'), [
    'ct status dnat ip saddr . ip daddr @hairpin jump mark-for-masquerade',
    'ct status dnat ct original ip daddr @cluster-ips ip saddr != { 10.0.0.0/8 } jump mark-for-masquerade',
    'meta mark & 0x4000 == 0 return',
    'meta mark set meta mark ^ 0x4000',
    'masquerade fully-random',
  ])
  t.same(b.chains.get('cluster-ips-check'), ['ip daddr @cluster-ips reject', 'ip daddr { 172.30.0.0/16 } drop'])
  t.same(baseRules(state([], { serviceCIDRs: [] })).chains.get('cluster-ips-check'), ['ip daddr @cluster-ips reject'])
})
