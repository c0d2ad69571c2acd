// Hostile values in every NetworkPolicy, Pod and Namespace field the compiler reads, through
// clusterView → compileNode → the nftables renderer. For each case: nothing throws; every
// rendered line is one command on weft's own table `inet weft-netpol` in weft's nft grammar
// (nothing injected); the good policy beside the hostile objects still isolates its pod with
// its allow entry; a hostile policy field that cannot be a selector, CIDR, port or protocol is
// reported as a problem of that policy. A sample of cases is applied to the real nft in a
// test namespace next to a canary table that must survive. Seeded (see test/helpers/fuzz.ts).
import t from 'tap'
import { clusterView, compileNode } from '../../netpol/compile.ts'
import type { CompiledNode } from '../../netpol/model.ts'
import { NetpolApplier } from '../../netpol/nftables/applier.ts'
import { TABLE } from '../../netpol/nftables/names.ts'
import { fullTransaction } from '../../netpol/nftables/transactions.ts'
import { NftExec } from '../../src/netfilter/exec-client.ts'
import { nftApply, nftList } from '../../src/netfilter/nft.ts'
import { checkNftCommand } from '../../src/netfilter/tokens.ts'
import { parseCIDR } from '../../src/util/ip-parse.ts'
import { fuzzSettings, Rng } from '../helpers/fuzz.ts'
import { testNetns } from '../helpers/netns.ts'
import { namespace, pod, policy } from './fixtures.ts'

const settings = fuzzSettings(400)
const realEvery = settings.long ? 500 : Math.ceil(settings.iterations / 5)
const LINE = new RegExp(`^(add|create|flush|delete) (table|chain|set|map|rule|element) inet ${TABLE}( |$)`)
const HOSTILE_VALUES: readonly unknown[] = [0, -1, 65536, 1.5, NaN, 1e308, null, true, {}, [], ['x'], { a: 1 }]
/** JSON with non-ASCII escaped: a raw U+2028 in a message breaks the TAP stream. */
const q = (v: unknown) => (JSON.stringify(v) ?? String(v)).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)

function hostile(rng: Rng): unknown {
  return rng.chance(0.75) ? rng.hostileString() : rng.pick(HOSTILE_VALUES)
}

type Obj = Record<string, unknown>

/** Sets `path` of a deep copy of `o` to `value`, creating objects and one-element arrays on the way. */
function inject(o: Obj, path: (string | number)[], value: unknown): Obj {
  const copy = structuredClone(o)
  let at: any = copy
  for (const [i, key] of path.entries()) {
    if (i === path.length - 1) {
      at[key] = value
      break
    }
    if (at[key] === undefined || typeof at[key] !== 'object' || at[key] === null) at[key] = typeof path[i + 1] === 'number' ? [] : {}
    at = at[key]
  }
  return copy
}

/** Not something Go's net.ParseCIDR takes (a hostile string can be a CIDR: `::1/24`). */
function notCIDR(v: unknown): boolean {
  return typeof v !== 'string' || parseCIDR(v, 'sloppy') === undefined
}

/** Policy fields whose hostile value must be reported (a selector, CIDR, port or protocol that cannot be one). */
const POLICY_FIELDS: { path: (string | number)[]; mustReport: (v: unknown) => boolean }[] = [
  { path: ['spec', 'ingress', 0, 'from', 0, 'ipBlock', 'cidr'], mustReport: notCIDR },
  { path: ['spec', 'ingress', 0, 'from', 0, 'ipBlock', 'except', 0], mustReport: notCIDR },
  { path: ['spec', 'egress', 0, 'to', 0, 'ipBlock', 'cidr'], mustReport: notCIDR },
  { path: ['spec', 'ingress', 0, 'ports', 0, 'protocol'], mustReport: (v) => v !== null && v !== 'TCP' && v !== 'UDP' && v !== 'SCTP' },
  { path: ['spec', 'ingress', 0, 'ports', 0, 'port'], mustReport: (v) => v !== null && !(typeof v === 'string' && /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/.test(v) && v.length <= 15 && /[a-z]/.test(v)) },
  { path: ['spec', 'egress', 0, 'ports', 0, 'endPort'], mustReport: (v) => v !== null },
  { path: ['spec', 'podSelector', 'matchLabels', 'app'], mustReport: () => false },
  { path: ['spec', 'podSelector', 'matchExpressions', 0, 'operator'], mustReport: () => false },
  { path: ['spec', 'ingress', 0, 'from', 0, 'namespaceSelector', 'matchExpressions', 0, 'values', 0], mustReport: () => false },
  { path: ['spec', 'ingress', 0, 'from', 0, 'podSelector', 'matchLabels', 'role'], mustReport: () => false },
  { path: ['spec', 'policyTypes', 0], mustReport: () => false },
  { path: ['metadata', 'name'], mustReport: () => false },
]

const POD_FIELDS: (string | number)[][] = [
  ['status', 'podIPs', 0, 'ip'],
  ['status', 'podIP'],
  ['spec', 'containers', 0, 'ports', 0, 'name'],
  ['spec', 'containers', 0, 'ports', 0, 'containerPort'],
  ['spec', 'containers', 0, 'ports', 0, 'protocol'],
  ['metadata', 'labels', 'app'],
  ['metadata', 'name'],
  ['metadata', 'namespace'],
  ['metadata', 'uid'],
  ['spec', 'nodeName'],
  ['spec', 'hostNetwork'],
]

/** The good policy: x/a admits x/b on TCP 80 and the named port `web`. */
const GOOD = policy('x', 'good', { podSelector: { matchLabels: { app: 'a' } }, ingress: [{ from: [{ podSelector: { matchLabels: { app: 'b' } } }], ports: [{ port: 80 }, { port: 'web' }] }] })

interface Case {
  state: CompiledNode
  /** Policies with a field that must be reported, by key. */
  mustReport: Map<string, string>
}

function buildCase(rng: Rng): Case {
  const namespaces = [namespace('x'), namespace('y')] as unknown[]
  const pods: unknown[] = [
    pod('x', 'a', { ips: ['10.0.0.1', 'fd00::1'], labels: { app: 'a' }, ports: [{ name: 'web', containerPort: 8080 }] }),
    pod('x', 'b', { ips: ['10.0.0.2', 'fd00::2'], labels: { app: 'b' } }),
  ]
  const policies: unknown[] = [GOOD]
  const mustReport = new Map<string, string>()
  const n = 1 + rng.int(4)
  for (let i = 0; i < n; i++) {
    const base: Obj = policy(rng.pick(['x', 'y']), `bad-${i}`, {
      podSelector: { matchLabels: { app: rng.pick(['a', 'b', 'c']) } },
      ingress: [{ from: [{ ipBlock: { cidr: '10.0.0.0/8', except: ['10.1.0.0/16'] } }, { namespaceSelector: { matchExpressions: [{ key: 'ns', operator: 'In', values: ['y'] }] }, podSelector: { matchLabels: { role: 'r' } } }], ports: [{ protocol: 'TCP', port: 81 }] }],
      egress: [{ to: [{ ipBlock: { cidr: 'fd00::/64' } }], ports: [{ port: 80, endPort: 90 }] }],
      policyTypes: ['Ingress', 'Egress'],
    }) as unknown as Obj
    if (rng.chance(0.1)) {
      policies.push(hostile(rng))
      continue
    }
    const field = rng.pick(POLICY_FIELDS)
    const value = hostile(rng)
    const bad = inject(base, field.path, value)
    if (field.mustReport(value) && bad.metadata && typeof (bad.metadata as Obj).name === 'string') mustReport.set(`${(bad.metadata as Obj).namespace}/${(bad.metadata as Obj).name}`, `${field.path.join('.')}=${q(value)}`)
    policies.push(bad)
  }
  for (let i = 0; i < 1 + rng.int(3); i++) {
    const base = pod(rng.pick(['x', 'y']), `p${i}`, { ips: [`10.0.1.${i + 1}`, `fd00::1:${i + 1}`], labels: { app: 'b' }, ports: [{ name: 'web', containerPort: 9090 }] }) as unknown as Obj
    pods.push(rng.chance(0.1) ? hostile(rng) : inject(base, rng.pick(POD_FIELDS), hostile(rng)))
  }
  if (rng.chance(0.3)) namespaces.push(inject(namespace('z') as unknown as Obj, rng.pick([['metadata', 'name'], ['metadata', 'labels', 'ns'], ['metadata', 'labels']]), hostile(rng)))
  const view = clusterView({ policies, pods, namespaces })
  return { state: compileNode(view, 'node-1', ['192.168.0.1', rng.hostileString()]), mustReport }
}

function check(c: Case): string[] {
  const errors: string[] = []
  let text: string
  try {
    text = fullTransaction(c.state, { deny: 'drop', logRate: 5 }).render()
  } catch (err) {
    return [`render threw: ${(err as Error).message}`]
  }
  for (const line of text.trim().split('\n')) {
    if (!LINE.test(line)) errors.push(`not a command on ${TABLE}: ${q(line.slice(0, 120))}`)
    try {
      checkNftCommand(line)
    } catch (err) {
      errors.push((err as Error).message)
    }
  }
  const a = [...c.state.pods.values()].find((p) => p.key === 'x/a')
  if (!a?.ingress.isolated || !a.ingress.allow.some((e) => e.policy === 'x/good')) errors.push('the good policy no longer isolates x/a with its allow entry')
  const reported = new Set(c.state.problems.map((p) => p.policy))
  for (const [key, what] of c.mustReport) if (!reported.has(key)) errors.push(`${key}: ${what} went unreported`)
  return errors
}

t.test(`hostile NetworkPolicy, Pod and Namespace fields (seed ${settings.seed}, ${settings.iterations} cases)`, async (t) => {
  const ns = await testNetns(t, 'nphostile')
  // A canary: an injected `flush ruleset` or `delete table` would take it away.
  await nftApply(['add table inet canary', 'add chain inet canary c'], ns)
  const rng = new Rng(settings.seed)
  let applied = 0
  let reported = 0
  for (let i = 0; i < settings.iterations; i++) {
    let c: Case
    try {
      c = buildCase(rng)
    } catch (err) {
      t.fail(`case ${i} (seed ${settings.seed}): the compiler threw: ${(err as Error).stack}`)
      return
    }
    reported += c.state.problems.length
    const errors = check(c)
    if (errors.length) {
      t.fail(`case ${i} (seed ${settings.seed}): ${errors.slice(0, 5).join(' | ')}`)
      return
    }
    if (i % realEvery === 0) {
      try {
        await new NetpolApplier({ nft: new NftExec(ns) }).sync(c.state)
      } catch (err) {
        t.fail(`case ${i} (seed ${settings.seed}): the real nft refused the transaction: ${(err as Error).message}`)
        return
      }
      const tables = (await nftList(['list', 'tables'], ns)).flatMap((o) => (o.table ? [`${(o.table as any).family} ${(o.table as any).name}`] : [])).sort()
      if (tables.join() !== `inet canary,inet ${TABLE}`) {
        t.fail(`case ${i}: tables after the apply: ${tables.join(', ')}`)
        return
      }
      applied++
    }
  }
  t.pass(`${settings.iterations} cases; ${applied} applied to the real nft; ${reported} problems reported`)
  t.ok(reported > 0, 'hostile values were reported')
  t.ok(applied > 0, 'some cases went to the real nft')
})
