import t from 'tap'
import { baseRules, serviceRules, VMAP_MIN, type ServiceRules } from '../../../proxy/nftables/rules.ts'
import { entry, ep, port, state } from './fixtures.ts'

const SVC = 'service-ULMVA6XW-ns1/svc1/tcp/p80'
const EP1 = 'endpoint-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80'

function elements(r: ServiceRules): string[] {
  return r.elements.map((e) => `${e.set}: ${e.value ? `${e.key} : ${e.value}` : e.key}`).sort()
}

function build(...args: Parameters<typeof entry>): ServiceRules {
  const e = entry(...args)
  return serviceRules(e, state([e]))
}

t.test('chain names are kube-proxy\'s', async (t) => {
  const r = build(port(), [ep('10.180.0.1')])
  t.same([...r.chains.keys()], [EP1, SVC], 'same hashes as kube-proxy\'s tests (ULMVA6XW, 5OJB2KTY)')
})

t.test('ClusterIP with endpoints', async (t) => {
  const r = build(port(), [ep('10.180.0.1'), ep('10.180.0.2', { ready: false, serving: false })])
  t.same(Object.fromEntries(r.chains), {
    [EP1]: ['ip saddr 10.180.0.1 jump mark-for-masquerade', 'meta l4proto tcp dnat to 10.180.0.1:80'],
    [SVC]: [
      'ip daddr 172.30.0.41 tcp dport 80 ip saddr != { 10.0.0.0/8 } jump mark-for-masquerade',
      `goto ${EP1}`,
    ],
  })
  t.same(elements(r), ['cluster-ips: 172.30.0.41', `service-ips: 172.30.0.41 . tcp . 80 : goto ${SVC}`])
  t.same(r.sets.size, 0)
  t.same(r.endpointIPs, ['10.180.0.1'], 'the unready endpoint gets no chain')
})

t.test('no masquerade rule without pod networks', async (t) => {
  const e = entry(port(), [ep('10.180.0.1')])
  const r = serviceRules(e, state([e], { clusterCIDRs: [] }))
  t.same(r.chains.get(SVC), [`goto ${EP1}`])
})

t.test('NodePort and externalIP go through the external chain, masqueraded', async (t) => {
  const r = build(port({ nodePort: 30080, externalIPs: ['192.168.99.1'] }), [ep('10.180.0.1'), ep('10.180.0.2')])
  const ext = [...r.chains.keys()].find((c) => c.startsWith('external-'))!
  t.equal(ext, 'external-ULMVA6XW-ns1/svc1/tcp/p80')
  t.same(r.chains.get(ext), ['jump mark-for-masquerade', `goto ${SVC}`])
  t.same(elements(r), [
    'cluster-ips: 172.30.0.41',
    `service-ips: 172.30.0.41 . tcp . 80 : goto ${SVC}`,
    `service-ips: 192.168.99.1 . tcp . 80 : goto ${ext}`,
    `service-nodeports: tcp . 30080 : goto ${ext}`,
  ])
  t.match(r.chains.get(SVC)!.slice(-2), [/^numgen random mod 2 0 goto endpoint-\S+10\.180\.0\.1\/80$/, /^goto endpoint-\S+10\.180\.0\.2\/80$/])
})

t.test('load-balancer IP with source ranges gets a firewall chain', async (t) => {
  const r = build(port({ loadBalancerIPs: ['1.2.3.4'], loadBalancerSourceRanges: ['203.0.113.0/24'] }), [ep('10.180.0.1')])
  const fw = 'firewall-ULMVA6XW-ns1/svc1/tcp/p80'
  t.same(r.chains.get(fw), ['ip saddr != { 203.0.113.0/24 } drop'])
  t.ok(elements(r).includes(`firewall-ips: 1.2.3.4 . tcp . 80 : goto ${fw}`))
  t.ok(elements(r).includes('service-ips: 1.2.3.4 . tcp . 80 : goto external-ULMVA6XW-ns1/svc1/tcp/p80'))
  const open = build(port({ loadBalancerIPs: ['1.2.3.4'] }), [ep('10.180.0.1')])
  t.notOk([...open.chains.keys()].some((c) => c.startsWith('firewall-')), 'no ranges: no firewall')
  const e = entry(port({ loadBalancerIPs: ['1.2.3.4'], loadBalancerSourceRanges: ['192.168.0.0/16'] }), [ep('10.180.0.1')])
  t.same(serviceRules(e, state([e])).chains.get(fw), ['ip saddr != { 192.168.0.0/16, 1.2.3.4 } drop'], 'the node is in a range: its VIP-sourced traffic passes')
})

t.test('source ranges given but none valid: the firewall admits no one', async (t) => {
  const fw = 'firewall-ULMVA6XW-ns1/svc1/tcp/p80'
  const r = build(port({ loadBalancerIPs: ['1.2.3.4'], loadBalancerSourcesRestricted: true }), [ep('10.180.0.1')])
  t.same(r.chains.get(fw), ['drop'])
  t.ok(elements(r).includes(`firewall-ips: 1.2.3.4 . tcp . 80 : goto ${fw}`))
})

t.test('ClientIP affinity', async (t) => {
  const r = build(port({ affinitySeconds: 10800 }), [ep('10.180.0.1')])
  const set = 'affinity-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80'
  t.same(Object.fromEntries(r.sets), { [set]: 'type ipv4_addr; flags dynamic,timeout; timeout 10800s;' })
  t.same(r.chains.get(SVC), [
    'ip daddr 172.30.0.41 tcp dport 80 ip saddr != { 10.0.0.0/8 } jump mark-for-masquerade',
    `ip saddr @${set} goto ${EP1}`,
    `goto ${EP1}`,
  ])
  t.same(r.chains.get(EP1), ['ip saddr 10.180.0.1 jump mark-for-masquerade', `update @${set} { ip saddr }`, 'meta l4proto tcp dnat to 10.180.0.1:80'])
})

t.test('endpoint choice: a rule per endpoint, a vmap for many', async (t) => {
  const few = build(port(), [1, 2, 3].map((i) => ep(`10.180.0.${i}`)))
  t.match(few.chains.get(SVC)!.slice(1), [/^numgen random mod 3 0 goto endpoint-\S+__10\.180\.0\.1\/80$/, /^numgen random mod 2 0 goto endpoint-\S+__10\.180\.0\.2\/80$/, /^goto endpoint-\S+__10\.180\.0\.3\/80$/])
  const many = build(port(), Array.from({ length: VMAP_MIN + 1 }, (_, i) => ep(`10.180.0.${i + 1}`)))
  const last = many.chains.get(SVC)!.at(-1)!
  t.match(last, new RegExp(`^numgen random mod ${VMAP_MIN + 1} vmap \\{ 0 : goto endpoint-\\S+__10\\.180\\.0\\.1/80, 1 : goto `))
  t.equal(many.chains.get(SVC)!.length, 2)
})

t.test('internalTrafficPolicy Local', async (t) => {
  const r = build(port({ internalLocal: true }), [ep('10.180.0.1'), ep('10.180.0.2', { local: true })])
  const local = 'local-ULMVA6XW-ns1/svc1/tcp/p80'
  t.same([...r.chains.keys()].filter((c) => !c.startsWith('endpoint-')), [local], 'only the local chain')
  t.ok(elements(r).includes(`service-ips: 172.30.0.41 . tcp . 80 : goto ${local}`))
  t.match(r.chains.get(local)!.at(-1), /^goto endpoint-\S+__10\.180\.0\.2\/80$/)
  const none = build(port({ internalLocal: true }), [ep('10.180.0.1')])
  t.same([...none.chains.keys()], [], 'no local endpoint: no chains')
  t.same(elements(none), ['cluster-ips: 172.30.0.41', 'no-endpoint-services: 172.30.0.41 . tcp . 80 : drop'], 'dropped, not rejected')
})

t.test('externalTrafficPolicy Local', async (t) => {
  const ext = 'external-ULMVA6XW-ns1/svc1/tcp/p80'
  const local = 'local-ULMVA6XW-ns1/svc1/tcp/p80'
  const r = build(port({ nodePort: 30080, externalLocal: true }), [ep('10.180.0.1'), ep('10.180.0.2', { local: true })])
  t.same(r.chains.get(ext), [
    `ip saddr { 10.0.0.0/8 } goto ${SVC}`,
    'fib saddr type local jump mark-for-masquerade',
    `fib saddr type local goto ${SVC}`,
    `goto ${local}`,
  ])
  t.ok(r.chains.has(SVC) && r.chains.has(local))
  t.equal([...r.chains.keys()].filter((c) => c.startsWith('endpoint-')).length, 2, 'one chain per endpoint, shared')
  const remote = build(port({ nodePort: 30080, externalLocal: true }), [ep('10.180.0.1')])
  t.same(remote.chains.get(ext), [`ip saddr { 10.0.0.0/8 } goto ${SVC}`, 'fib saddr type local jump mark-for-masquerade', `fib saddr type local goto ${SVC}`], 'no local endpoint: only the short-circuits')
  t.ok(elements(remote).includes('no-endpoint-nodeports: tcp . 30080 : drop'), 'outside traffic is dropped')
  t.ok(elements(remote).includes(`service-nodeports: tcp . 30080 : goto ${ext}`), 'pods still reach it')
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
  t.same(r.chains.size, 0)
  t.same(elements(r), [
    'cluster-ips: 172.30.0.41',
    'no-endpoint-nodeports: udp . 30080 : goto reject-chain',
    'no-endpoint-services: 172.30.0.41 . udp . 80 : goto reject-chain',
    'no-endpoint-services: 192.168.99.1 . udp . 80 : goto reject-chain',
  ])
})

t.test('UDP and SCTP', async (t) => {
  const u = build(port({ protocol: 'UDP', portName: 'dns', port: 53 }), [ep('10.180.0.1', { port: 5353 })])
  const chains = [...u.chains.entries()]
  t.ok(chains.some(([name, rules]) => name.includes('/udp/dns__10.180.0.1/5353') && rules.includes('meta l4proto udp dnat to 10.180.0.1:5353')))
  t.ok(chains.some(([, rules]) => rules[0]!.includes('udp dport 53')))
  const s = build(port({ protocol: 'SCTP' }), [ep('10.180.0.1')])
  t.ok(s.elements.some((e) => e.key === '172.30.0.41 . sctp . 80'))
  t.ok([...s.chains.values()].flat().includes('meta l4proto sctp dnat to 10.180.0.1:80'))
})

t.test('IPv6', async (t) => {
  const e = entry(port({ clusterIP: 'fd00:30::41', nodePort: 30080, affinitySeconds: 60 }), [ep('fd00:10::1')])
  const r = serviceRules(e, state([e], { family: 6 }))
  const names = [...r.chains.keys()]
  const epChain = names.find((n) => n.startsWith('endpoint-'))!
  t.match(epChain, /__fd00\.10\.\.1\/80$/, 'colons become dots in chain names')
  t.same(r.chains.get(epChain), [
    'ip6 saddr fd00:10::1 jump mark-for-masquerade',
    `update @${epChain.replace('endpoint-', 'affinity-')} { ip6 saddr }`,
    'meta l4proto tcp dnat to [fd00:10::1]:80',
  ])
  t.same([...r.sets.values()], ['type ipv6_addr; flags dynamic,timeout; timeout 60s;'])
  t.match(r.chains.get(SVC)![0], /^ip6 daddr fd00:30::41 tcp dport 80 ip6 saddr != \{ fd00:10::\/64 \} jump/)
  const base = baseRules(state([], { family: 6 }))
  t.same(base.chains.get('services'), [
    'ip6 daddr . meta l4proto . th dport vmap @service-ips',
    'fib daddr type local ip6 daddr != ::1 meta l4proto . th dport vmap @service-nodeports',
  ])
  t.same(base.sets.get('cluster-ips'), { kind: 'set', spec: 'type ipv6_addr;' })
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
  t.same(b.chains.get('cluster-ips-check'), ['ip daddr @cluster-ips reject', 'ip daddr { 172.30.0.0/16 } drop'])
  t.same(baseRules(state([], { serviceCIDRs: [] })).chains.get('cluster-ips-check'), ['ip daddr @cluster-ips reject'])
})
