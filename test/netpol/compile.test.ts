import t from 'tap'
import { compile, cutHoles } from '../../netpol/compile.ts'
import type { CompiledNode, LocalPod, PeerSet } from '../../netpol/model.ts'
import { allowed } from '../../netpol/reachability.ts'
import { parseCidr } from '../../src/util/cidr.ts'
import { namespace, pod, policy } from './fixtures.ts'

const SET_NAME = /^np-(pods|cidrs|ports)-[a-z2-7]{16}$/

function only(c: CompiledNode, uid: string): LocalPod {
  const p = c.pods.get(uid)
  if (!p) throw new Error(`no local pod ${uid}`)
  return p
}

function set(c: CompiledNode, name: string): PeerSet {
  const s = c.sets.get(name)
  if (!s) throw new Error(`no set ${name}`)
  return s
}

t.test('the documentation example test-network-policy', async (t) => {
  const c = compile({
    node: 'node-1',
    namespaces: [namespace('default'), namespace('proj', { project: 'myproject' })],
    pods: [
      pod('default', 'db', { labels: { role: 'db' }, ips: ['10.1.0.10'] }),
      pod('default', 'frontend', { labels: { role: 'frontend' }, ips: ['10.1.0.11'], node: 'node-2' }),
      pod('default', 'other', { labels: { role: 'other' }, ips: ['10.1.0.12'] }),
      pod('proj', 'p', { ips: ['10.1.1.10'], node: 'node-2' }),
    ],
    policies: [
      policy('default', 'test-network-policy', {
        podSelector: { matchLabels: { role: 'db' } },
        policyTypes: ['Ingress', 'Egress'],
        ingress: [
          {
            from: [{ ipBlock: { cidr: '172.17.0.0/16', except: ['172.17.1.0/24'] } }, { namespaceSelector: { matchLabels: { project: 'myproject' } } }, { podSelector: { matchLabels: { role: 'frontend' } } }],
            ports: [{ protocol: 'TCP', port: 6379 }],
          },
        ],
        egress: [{ to: [{ ipBlock: { cidr: '10.0.0.0/24' } }], ports: [{ protocol: 'TCP', port: 5978 }] }],
      }),
    ],
  })
  t.same(c.problems, [])
  t.same([...c.pods.keys()], ['uid-default-db', 'uid-default-other'], 'the local pods with an IP')
  t.same(only(c, 'uid-default-other').ingress, { isolated: false })
  t.same(only(c, 'uid-default-other').egress, { isolated: false })
  const db = only(c, 'uid-default-db')
  t.same(db.ips, { v4: ['10.1.0.10'], v6: [] })
  if (!db.ingress.isolated || !db.egress.isolated) throw new Error('db is isolated both ways')
  t.equal(db.ingress.allow.length, 3, 'one entry per peer')
  for (const e of db.ingress.allow) {
    t.equal(e.policy, 'default/test-network-policy')
    t.same(e.ports, [{ protocol: 'TCP', from: 6379, to: 6379 }])
    t.match(e.peers, SET_NAME)
  }
  const [block, ns, pods] = db.ingress.allow.map((e) => set(c, e.peers))
  t.same(block, {
    name: block.name,
    kind: 'addresses',
    intervals: true,
    describe: 'ipBlock 172.17.0.0/16 except 172.17.1.0/24',
    v4: ['172.17.0.0/24', '172.17.2.0/23', '172.17.4.0/22', '172.17.8.0/21', '172.17.16.0/20', '172.17.32.0/19', '172.17.64.0/18', '172.17.128.0/17'],
    v6: [],
  })
  t.same(ns.v4, ['10.1.1.10'], 'pods of namespaces labelled project=myproject')
  t.same(pods.v4, ['10.1.0.11'], 'role=frontend pods of the own namespace, on any node')
  t.same(db.egress.allow, [{ policy: 'default/test-network-policy', peers: db.egress.allow[0]!.peers, ports: [{ protocol: 'TCP', from: 5978, to: 5978 }] }])
  t.same(set(c, db.egress.allow[0]!.peers as string).v4, ['10.0.0.0/24'])
  const ok = (src: string, dst: string, port: number) => allowed([c], src, dst, 'TCP', port)
  t.ok(ok('172.17.0.5', '10.1.0.10', 6379))
  t.notOk(ok('172.17.1.5', '10.1.0.10', 6379), 'except')
  t.notOk(ok('172.17.0.5', '10.1.0.10', 6380))
  t.ok(ok('10.1.1.10', '10.1.0.10', 6379))
  t.notOk(ok('10.1.0.12', '10.1.0.10', 6379))
  t.ok(ok('10.1.0.10', '10.0.0.7', 5978))
  t.notOk(ok('10.1.0.10', '10.0.1.7', 5978))
  t.notOk(ok('10.1.0.10', '10.1.0.11', 80))
  for (const name of c.sets.keys()) t.match(name, SET_NAME)
})

t.test('policyTypes and empty policies', async (t) => {
  const cases: { name: string; spec: Record<string, unknown>; ingress: unknown; egress: unknown }[] = [
    { name: 'podSelector {} without rules or types: deny all ingress', spec: { podSelector: {} }, ingress: { isolated: true, allow: [] }, egress: { isolated: false } },
    { name: 'spec {} (podSelector absent): every pod, ingress only', spec: {}, ingress: { isolated: true, allow: [] }, egress: { isolated: false } },
    { name: 'types absent with egress rules: both', spec: { podSelector: {}, egress: [{}] }, ingress: { isolated: true, allow: [] }, egress: { isolated: true, allow: [{ policy: 'x/p', peers: 'any', ports: 'any' }] } },
    { name: 'types absent with egress []: ingress only', spec: { podSelector: {}, egress: [] }, ingress: { isolated: true, allow: [] }, egress: { isolated: false } },
    { name: 'policyTypes [] is as absent', spec: { podSelector: {}, policyTypes: [], ingress: [{}] }, ingress: { isolated: true, allow: [{ policy: 'x/p', peers: 'any', ports: 'any' }] }, egress: { isolated: false } },
    { name: 'Egress only: ingress rules are ignored', spec: { podSelector: {}, policyTypes: ['Egress'], ingress: [{}] }, ingress: { isolated: false }, egress: { isolated: true, allow: [] } },
    { name: 'rule {} allows everything', spec: { podSelector: {}, ingress: [{}] }, ingress: { isolated: true, allow: [{ policy: 'x/p', peers: 'any', ports: 'any' }] }, egress: { isolated: false } },
    { name: 'from [] and ports [] match all', spec: { podSelector: {}, ingress: [{ from: [], ports: [] }] }, ingress: { isolated: true, allow: [{ policy: 'x/p', peers: 'any', ports: 'any' }] }, egress: { isolated: false } },
    { name: 'a policy selecting other pods', spec: { podSelector: { matchLabels: { pod: 'other' } } }, ingress: { isolated: false }, egress: { isolated: false } },
    {
      name: 'port absent with protocol UDP: every UDP port; SCTP; endPort',
      spec: { podSelector: {}, ingress: [{ ports: [{ protocol: 'UDP' }, { protocol: 'SCTP', port: 9000 }, { port: 8000, endPort: 8100 }] }] },
      ingress: { isolated: true, allow: [{ policy: 'x/p', peers: 'any', ports: [{ protocol: 'UDP', from: 0, to: 65535 }, { protocol: 'SCTP', from: 9000, to: 9000 }, { protocol: 'TCP', from: 8000, to: 8100 }] }] },
      egress: { isolated: false },
    },
  ]
  for (const c of cases) {
    const out = compile({ node: 'node-1', namespaces: [namespace('x')], pods: [pod('x', 'a', { ips: ['10.0.0.1'] })], policies: [policy('x', 'p', c.spec)] })
    t.same(out.problems, [], c.name)
    t.same(only(out, 'uid-x-a').ingress, c.ingress, `${c.name}: ingress`)
    t.same(only(out, 'uid-x-a').egress, c.egress, `${c.name}: egress`)
  }
})

t.test('named ingress ports resolve per protected pod', async (t) => {
  const c = compile({
    node: 'node-1',
    namespaces: [namespace('x')],
    pods: [
      pod('x', 'one', { labels: { app: 'web' }, ips: ['10.0.0.1'], ports: [{ name: 'http', containerPort: 8080 }] }),
      pod('x', 'two', { labels: { app: 'web' }, ips: ['10.0.0.2'], ports: [{ name: 'http', containerPort: 9090 }, { name: 'metrics', containerPort: 9100 }] }),
      pod('x', 'three', { labels: { app: 'web' }, ips: ['10.0.0.3'], ports: [{ name: 'http', containerPort: 80, protocol: 'UDP' }] }),
    ],
    policies: [policy('x', 'web', { podSelector: { matchLabels: { app: 'web' } }, ingress: [{ ports: [{ port: 'http' }] }, { ports: [{ port: 'metrics' }, { port: 81 }] }] })],
  })
  t.same(only(c, 'uid-x-one').ingress, { isolated: true, allow: [{ policy: 'x/web', peers: 'any', ports: [{ protocol: 'TCP', from: 8080, to: 8080 }] }, { policy: 'x/web', peers: 'any', ports: [{ protocol: 'TCP', from: 81, to: 81 }] }] })
  t.same(only(c, 'uid-x-two').ingress, {
    isolated: true,
    allow: [
      { policy: 'x/web', peers: 'any', ports: [{ protocol: 'TCP', from: 9090, to: 9090 }] },
      { policy: 'x/web', peers: 'any', ports: [{ protocol: 'TCP', from: 9100, to: 9100 }, { protocol: 'TCP', from: 81, to: 81 }] },
    ],
  })
  t.same(only(c, 'uid-x-three').ingress, { isolated: true, allow: [{ policy: 'x/web', peers: 'any', ports: [{ protocol: 'TCP', from: 81, to: 81 }] }] }, 'its http is UDP: the TCP name matches nothing there')
})

t.test('named egress ports resolve per destination pod; an ipBlock peer names the pods inside it', async (t) => {
  const pods = [
    pod('x', 'client', { ips: ['10.0.0.1'] }),
    pod('y', 'one', { labels: { app: 'api' }, ips: ['10.0.1.1', 'fd00::1:1'], node: 'node-2', ports: [{ name: 'http', containerPort: 8080 }] }),
    pod('y', 'two', { labels: { app: 'api' }, ips: ['10.0.1.2'], node: 'node-2', ports: [{ name: 'http', containerPort: 9090 }] }),
    pod('y', 'three', { labels: { app: 'api' }, ips: ['10.0.1.3'], node: 'node-2' }),
  ]
  const c = compile({
    node: 'node-1',
    namespaces: [namespace('x'), namespace('y')],
    pods,
    policies: [
      policy('x', 'to-api', {
        podSelector: {},
        policyTypes: ['Egress'],
        egress: [
          { to: [{ namespaceSelector: { matchLabels: { ns: 'y' } }, podSelector: { matchLabels: { app: 'api' } } }], ports: [{ port: 'http' }] },
        ],
      }),
    ],
  })
  const egress = only(c, 'uid-x-client').egress
  if (!egress.isolated) throw new Error('isolated')
  t.equal(egress.allow.length, 1)
  const s = set(c, egress.allow[0]!.peers)
  t.match(s.name, /^np-ports-/)
  t.same(s.kind === 'addressPorts' && [s.v4, s.v6], [
    [
      { ip: '10.0.1.1', protocol: 'TCP', port: 8080 },
      { ip: '10.0.1.2', protocol: 'TCP', port: 9090 },
    ],
    [{ ip: 'fd00::1:1', protocol: 'TCP', port: 8080 }],
  ])
  t.ok(allowed([c], '10.0.0.1', '10.0.1.1', 'TCP', 8080))
  t.notOk(allowed([c], '10.0.0.1', '10.0.1.1', 'TCP', 9090), 'the other pod’s number')
  t.ok(allowed([c], '10.0.0.1', '10.0.1.2', 'TCP', 9090))
  t.notOk(allowed([c], '10.0.0.1', '10.0.1.3', 'TCP', 8080), 'no such name on the pod')
  t.ok(allowed([c], '10.0.0.1', 'fd00::1:1', 'TCP', 8080))

  const block = compile({
    node: 'node-1',
    namespaces: [namespace('x'), namespace('y')],
    pods,
    policies: [policy('x', 'to-block', { podSelector: {}, policyTypes: ['Egress'], egress: [{ to: [{ ipBlock: { cidr: '10.0.1.0/24', except: ['10.0.1.2/32'] } }], ports: [{ port: 'http' }, { port: 443 }] }] })],
  })
  const out = only(block, 'uid-x-client').egress
  if (!out.isolated) throw new Error('isolated')
  t.same(out.allow.map((e) => [set(block, e.peers).kind, e.ports]), [['addresses', [{ protocol: 'TCP', from: 443, to: 443 }]], ['addressPorts', 'any']])
  const ports = set(block, out.allow[1]!.peers)
  t.same([ports.v4, ports.v6], [[{ ip: '10.0.1.1', protocol: 'TCP', port: 8080 }], []], 'only pods, only addresses inside the block and outside its holes')
  t.ok(allowed([block], '10.0.0.1', '10.0.1.1', 'TCP', 8080))
  t.notOk(allowed([block], '10.0.0.1', '10.0.1.2', 'TCP', 9090), 'in a hole')
  t.notOk(allowed([block], '10.0.0.1', '10.0.1.200', 'TCP', 8080), 'no pod has the address: the name resolves nowhere')
  t.ok(allowed([block], '10.0.0.1', '10.0.1.200', 'TCP', 443))
})

t.test('egress to DNS in kube-system, UDP and TCP 53', async (t) => {
  const dnsPorts = [{ name: 'dns', containerPort: 53, protocol: 'UDP' }, { name: 'dns-tcp', containerPort: 53 }]
  const c = compile({
    node: 'node-1',
    namespaces: [namespace('x'), namespace('kube-system')],
    pods: [
      pod('x', 'app', { ips: ['10.0.0.1'] }),
      pod('kube-system', 'coredns', { labels: { 'k8s-app': 'kube-dns' }, ips: ['10.0.9.1'], node: 'node-2', ports: dnsPorts }),
      pod('kube-system', 'other', { ips: ['10.0.9.2'], node: 'node-2' }),
    ],
    policies: [
      policy('x', 'deny-egress', { podSelector: {}, policyTypes: ['Egress'] }),
      policy('x', 'allow-dns', {
        podSelector: {},
        policyTypes: ['Egress'],
        egress: [{ to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } }, podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } } }], ports: [{ port: 53, protocol: 'UDP' }, { port: 53, protocol: 'TCP' }] }],
      }),
    ],
  })
  const ok = (dst: string, proto: 'TCP' | 'UDP', port: number) => allowed([c], '10.0.0.1', dst, proto, port)
  t.ok(ok('10.0.9.1', 'UDP', 53))
  t.ok(ok('10.0.9.1', 'TCP', 53))
  t.notOk(ok('10.0.9.1', 'TCP', 80))
  t.notOk(ok('10.0.9.2', 'UDP', 53))
  t.notOk(ok('8.8.8.8', 'UDP', 53))
})

t.test('multiple policies are unioned, each entry naming its policy', async (t) => {
  const c = compile({
    node: 'node-1',
    namespaces: [namespace('x')],
    pods: [pod('x', 'a', { ips: ['10.0.0.1'] })],
    policies: [policy('x', 'two', { podSelector: {}, ingress: [{ ports: [{ port: 81 }] }] }), policy('x', 'one', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ ports: [{ port: 80 }] }] })],
  })
  t.same(only(c, 'uid-x-a').ingress, {
    isolated: true,
    allow: [
      { policy: 'x/one', peers: 'any', ports: [{ protocol: 'TCP', from: 80, to: 80 }] },
      { policy: 'x/two', peers: 'any', ports: [{ protocol: 'TCP', from: 81, to: 81 }] },
    ],
  })
})

t.test('IPv6 and dual-stack pods, IPv6 ipBlocks', async (t) => {
  const c = compile({
    node: 'node-1',
    namespaces: [namespace('x')],
    pods: [
      pod('x', 'dual', { ips: ['10.0.0.1', 'FD00:0:0::0001'] }),
      pod('x', 'six', { labels: { role: 'client' }, ips: ['fd00::2'], node: 'node-2' }),
    ],
    policies: [policy('x', 'p', { podSelector: { matchLabels: { pod: 'dual' } }, ingress: [{ from: [{ podSelector: { matchLabels: { role: 'client' } } }, { ipBlock: { cidr: 'fd01::/16', except: ['fd01:8000::/17'] } }] }] })],
  })
  const dual = only(c, 'uid-x-dual')
  t.same(dual.ips, { v4: ['10.0.0.1'], v6: ['fd00::1'] }, 'canonical addresses')
  t.ok(allowed([c], 'fd00::2', 'fd00::1', 'TCP', 80))
  t.notOk(allowed([c], 'fd00::3', 'fd00::1', 'TCP', 80))
  t.ok(allowed([c], 'fd01:7fff::1', 'fd00::1', 'TCP', 80))
  t.notOk(allowed([c], 'fd01:8000::1', 'fd00::1', 'TCP', 80), 'except')
  const cidrs = [...c.sets.values()].find((s) => s.describe.startsWith('ipBlock'))
  t.same(cidrs?.v6, ['fd01::/17'])
})

t.test('hostNetwork, terminal and address-less pods are neither enforced for nor peers', async (t) => {
  const c = compile({
    node: 'node-1',
    namespaces: [namespace('x')],
    pods: [
      pod('x', 'host', { ips: ['192.168.0.1'], hostNetwork: true }),
      pod('x', 'done', { ips: ['10.0.0.2'], phase: 'Succeeded' }),
      pod('x', 'failed', { ips: ['10.0.0.3'], phase: 'Failed' }),
      pod('x', 'pending', { ips: [] }),
      pod('x', 'bad-ip', { ips: ['10.0.0.1; flush ruleset', 'fe80::1%eth0'] }),
      pod('x', 'live', { ips: ['10.0.0.4'] }),
    ],
    policies: [policy('x', 'p', { podSelector: {}, ingress: [{ from: [{ podSelector: {} }] }] })],
  })
  t.same([...c.pods.keys()], ['uid-x-live'])
  const entry = (only(c, 'uid-x-live').ingress as { allow: { peers: string }[] }).allow[0]!
  t.same(set(c, entry.peers).v4, ['10.0.0.4'])
  t.notOk(allowed([c], '192.168.0.1', '10.0.0.4', 'TCP', 80), 'a hostNetwork pod is seen by its node address, which no selector holds')
})

t.test('a pod and its own node always talk, both ways', async (t) => {
  const c = compile({
    node: 'node-1',
    nodeIPs: ['192.168.0.1', 'FD99::1', 'not an ip'],
    namespaces: [namespace('x')],
    pods: [pod('x', 'a', { ips: ['10.0.0.1'] })],
    policies: [policy('x', 'deny-all', { podSelector: {}, policyTypes: ['Ingress', 'Egress'] })],
  })
  t.same(c.nodeIPs, { v4: ['192.168.0.1'], v6: ['fd99::1'] })
  t.ok(allowed([c], '192.168.0.1', '10.0.0.1', 'TCP', 80), 'kubelet probes')
  t.ok(allowed([c], '10.0.0.1', '192.168.0.1', 'TCP', 10250))
  t.notOk(allowed([c], '192.168.0.2', '10.0.0.1', 'TCP', 80), 'another node')
})

t.test('malformed policies and rules fail alone, closed', async (t) => {
  const pods = [pod('x', 'a', { ips: ['10.0.0.1'] }), pod('x', 'b', { labels: { other: 'yes' }, ips: ['10.0.0.2'] })]
  const good = policy('x', 'good', { podSelector: { matchLabels: { other: 'yes' } }, ingress: [{ ports: [{ port: 80 }] }] })
  const rules: { name: string; rule: unknown; field: string }[] = [
    { name: 'bad CIDR', rule: { from: [{ ipBlock: { cidr: '10.0.0.0/33' } }] }, field: 'spec.ingress[0].from[0].ipBlock.cidr' },
    { name: 'CIDR with junk', rule: { from: [{ ipBlock: { cidr: '10.0.0.0/8 ; drop' } }] }, field: 'spec.ingress[0].from[0].ipBlock.cidr' },
    { name: 'except outside', rule: { from: [{ ipBlock: { cidr: '10.0.0.0/8', except: ['11.0.0.0/16'] } }] }, field: 'spec.ingress[0].from[0].ipBlock.except[0]' },
    { name: 'except of the other family', rule: { from: [{ ipBlock: { cidr: '10.0.0.0/8', except: ['fd00::/64'] } }] }, field: 'spec.ingress[0].from[0].ipBlock.except[0]' },
    { name: 'ipBlock with a selector', rule: { from: [{ ipBlock: { cidr: '10.0.0.0/8' }, podSelector: {} }] }, field: 'spec.ingress[0].from[0]' },
    { name: 'empty peer', rule: { from: [{}] }, field: 'spec.ingress[0].from[0]' },
    { name: 'bad operator', rule: { from: [{ podSelector: { matchExpressions: [{ key: 'a', operator: 'Gt', values: ['1'] }] } }] }, field: 'spec.ingress[0].from[0].podSelector' },
    { name: 'In without values', rule: { from: [{ namespaceSelector: { matchExpressions: [{ key: 'a', operator: 'In' }] } }] }, field: 'spec.ingress[0].from[0].namespaceSelector' },
    { name: 'bad label key', rule: { from: [{ podSelector: { matchLabels: { 'a b': 'c' } } }] }, field: 'spec.ingress[0].from[0].podSelector' },
    { name: 'port 0', rule: { ports: [{ port: 0 }] }, field: 'spec.ingress[0].ports[0].port' },
    { name: 'port 65536', rule: { ports: [{ port: 65536 }] }, field: 'spec.ingress[0].ports[0].port' },
    { name: 'port as a numeric string', rule: { ports: [{ port: '80' }] }, field: 'spec.ingress[0].ports[0].port' },
    { name: 'upper-case port name', rule: { ports: [{ port: 'HTTP' }] }, field: 'spec.ingress[0].ports[0].port' },
    { name: 'endPort below port', rule: { ports: [{ port: 90, endPort: 80 }] }, field: 'spec.ingress[0].ports[0].endPort' },
    { name: 'endPort with a named port', rule: { ports: [{ port: 'http', endPort: 80 }] }, field: 'spec.ingress[0].ports[0].endPort' },
    { name: 'endPort without port', rule: { ports: [{ endPort: 80 }] }, field: 'spec.ingress[0].ports[0].endPort' },
    { name: 'protocol ICMP', rule: { ports: [{ protocol: 'ICMP' }] }, field: 'spec.ingress[0].ports[0].protocol' },
    { name: 'from not a list', rule: { from: { podSelector: {} } }, field: 'spec.ingress[0].from' },
    { name: 'rule not an object', rule: 'allow', field: 'spec.ingress[0]' },
  ]
  for (const r of rules) {
    const c = compile({ node: 'node-1', namespaces: [namespace('x')], pods, policies: [policy('x', 'bad', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [r.rule, { ports: [{ port: 443 }] }] }), good] })
    t.equal(c.problems.length, 1, `${r.name}: one problem`)
    t.match(c.problems[0], { policy: 'x/bad', field: r.field, scope: 'rule', message: /allows nothing/ }, `${r.name}: where`)
    t.same(only(c, 'uid-x-a').ingress, { isolated: true, allow: [{ policy: 'x/bad', peers: 'any', ports: [{ protocol: 'TCP', from: 443, to: 443 }] }] }, `${r.name}: the other rule stands, the bad one allows nothing`)
    t.same(only(c, 'uid-x-b').ingress, { isolated: true, allow: [{ policy: 'x/good', peers: 'any', ports: [{ protocol: 'TCP', from: 80, to: 80 }] }] }, `${r.name}: other policies unaffected`)
  }

  const broken = compile({ node: 'node-1', namespaces: [namespace('x')], pods, policies: [policy('x', 'bad', { podSelector: { matchExpressions: [{ key: 'pod', operator: 'Bogus' }] } }), good] })
  t.match(broken.problems, [{ policy: 'x/bad', field: 'spec.podSelector', scope: 'policy', message: /selects no pods/ }])
  t.same(only(broken, 'uid-x-a').ingress, { isolated: false }, 'a policy whose podSelector is unusable selects nothing (whom it would isolate is unknowable)')

  const types = compile({ node: 'node-1', namespaces: [namespace('x')], pods, policies: [policy('x', 'bad', { podSelector: {}, policyTypes: ['Ingress', 'Sideways'] })] })
  t.match(types.problems, [{ field: 'spec.policyTypes[1]' }])
  t.same(only(types, 'uid-x-a').ingress, { isolated: true, allow: [] })

  const junk = compile({ node: 'node-1', namespaces: [null, 7, { metadata: { name: 'x', labels: { a: 1 } } }], pods: [...pods, null, 'pod', { metadata: {} }], policies: [null, { metadata: { name: 'n' } }, { metadata: { namespace: 'x', name: 'y' }, spec: 'deny' }] })
  t.same(junk.problems.map((p) => p.scope), ['policy', 'policy', 'policy'])
  t.same([...junk.pods.keys()], ['uid-x-a', 'uid-x-b'])
})

t.test('set names are hashes whatever the API strings, and equal peers share a set', async (t) => {
  const hostile = 'ns"; flush ruleset; #'
  const c = compile({
    node: 'node-1',
    namespaces: [namespace(hostile)],
    pods: [pod(hostile, 'a', { ips: ['10.0.0.1'] })],
    policies: [
      policy(hostile, 'p1', { podSelector: {}, ingress: [{ from: [{ podSelector: { matchLabels: { app: 'x' } } }] }] }),
      policy(hostile, 'p2', { podSelector: {}, ingress: [{ from: [{ podSelector: { matchLabels: { app: 'x' } } }], ports: [{ port: 80 }] }] }),
    ],
  })
  t.equal(c.sets.size, 1)
  for (const name of c.sets.keys()) t.match(name, SET_NAME)
})

t.test('the output does not depend on input order', async (t) => {
  const namespaces = [namespace('x'), namespace('y')]
  const pods = [pod('x', 'a', { ips: ['10.0.0.1'] }), pod('y', 'b', { ips: ['10.0.0.2', 'fd00::2'] }), pod('y', 'c', { ips: ['10.0.0.3'] })]
  const policies = [policy('x', 'p', { podSelector: {}, ingress: [{ from: [{ namespaceSelector: {} }] }] }), policy('y', 'q', { podSelector: {}, egress: [{ to: [{ podSelector: {} }] }] })]
  const plain = (c: CompiledNode) => JSON.stringify({ pods: [...c.pods], sets: [...c.sets] })
  t.equal(plain(compile({ node: 'node-1', namespaces, pods, policies })), plain(compile({ node: 'node-1', namespaces: [...namespaces].reverse(), pods: [...pods].reverse(), policies: [...policies].reverse() })))
})

t.test('cutHoles', async (t) => {
  const cut = (block: string, holes: string[]) => cutHoles(parseCidr(block), holes.map(parseCidr))
  t.same(cut('10.0.0.0/8', []), ['10.0.0.0/8'])
  t.same(cut('10.0.0.0/8', ['10.0.0.0/8']), [])
  t.same(cut('10.0.0.0/30', ['10.0.0.1/32']), ['10.0.0.0/32', '10.0.0.2/31'])
  t.same(cut('10.0.0.0/24', ['10.0.0.0/26', '10.0.0.128/26']), ['10.0.0.64/26', '10.0.0.192/26'])
  t.same(cut('0.0.0.0/0', ['10.0.0.0/8', '10.1.0.0/16']).length, 8, 'a nested hole changes nothing')
  t.same(cut('::/0', ['::/1']), ['8000::/1'])
})

t.test('hostile objects never throw, and names stay identifiers', async (t) => {
  // A small deterministic fuzz: the documentation example with fields replaced by junk.
  let seed = 1
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31)
  const junk: unknown[] = [null, 0, -1, 1e9, 'x', '', '*', [], {}, [{}], { matchLabels: { '': '' } }, { cidr: '::/0' }, 'TCP', 'serve-80-tcp', true, { __proto__: 1 }, '10.0.0.0/8']
  const mutate = (v: unknown, depth: number): unknown => {
    if (rand() < 0.15) return junk[Math.floor(rand() * junk.length)]
    if (Array.isArray(v)) return v.map((x) => mutate(x, depth + 1))
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, mutate(x, depth + 1)]))
    return v
  }
  const example = policy('x', 'p', {
    podSelector: { matchLabels: { role: 'db' } },
    policyTypes: ['Ingress', 'Egress'],
    ingress: [{ from: [{ ipBlock: { cidr: '172.17.0.0/16', except: ['172.17.1.0/24'] } }, { namespaceSelector: { matchLabels: { project: 'p' } }, podSelector: { matchExpressions: [{ key: 'a', operator: 'In', values: ['b'] }] } }], ports: [{ protocol: 'TCP', port: 6379 }, { port: 'http' }] }],
    egress: [{ to: [{ ipBlock: { cidr: 'fd00::/8' } }], ports: [{ protocol: 'UDP', port: 53, endPort: 60 }] }],
  })
  const target = pod('x', 'db', { labels: { role: 'db' }, ips: ['10.0.0.1', 'fd00::1'], ports: [{ name: 'http', containerPort: 80 }] })
  let problems = 0
  for (let i = 0; i < 300; i++) {
    const c = compile({ node: 'node-1', namespaces: [mutate(namespace('x'), 0)], pods: [mutate(target, 0), target], policies: [mutate(example, 0), mutate(example, 0)] })
    problems += c.problems.length
    for (const name of c.sets.keys()) if (!SET_NAME.test(name)) t.fail(name)
    for (const p of c.pods.values()) for (const iso of [p.ingress, p.egress]) if (iso.isolated) for (const e of iso.allow) if (e.ports !== 'any' && !e.ports.length) t.fail('an empty port list')
  }
  t.ok(problems > 0, 'junk was reported')
})
