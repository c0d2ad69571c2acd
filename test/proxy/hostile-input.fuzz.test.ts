// Hostile strings and values in every Service, EndpointSlice and Node field that reaches
// nft or ip, through the proxy's parser, rule builder and transaction renderer. For each
// case: nothing throws; every rendered line is one command on the proxy's own table, in
// weft's nft grammar, one per operation (nothing injected); the good Services beside the
// hostile ones are programmed; a hostile value that cannot be an address, range, name or
// number is reported as a problem of its Service; the ip -batch lines the userspace proxier
// and host-gw would send pass. A sample of cases is applied to the real nft in a test
// namespace, next to a canary table that must survive. Seeded (see test/helpers/fuzz.ts).
import t from 'tap'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import type { V1EndpointSlice, V1Node, V1Service } from '@kubernetes/client-node'
import { NftExec } from '../../src/netfilter/exec-client.ts'
import { FakeNft } from '../../src/netfilter/fake.ts'
import { nftApply, nftList } from '../../src/netfilter/nft.ts'
import { checkNftCommand } from '../../src/netfilter/tokens.ts'
import type { NftClient } from '../../src/netfilter/client.ts'
import type { Transaction } from '../../src/netfilter/transaction.ts'
import { checkIpBatchLines } from '../../src/netlink/index.ts'
import { hostGwRoutes, routeChanges } from '../../src/kubelet/host-gw.ts'
import { nodeNetworks } from '../../src/kubelet/node-networks.ts'
import { parseIP } from '../../src/util/ip-parse.ts'
import { ChangeTracker } from '../../proxy/change-tracker.ts'
import type { Family, ProxyState } from '../../proxy/model.ts'
import { NftablesProxier } from '../../proxy/nftables/proxier.ts'
import { nodeAddresses, serviceKey } from '../../proxy/service-entries.ts'
import { sourceRangesAnnotation } from '../../src/api/validation/service.ts'
import { serviceAddresses } from '../../proxy/userspace/listen-plan.ts'
import { fuzzSettings, HOSTILE_STRINGS, openFdCount, Rng } from '../helpers/fuzz.ts'
import { testNetns } from '../helpers/netns.ts'

const settings = fuzzSettings(400)
setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void
/** Cases applied to the real nft: a handful in CI, one in 500 when run long. */
const realEvery = settings.long ? 500 : Math.ceil(settings.iterations / 6)
const LINE = /^(add|create|flush|delete) (table|chain|set|map|rule|element) (ip|ip6) weft-proxy( |$)/

type Any = any
/** JSON with non-ASCII escaped: a raw U+2028 in a message breaks the TAP stream. */
const q = (v: unknown) => (JSON.stringify(v) ?? String(v)).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)

/** Values beyond strings: numbers out of range, wrong types. */
const HOSTILE_VALUES: readonly unknown[] = [0, -1, 65536, 1.5, NaN, 1e308, null, true, {}, [], ['1.2.3.4'], { ip: '1.2.3.4' }]

function hostile(rng: Rng): unknown {
  return rng.chance(0.8) ? rng.hostileString() : rng.pick(HOSTILE_VALUES)
}

/** A value no parser may take for an address, range, name or number (so its field must be reported). */
function unusable(v: unknown, numeric: boolean): boolean {
  if (numeric) return typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 65535
  if (typeof v !== 'string') return true
  return v !== '' && /[^0-9A-Za-z.:/-]/.test(v)
}

function goodService(i: number): V1Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { namespace: 'ns', name: `svc${i}`, uid: `uid-${i}` },
    spec: {
      type: 'LoadBalancer',
      externalTrafficPolicy: 'Local',
      sessionAffinity: 'ClientIP',
      sessionAffinityConfig: { clientIP: { timeoutSeconds: 60 + i } },
      clusterIP: `10.96.${i}.1`,
      clusterIPs: [`10.96.${i}.1`, `fd00:96::${i}:1`],
      ports: [
        { name: 'http', port: 80, protocol: 'TCP', nodePort: 30000 + i },
        { name: 'dns', port: 53, protocol: 'UDP', nodePort: 30100 + i },
      ],
      externalIPs: [`192.0.2.${i + 1}`, `2001:db8::${i + 1}`],
      loadBalancerSourceRanges: [`198.51.${i}.0/24`, '2001:db8:1::/48', '10.0.0.0/8'],
      healthCheckNodePort: 31000 + i,
    },
    status: { loadBalancer: { ingress: [{ ip: `203.0.113.${i + 1}`, ipMode: 'VIP' }, { ip: `2001:db8:2::${i + 1}`, ipMode: 'VIP' }] } },
  }
}

function slicesFor(i: number): V1EndpointSlice[] {
  const labels = { 'kubernetes.io/service-name': `svc${i}` }
  const ports = [{ name: 'http', port: 8080, protocol: 'TCP' }, { name: 'dns', port: 5353, protocol: 'UDP' }]
  return [
    { metadata: { namespace: 'ns', name: `svc${i}-v4`, labels }, addressType: 'IPv4', ports: structuredClone(ports), endpoints: [1, 2, 3].map((n) => ({ addresses: [`10.244.${i}.${n}`], nodeName: n === 1 ? 'self' : 'other' })) },
    { metadata: { namespace: 'ns', name: `svc${i}-v6`, labels }, addressType: 'IPv6', ports: structuredClone(ports), endpoints: [1, 2].map((n) => ({ addresses: [`fd00:244::${i}:${n}`], nodeName: 'self' })) },
  ]
}

interface Injection {
  field: string
  value: unknown
  /** The field is read whatever else the Service says, so an unusable value must be reported. */
  mustReport: boolean
}

const INJECTORS = 17

/** Puts hostile value `v` into field `choice` of the Service, its slices or the node; says where. */
function inject(rng: Rng, v: unknown, choice: number, svc: Any, slices: Any[], node: Any): Injection {
  const s = svc.spec
  const str = (numeric: boolean): Injection => ({ field: '', value: v, mustReport: unusable(v, numeric) })
  switch (choice) {
    case 0:
      svc.metadata.name = v
      return { ...str(false), field: 'metadata.name', mustReport: !(typeof v === 'string' && /^[a-z]([-a-z0-9]*[a-z0-9])?$/.test(v) && v.length < 64) }
    case 1:
      svc.metadata.namespace = v
      // No namespace at all is the default one.
      return { ...str(false), field: 'metadata.namespace', mustReport: v !== null && v !== undefined && !(typeof v === 'string' && /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(v) && v.length < 64) }
    case 2:
      s.clusterIP = v
      s.clusterIPs[0] = v
      return { ...str(false), field: 'spec.clusterIPs[0]', mustReport: unusable(v, false) && v !== '' && v !== null && v !== 'None' }
    case 3:
      s.clusterIPs[1] = v
      return { ...str(false), field: 'spec.clusterIPs[1]', mustReport: unusable(v, false) && v !== '' && v !== null && v !== 'None' }
    case 4:
      s.ports[rng.int(2)].name = v
      return { ...str(false), field: 'spec.ports.name', mustReport: !(typeof v === 'string' && /^([a-z0-9]([-a-z0-9]*[a-z0-9])?)?$/.test(v) && v.length < 64) && v !== undefined && v !== null }
    case 5:
      s.ports[rng.int(2)].port = v
      return { ...str(true), field: 'spec.ports.port' }
    case 6:
      s.ports[rng.int(2)].protocol = v
      return { ...str(false), field: 'spec.ports.protocol', mustReport: !['TCP', 'UDP', 'SCTP', undefined, null].includes(v as string) }
    case 7:
      s.ports[rng.int(2)].nodePort = v
      return { ...str(true), field: 'spec.ports.nodePort', mustReport: unusable(v, true) && v !== 0 && v !== null }
    case 8:
      s.externalIPs[rng.int(2)] = v
      return { ...str(false), field: 'spec.externalIPs', mustReport: unusable(v, false) || v === '' }
    case 9:
      s.loadBalancerSourceRanges[rng.int(3)] = v
      // Space padding is allowed (as upstream allows it).
      return { ...str(false), field: 'spec.loadBalancerSourceRanges', mustReport: typeof v !== 'string' || unusable(v.trim(), false) || !v.includes('/') }
    case 10:
      delete s.loadBalancerSourceRanges
      svc.metadata.annotations = { [sourceRangesAnnotation]: typeof v === 'string' ? `10.0.0.0/8,${v}` : v }
      return { ...str(false), field: 'annotation', mustReport: typeof v === 'string' && !v.split(',').every((p) => p.trim() === '' || !unusable(p.trim(), false)) }
    case 11:
      svc.status.loadBalancer.ingress[rng.int(2)].ip = v
      return { ...str(false), field: 'status.loadBalancer.ingress.ip', mustReport: unusable(v, false) && v !== '' && v !== null && v !== undefined }
    case 12:
      s.sessionAffinityConfig.clientIP.timeoutSeconds = v
      return { ...str(true), field: 'timeoutSeconds', mustReport: v !== null && !(typeof v === 'number' && Number.isInteger(v) && v > 0 && v <= 86400) }
    case 13:
      s.healthCheckNodePort = v
      return { ...str(true), field: 'spec.healthCheckNodePort', mustReport: unusable(v, true) && v !== 0 && v !== null }
    case 14: {
      const slice = slices[rng.int(slices.length)]
      slice.endpoints[rng.int(slice.endpoints.length)].addresses = [v]
      return { ...str(false), field: 'endpoints.addresses', mustReport: unusable(v, false) || v === '' }
    }
    case 15: {
      const slice = slices[rng.int(slices.length)]
      slice.ports[rng.int(2)].port = v
      return { ...str(true), field: 'endpointslice.ports.port' }
    }
    default:
      node.status.addresses[rng.int(2)].address = v
      return { field: 'node', value: v, mustReport: false }
  }
}

/** Records what each apply sends, and applies it to a FakeNft (which checks references like the kernel). */
class Recorder implements NftClient {
  readonly fake = new FakeNft()
  texts: string[] = []
  sizes: number[] = []
  async apply(tx: Transaction): Promise<void> {
    this.texts.push(tx.render())
    this.sizes.push(tx.size)
    await this.fake.apply(tx)
  }
  listTable(family: 'ip' | 'ip6' | 'inet', table: string) {
    return this.fake.listTable(family, table)
  }
}

interface Case {
  states: Map<Family, ProxyState>
  problems: Map<string, string[]>
  good: string[]
  injections: Map<string, Injection[]>
  node: V1Node
  nodes: V1Node[]
}

/** Random Services, most of them with 1-3 hostile values; or, `fixed`, one good and one with the given value in the given field. */
function buildCase(rng: Rng, fixed?: { value: unknown; choice: number }): Case {
  const count = fixed ? 2 : 2 + rng.int(4)
  const tracker = new ChangeTracker([4, 6], 'self')
  const node: Any = { metadata: { name: 'self' }, spec: { podCIDRs: ['10.244.0.0/24'] }, status: { addresses: [{ type: 'InternalIP', address: '192.168.0.2' }, { type: 'InternalIP', address: 'fd00:192::2' }] } }
  const peer: Any = { metadata: { name: 'peer' }, spec: { podCIDRs: ['10.244.1.0/24', 'fd00:244:1::/64'] }, status: { addresses: [{ type: 'InternalIP', address: '192.168.0.3' }, { type: 'InternalIP', address: 'fd00:192::3' }] } }
  const good: string[] = []
  const injections = new Map<string, Injection[]>()
  for (let i = 0; i < count; i++) {
    const svc: Any = goodService(i)
    const slices: Any[] = slicesFor(i)
    const key = `ns/svc${i}`
    if (fixed ? i === 1 : rng.chance(0.6)) {
      const list: Injection[] = []
      if (fixed) list.push(inject(rng, fixed.value, fixed.choice, svc, slices, node))
      else {
        // Distinct fields, and not both forms of the source ranges (the field hides the annotation).
        const choices = new Set<number>()
        for (let k = 1 + rng.int(3); k > 0; k--) {
          const choice = rng.int(INJECTORS)
          if (!choices.has(choice) && !(choice === 9 && choices.has(10)) && !(choice === 10 && choices.has(9))) choices.add(choice)
        }
        for (const choice of choices) list.push(inject(rng, hostile(rng), choice, svc, slices, rng.chance(0.5) ? node : peer))
      }
      // Where a hostile name moved the Service, its problems are filed under the new key.
      const moved = serviceKey(svc.metadata.namespace, svc.metadata.name)
      // Slices of a Service that moved away (a new name) belong to no Service: unused, nothing to report.
      if (moved !== key) for (const inj of list) if (inj.field.startsWith('endpoint')) inj.mustReport = false
      injections.set(moved, list)
    } else good.push(key)
    tracker.setService(svc)
    for (const s of slices) tracker.setSlice(s)
  }
  tracker.take()
  const problems = new Map<string, string[]>()
  for (const [key, u] of tracker.takeProblems()) problems.set(key, u.problems.map((p) => p.message))
  const nodeIPs = nodeAddresses(node).ips
  const states = new Map<Family, ProxyState>()
  for (const family of [4, 6] as const) {
    states.set(family, {
      family,
      serviceCIDRs: [family === 4 ? '10.96.0.0/12' : 'fd00:96::/108'],
      clusterCIDRs: [family === 4 ? '10.244.0.0/16' : 'fd00:244::/48'],
      nodeIPs: nodeIPs.filter((ip) => (family === 6) === ip.includes(':')),
      services: tracker.entries(family),
    })
  }
  return { states, problems, good, injections, node, nodes: [node, peer] }
}

/** What is wrong with one case; empty when it holds. */
async function check(c: Case): Promise<string[]> {
  const errors: string[] = []
  for (const [family, state] of c.states) {
    const rec = new Recorder()
    const proxier = new NftablesProxier({ family, nft: rec, log: silent })
    let stats
    try {
      stats = await proxier.sync(state, 'all')
    } catch (err) {
      errors.push(`IPv${family} sync threw: ${(err as Error).message}`)
      continue
    }
    for (const [i, text] of rec.texts.entries()) {
      const lines = text.split('\n').slice(0, -1)
      if (lines.length !== rec.sizes[i]) errors.push(`IPv${family}: ${lines.length} lines for ${rec.sizes[i]} operations`)
      for (const line of lines) {
        if (!LINE.test(line) || !line.includes(family === 4 ? ' ip weft-proxy' : ' ip6 weft-proxy')) errors.push(`IPv${family}: not a command on weft-proxy: ${q(line.slice(0, 120))}`)
        try {
          checkNftCommand(line)
        } catch (err) {
          errors.push(`IPv${family}: ${(err as Error).message}`)
        }
      }
    }
    const dump = rec.fake.dump(family === 4 ? 'ip' : 'ip6', 'weft-proxy')
    for (const key of c.good) {
      const [ns, name] = key.split('/')
      for (const proto of ['tcp', 'udp']) {
        if (!new RegExp(`add chain ip6? weft-proxy service-[A-Z0-9]{8}-${ns}/${name}/${proto}/`).test(dump)) errors.push(`IPv${family}: the good Service ${key} (${proto}) is not programmed`)
      }
    }
    // The parser drops whatever the renderer would refuse: a refusal means something slipped past it.
    for (const [id, r] of stats.refused ?? []) errors.push(`IPv${family}: port ${id} got past the parser and was refused: ${r.message}`)
    // Every address the userspace proxier would put on the node, as its ip -batch lines.
    const width = family === 4 ? 32 : 128
    const addrs = [...serviceAddresses(state)]
    for (const a of addrs) if (parseIP(a)?.text !== a) errors.push(`userspace address ${q(a)} is not canonical`)
    try {
      checkIpBatchLines(addrs.map((a) => `addr replace ${a}/${width} dev weft-svc0`))
    } catch (err) {
      errors.push((err as Error).message)
    }
  }
  try {
    checkIpBatchLines(routeChanges([], hostGwRoutes(nodeNetworks(c.nodes, 'self').networks)))
  } catch (err) {
    errors.push(`host-gw: ${(err as Error).message}`)
  }
  for (const [key, list] of c.injections) {
    const must = list.filter((i) => i.mustReport)
    if (must.length && !(c.problems.get(key)?.length)) errors.push(`${key}: ${must.map((i) => `${i.field}=${q(i.value)}`).join(', ')} went unreported`)
  }
  return errors
}

const silent = { warn() {}, info() {}, debug() {}, error() {}, child() { return silent } } as unknown as import('../../src/util/log.ts').Logger

t.test(`hostile Service, EndpointSlice and Node fields (seed ${settings.seed}, ${settings.iterations} cases)`, async (t) => {
  const ns = await testNetns(t, 'hostile')
  // A canary: an injected `flush ruleset` or `delete table` would take it away.
  await nftApply(['add table inet canary', 'add chain inet canary c'], ns)
  const fds = openFdCount()
  gc()
  const heap = process.memoryUsage().heapUsed
  const started = Date.now()
  let applied = 0
  let reported = 0
  const rng = new Rng(settings.seed)
  for (let i = 0; i < settings.iterations; i++) {
    const c = buildCase(rng)
    for (const list of c.problems.values()) reported += list.length
    const errors = await check(c)
    if (errors.length) {
      t.fail(`case ${i} (seed ${settings.seed}): ${errors.slice(0, 5).join(' | ')}`)
      return
    }
    if (i % realEvery === 0) {
      for (const [family, state] of c.states) {
        const nftFamily = family === 4 ? 'ip' : 'ip6'
        try {
          await new NftablesProxier({ family, nft: new NftExec(ns), log: silent }).sync(state, 'all')
        } catch (err) {
          t.fail(`case ${i} (seed ${settings.seed}): the real nft refused the IPv${family} transaction: ${(err as Error).message}`)
          return
        }
        const tables = (await nftList(['list', 'tables'], ns)).flatMap((o) => (o.table ? [`${(o.table as Any).family} ${(o.table as Any).name}`] : [])).sort()
        const want = ['inet canary', 'ip weft-proxy', 'ip6 weft-proxy'].filter((x) => x !== 'ip6 weft-proxy' || family === 6 || applied > 0)
        if (!tables.includes('inet canary') || tables.some((x) => !want.includes(x) && x !== 'ip6 weft-proxy')) {
          t.fail(`case ${i}: tables after the IPv${nftFamily} apply: ${tables.join(', ')}`)
          return
        }
      }
      applied++
    }
  }
  t.pass(`${settings.iterations} cases in ${Date.now() - started} ms; ${applied} applied to the real nft; ${reported} problems reported`)
  t.ok(reported > 0, 'hostile values were reported')
  t.ok(applied > 0, 'some cases went to the real nft')
  t.equal(openFdCount(), fds, 'no file descriptor left open')
  gc()
  const grown = process.memoryUsage().heapUsed - heap
  t.ok(grown < 16 * 2 ** 20, `heap grew ${(grown / 2 ** 20).toFixed(1)} MiB`)
})

t.test('every HOSTILE_STRING and hostile value in every field, once', async (t) => {
  // Not random: each value through each injector, so none is left to chance.
  let n = 0
  for (const value of [...HOSTILE_STRINGS, ...HOSTILE_VALUES]) {
    for (let choice = 0; choice < INJECTORS; choice++) {
      const c = buildCase(new Rng(n++), { value, choice })
      const errors = await check(c)
      if (errors.length) {
        t.fail(`${q(value)} in injector ${choice}: ${errors.slice(0, 3).join(' | ')}`)
        return
      }
    }
  }
  t.pass(`${n} cases`)
})
