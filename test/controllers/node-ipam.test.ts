import t from 'tap'
import type { V1Node } from '@kubernetes/client-node'
import { allocatePodCIDRs } from '../../src/controllers/node-ipam/allocate-pod-cidrs.ts'
import { claimName } from '../../src/controllers/claims.ts'
import type { Action } from '../../src/controllers/actions.ts'

const node = (name: string, podCIDRs?: string[]): V1Node => ({ metadata: { name }, spec: podCIDRs ? { podCIDR: podCIDRs[0], podCIDRs } : {} })
const assigned = (actions: Action[]): Record<string, string[]> =>
  Object.fromEntries(actions.flatMap((a) => (a.verb === 'patch' ? [[a.name, (a.patch as { spec: { podCIDRs: string[] } }).spec.podCIDRs]] : [])))
const events = (actions: Action[]): string[] => actions.flatMap((a) => (a.verb === 'event' ? [`${a.event.type} ${a.event.reason} ${a.event.involved.metadata?.name}`] : []))

t.test('allocates the lowest free subnet', async (t) => {
  const cases: { name: string; nodes: V1Node[]; cluster: string | string[]; mask?: number | number[]; want: Record<string, string[]>; events?: string[] }[] = [
    { name: 'first node', nodes: [node('a')], cluster: '10.244.0.0/16', mask: 24, want: { a: ['10.244.0.0/24'] } },
    { name: 'several, by name', nodes: [node('b'), node('a')], cluster: '10.244.0.0/16', mask: 24, want: { a: ['10.244.0.0/24'], b: ['10.244.1.0/24'] } },
    { name: 'existing kept, gap reused', nodes: [node('a', ['10.244.0.0/24']), node('c', ['10.244.2.0/24']), node('d')], cluster: '10.244.0.0/16', mask: 24, want: { d: ['10.244.1.0/24'] } },
    { name: 'deleted node frees its CIDR', nodes: [node('c', ['10.244.1.0/24']), node('e')], cluster: '10.244.0.0/16', mask: 24, want: { e: ['10.244.0.0/24'] } },
    { name: 'nothing to do', nodes: [node('a', ['10.244.0.0/24'])], cluster: '10.244.0.0/16', mask: 24, want: {} },
    { name: 'a larger existing CIDR blocks all it covers', nodes: [node('a', ['10.244.0.0/23']), node('b')], cluster: '10.244.0.0/16', mask: 24, want: { b: ['10.244.2.0/24'] } },
    { name: 'IPv6', nodes: [node('a', ['fd00:10:244::/64']), node('b')], cluster: 'fd00:10:244::/56', mask: 64, want: { b: ['fd00:10:244:1::/64'] } },
    { name: 'IPv6 default mask', nodes: [node('a')], cluster: 'fd00:10:244::/56', want: { a: ['fd00:10:244::/64'] } },
    {
      name: 'dual-stack',
      nodes: [node('a', ['10.244.0.0/24', 'fd00:10:244::/64']), node('b')],
      cluster: '10.244.0.0/16,fd00:10:244::/56',
      want: { b: ['10.244.1.0/24', 'fd00:10:244:1::/64'] },
    },
    {
      name: 'exhausted',
      nodes: [node('a', ['10.0.0.0/25']), node('b', ['10.0.0.128/25']), node('c')],
      cluster: '10.0.0.0/24', mask: 25, want: {}, events: ['Warning CIDRNotAvailable c'],
    },
    {
      name: 'dual-stack with one family exhausted: nothing half-assigned',
      nodes: [node('a', ['10.0.0.0/24', 'fd00::/64']), node('b')],
      cluster: ['10.0.0.0/24', 'fd00::/56'], mask: [24, 64], want: {}, events: ['Warning CIDRNotAvailable b'],
    },
  ]
  for (const c of cases) {
    const actions = allocatePodCIDRs(c.nodes, c.cluster, c.mask)
    t.same(assigned(actions), c.want, c.name)
    t.same(events(actions), c.events ?? [], `${c.name}: events`)
  }
})

t.test('a claim first, then the patch that sets podCIDR and podCIDRs', async (t) => {
  const [claim, a] = allocatePodCIDRs([node('a')], '10.244.0.0/16', 24)
  t.match(claim, { verb: 'create', claim: true, object: { kind: 'Lease', metadata: { name: 'pod-cidr-10.244.0.0-24', namespace: 'kube-system', labels: { 'weft.dev/claim': 'pod-cidr' }, annotations: { 'weft.dev/claimed': '10.244.0.0/24' } }, spec: { holderIdentity: 'a' } } })
  t.same(a, { verb: 'patch', info: a!.verb === 'patch' ? a!.info : undefined, namespace: undefined, name: 'a', type: 'merge', patch: { spec: { podCIDR: '10.244.0.0/24', podCIDRs: ['10.244.0.0/24'] } } })
  t.equal(claimName('pod-cidr', 'fd00:10:244:1::/64'), 'pod-cidr-fd00-10-244-1---64')
})

t.test("claims: another node's claimed CIDR is taken though its node shows none yet; a gone node's claim is released", async (t) => {
  const claims = new Map([
    ['10.244.0.0/24', { holder: 'b', uid: 'u1', name: 'pod-cidr-10.244.0.0-24' }],
    ['10.244.1.0/24', { holder: 'gone', uid: 'u2', name: 'pod-cidr-10.244.1.0-24' }],
  ])
  const actions = allocatePodCIDRs([node('a'), node('b')], '10.244.0.0/16', 24, claims)
  t.same(actions.flatMap((x) => (x.verb === 'delete' ? [`${x.name} ${x.uid}`] : [])), ['pod-cidr-10.244.1.0-24 u2'], 'the claim of a node that is gone goes, by uid')
  const got = assigned(actions)
  t.not(got.a?.[0], '10.244.0.0/24', 'a never gets what b claimed')
  t.same(got.b, ['10.244.0.0/24'], 'b claimed 10.244.0.0/24 before its node write was lost: it gets that one again')
  t.same(got.a, ['10.244.1.0/24'], 'a gets the lowest CIDR nobody claims')
})

t.test('rejects a mask that does not fit', async (t) => {
  t.throws(() => allocatePodCIDRs([], '10.244.0.0/16', 8), /does not fit cluster CIDR 10.244.0.0\/16/)
})
