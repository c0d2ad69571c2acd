import t from 'tap'
import { validateObject } from '../../src/api/validation/index.ts'
import { findByKind } from '../../src/api/registry.ts'
import { applyDefaults } from '../../src/api/defaults.ts'

type Obj = Record<string, any>

const info = findByKind('networking.k8s.io/v1', 'NetworkPolicy')!

function policy(spec: Obj): Obj {
  return { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'foo', namespace: 'default' }, spec: { podSelector: { matchLabels: { a: 'b' } }, ...spec } }
}

const fields = (o: Obj, old?: Obj) => validateObject(info, o, old).map((c) => `${c.field}: ${c.message}`)

const ports = [{ port: 80 }, { protocol: 'TCP' }, { protocol: 'TCP', port: 443 }, { protocol: 'UDP', port: 'dns' }, { protocol: 'SCTP', port: 7777 }]
const ipBlock = { cidr: '192.168.0.0/16', except: ['192.168.3.0/24', '192.168.4.0/24'] }
const ipBlock6 = { cidr: 'fd00:192:168::/48', except: ['fd00:192:168:3::/64', 'fd00:192:168:4::/64'] }
const cd = { matchLabels: { c: 'd' } }

t.test('served as networking.k8s.io/v1 networkpolicies (netpol), without subresources', async (t) => {
  t.match(info, { group: 'networking.k8s.io', version: 'v1', plural: 'networkpolicies', namespaced: true, shortNames: ['netpol'], subresources: [], model: 'V1NetworkPolicy' })
})

t.test('defaults: each port TCP, policyTypes Ingress (and Egress with egress rules)', async (t) => {
  const np = policy({ ingress: [{ ports: [{ port: 80 }, { protocol: 'UDP', port: 53 }] }], egress: [{ ports: [{ port: 'dns' }] }] })
  delete np.spec.podSelector
  applyDefaults(info, np)
  t.same(np.spec, { podSelector: {}, ingress: [{ ports: [{ port: 80, protocol: 'TCP' }, { protocol: 'UDP', port: 53 }] }], egress: [{ ports: [{ port: 'dns', protocol: 'TCP' }] }], policyTypes: ['Ingress', 'Egress'] })
  const ingressOnly = policy({ egress: [] })
  applyDefaults(info, ingressOnly)
  t.same(ingressOnly.spec.policyTypes, ['Ingress'], 'an empty egress list is no egress rule')
  const given = policy({ policyTypes: ['Egress'], egress: [{}] })
  applyDefaults(info, given)
  t.same(given.spec.policyTypes, ['Egress'], 'policyTypes given are kept')
  const empty = policy({ policyTypes: [] })
  applyDefaults(info, empty)
  t.same(empty.spec.policyTypes, ['Ingress'], 'an empty list is defaulted, as len() == 0 upstream')
  const blank = policy({ ingress: [{ ports: [{ protocol: '', port: 80 }] }] })
  applyDefaults(info, blank)
  t.equal(blank.spec.ingress[0].ports[0].protocol, '', 'only an absent protocol is defaulted')
  t.same(fields(blank), ['spec.ingress[0].ports[0].protocol: Unsupported value: "": supported values: "TCP", "UDP", "SCTP"'])
})

t.test("upstream's valid policies (validation_test.go successCases)", async (t) => {
  const cases: Obj[] = [
    { ingress: [{}] },
    { ingress: [{ from: [], ports: [] }] },
    { ingress: [{ ports }] },
    { ingress: [{ from: [{ podSelector: cd }] }] },
    { ingress: [{ from: [{ namespaceSelector: cd }] }] },
    { ingress: [{ from: [{ namespaceSelector: cd, podSelector: { matchLabels: { e: 'f' } } }] }] },
    { egress: [{ to: [{ namespaceSelector: cd }] }], ingress: [{ from: [{ ipBlock }] }] },
    { ingress: [{ from: [{ ipBlock }] }] },
    { egress: [{ to: [{ ipBlock }] }], policyTypes: ['Egress'] },
    { egress: [{ to: [{ ipBlock }] }], policyTypes: ['Ingress', 'Egress'] },
    { egress: [{ ports }] },
    { egress: [{ to: [{ namespaceSelector: cd }] }], ingress: [{ from: [{ ipBlock: ipBlock6 }] }] },
    { ingress: [{ from: [{ ipBlock: ipBlock6 }] }] },
    { egress: [{ to: [{ ipBlock: ipBlock6 }] }], policyTypes: ['Egress'] },
    { egress: [{ ports: [{ port: 32000, endPort: 32768 }, { protocol: 'UDP', port: 'dns' }] }] },
    {
      egress: [{ to: [{ namespaceSelector: cd }], ports: [{ port: 30000, endPort: 32768 }, { port: 32000, endPort: 32768 }] }],
      ingress: [{ from: [{ podSelector: { matchLabels: { e: 'f' } } }], ports: [{ protocol: 'TCP', port: 32768, endPort: 32768 }] }],
    },
    { podSelector: {}, policyTypes: ['Ingress', 'Ingress'] },
    { ingress: [{ from: [{ ipBlock: { cidr: '10.1.2.3/8' } }] }] },
  ]
  for (const spec of cases) {
    const np = policy(spec)
    applyDefaults(info, np)
    t.same(fields(np), [], JSON.stringify(spec))
  }
})

t.test("upstream's invalid policies, with upstream's messages and paths", async (t) => {
  const invalidSelector = { matchLabels: { 'NoUppercaseOrSpecialCharsLike=Equals': 'b' } }
  const cases: [string, Obj, (string | RegExp)[]][] = [
    ['namespaceSelector and ipBlock', { ingress: [{ from: [{ namespaceSelector: cd, ipBlock }] }] }, ['spec.ingress[0].from[0]: Forbidden: may not specify both ipBlock and another peer']],
    ['podSelector and ipBlock', { egress: [{ to: [{ podSelector: cd, ipBlock }] }] }, ['spec.egress[0].to[0]: Forbidden: may not specify both ipBlock and another peer']],
    ['missing from and to type', { ingress: [{ from: [{}] }], egress: [{ to: [{}] }] }, ['spec.ingress[0].from[0]: Required value: must specify a peer', 'spec.egress[0].to[0]: Required value: must specify a peer']],
    ['invalid spec.podSelector', { podSelector: invalidSelector }, [/^spec\.podSelector\.matchLabels: Invalid value: "NoUppercaseOrSpecialCharsLike=Equals": name part must consist of alphanumeric characters/]],
    ['invalid ingress.ports.protocol', { ingress: [{ ports: [{ protocol: 'ICMP', port: 80 }] }] }, ['spec.ingress[0].ports[0].protocol: Unsupported value: "ICMP": supported values: "TCP", "UDP", "SCTP"']],
    ['invalid ingress.ports.port (int)', { ingress: [{ ports: [{ protocol: 'TCP', port: 123456789 }] }] }, ['spec.ingress[0].ports[0].port: Invalid value: 123456789: must be between 1 and 65535, inclusive']],
    ['port 0', { ingress: [{ ports: [{ port: 0 }] }] }, ['spec.ingress[0].ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive']],
    [
      'invalid ingress.ports.port (str)',
      { ingress: [{ ports: [{ protocol: 'TCP', port: '!@#$' }] }] },
      ['spec.ingress[0].ports[0].port: Invalid value: "!@#$": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)', 'spec.ingress[0].ports[0].port: Invalid value: "!@#$": must contain at least one letter (a-z)'],
    ],
    ['a number as a string is a name', { ingress: [{ ports: [{ port: '80' }] }] }, ['spec.ingress[0].ports[0].port: Invalid value: "80": must contain at least one letter (a-z)']],
    ['invalid ingress.from.podSelector', { ingress: [{ from: [{ podSelector: invalidSelector }] }] }, [/^spec\.ingress\[0\]\.from\[0\]\.podSelector\.matchLabels: Invalid value: "NoUppercaseOrSpecialCharsLike=Equals"/]],
    ['invalid egress.to.podSelector', { egress: [{ to: [{ podSelector: invalidSelector }] }] }, [/^spec\.egress\[0\]\.to\[0\]\.podSelector\.matchLabels: Invalid value/]],
    ['invalid ingress.from.namespaceSelector', { ingress: [{ from: [{ namespaceSelector: invalidSelector }] }] }, [/^spec\.ingress\[0\]\.from\[0\]\.namespaceSelector\.matchLabels: Invalid value/]],
    ['invalid egress.ports.protocol', { egress: [{ ports: [{ protocol: 'ICMP', port: 80 }] }] }, ['spec.egress[0].ports[0].protocol: Unsupported value: "ICMP": supported values: "TCP", "UDP", "SCTP"']],
    ['missing cidr field', { ingress: [{ from: [{ ipBlock: { except: ['192.168.3.0/24'] } }] }] }, ['spec.ingress[0].from[0].ipBlock.cidr: Required value']],
    ['invalid cidr format', { ingress: [{ from: [{ ipBlock: { cidr: '192.168.5.6', except: ['192.168.3.0/24'] } }] }] }, ['spec.ingress[0].from[0].ipBlock.cidr: Invalid value: "192.168.5.6": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)']],
    ['invalid ipv6 cidr format', { ingress: [{ from: [{ ipBlock: { cidr: 'fd00:192:168::' } }] }] }, ['spec.ingress[0].from[0].ipBlock.cidr: Invalid value: "fd00:192:168::": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)']],
    [
      'except field is an empty string',
      { ingress: [{ from: [{ ipBlock: { cidr: '192.168.0.0/16', except: ['', ' '] } }] }] },
      [
        'spec.ingress[0].from[0].ipBlock.except[0]: Invalid value: "": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)',
        'spec.ingress[0].from[0].ipBlock.except[1]: Invalid value: " ": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)',
      ],
    ],
    ['except IP is outside of CIDR range', { ingress: [{ from: [{ ipBlock: { cidr: '192.168.8.0/24', except: ['192.168.9.1/24'] } }] }] }, ['spec.ingress[0].from[0].ipBlock.except[0]: Invalid value: "192.168.9.1/24": must be a strict subset of `cidr`']],
    ['except IP is not strictly within CIDR range', { ingress: [{ from: [{ ipBlock: { cidr: '192.168.0.0/24', except: ['192.168.0.0/24'] } }] }] }, ['spec.ingress[0].from[0].ipBlock.except[0]: Invalid value: "192.168.0.0/24": must be a strict subset of `cidr`']],
    ['except IPv6 is outside of CIDR range', { ingress: [{ from: [{ ipBlock: { cidr: 'fd00:192:168:1::/64', except: ['fd00:192:168:2::/64'] } }] }] }, ['spec.ingress[0].from[0].ipBlock.except[0]: Invalid value: "fd00:192:168:2::/64": must be a strict subset of `cidr`']],
    ['except of another family', { ingress: [{ from: [{ ipBlock: { cidr: '0.0.0.0/0', except: ['fd00::/64'] } }] }] }, ['spec.ingress[0].from[0].ipBlock.except[0]: Invalid value: "fd00::/64": must be a strict subset of `cidr`']],
    [
      'invalid policyTypes',
      { policyTypes: ['foo', 'bar'] },
      ['spec.policyTypes[0]: Unsupported value: "foo": supported values: "Ingress", "Egress"', 'spec.policyTypes[1]: Unsupported value: "bar": supported values: "Ingress", "Egress"'],
    ],
    ['too many policyTypes', { policyTypes: ['foo', 'bar', 'baz'] }, ['spec.policyTypes: Invalid value: []networking.PolicyType{"foo", "bar", "baz"}: may not specify more than two policyTypes']],
    ['multiple ports one invalid', { egress: [{ ports: [{ protocol: 'UDP', port: 35000, endPort: 32768 }, { port: 32000, endPort: 32768 }] }] }, ['spec.egress[0].ports[0].endPort: Invalid value: 32768: must be greater than or equal to `port`']],
    ['named port with endPort', { egress: [{ ports: [{ protocol: 'UDP', port: 'dns', endPort: 32768 }, { port: 32000, endPort: 32768 }] }] }, ['spec.egress[0].ports[0].endPort: Invalid value: 32768: may not be specified when `port` is non-numeric']],
    ['endPort without port', { egress: [{ ports: [{ protocol: 'TCP', endPort: 32768 }] }] }, ['spec.egress[0].ports[0].endPort: Invalid value: 32768: may not be specified when `port` is not specified']],
    ['port greater than endPort', { egress: [{ ports: [{ protocol: 'SCTP', port: 33000, endPort: 32768 }] }] }, ['spec.egress[0].ports[0].endPort: Invalid value: 32768: must be greater than or equal to `port`']],
    [
      'multiple invalid port ranges',
      { egress: [{ ports: [{ protocol: 'UDP', port: 35000, endPort: 32768 }, { protocol: 'TCP', endPort: 32768 }, { protocol: 'TCP', port: 'https', endPort: 32768 }] }] },
      [
        'spec.egress[0].ports[0].endPort: Invalid value: 32768: must be greater than or equal to `port`',
        'spec.egress[0].ports[1].endPort: Invalid value: 32768: may not be specified when `port` is not specified',
        'spec.egress[0].ports[2].endPort: Invalid value: 32768: may not be specified when `port` is non-numeric',
      ],
    ],
    ['invalid endport range', { egress: [{ ports: [{ port: 30000, endPort: 65537 }] }] }, ['spec.egress[0].ports[0].endPort: Invalid value: 65537: must be between 1 and 65535, inclusive']],
  ]
  for (const [name, spec, want] of cases) {
    const got = fields(policy(spec))
    t.match(got, want, name)
    t.equal(got.length, want.length, `${name}: ${got.length} causes`)
  }
})

t.test('bad names and the 422 causes carry reasons', async (t) => {
  const np = policy({})
  np.metadata.name = 'Bad_Name'
  t.match(fields(np), [/^metadata\.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain/])
  const causes = validateObject(info, policy({ ingress: [{ from: [{}] }] }))
  t.same(causes, [{ reason: 'FieldValueRequired', message: 'Required value: must specify a peer', field: 'spec.ingress[0].from[0]' }])
})

t.test('updates: the whole spec may change; CIDRs the stored policy holds are not checked again', async (t) => {
  const old = policy({ ingress: [{ from: [{ ipBlock: { cidr: '10.0.0.0/8' } }] }] })
  old.metadata.resourceVersion = '1'
  const changed = policy({ podSelector: { matchLabels: { x: 'y' } }, egress: [{ to: [{ namespaceSelector: {} }] }], policyTypes: ['Egress'] })
  changed.metadata.resourceVersion = '1'
  t.same(fields(changed, old), [], 'podSelector, rules and policyTypes all change')
  // A value a stricter parser would refuse, stored before: kept on update, refused on create.
  const legacy = policy({ ingress: [{ from: [{ ipBlock: { cidr: '010.0.0.0/8' } }] }] })
  t.same(fields(legacy), ['spec.ingress[0].from[0].ipBlock.cidr: Invalid value: "010.0.0.0/8": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)'])
  t.same(fields(legacy, legacy), [], 'an update keeping it passes')
  t.same(fields(policy({ ingress: [{ from: [{ ipBlock: { cidr: '010.0.0.0/8', except: ['10.1.0.0/16'] } }] }] }), legacy), [], 'and its except is still judged against it, parsed as Go does')
  t.same(fields(policy({ ingress: [{ from: [{ ipBlock: { cidr: '010.0.0.0/8', except: ['11.0.0.0/16'] } }] }] }), legacy), ['spec.ingress[0].from[0].ipBlock.except[0]: Invalid value: "11.0.0.0/16": must be a strict subset of `cidr`'])
})
