import t from 'tap'
import type { V1Service } from '@kubernetes/client-node'
import { LB_CLEANUP_FINALIZER, reconcileServiceLB } from '../../src/controllers/service-lb/reconcile-service-lb.ts'
import { firstFree, parsePool } from '../../src/controllers/service-lb/ip-pool.ts'
import type { Action } from '../../src/controllers/actions.ts'

const now = new Date('2025-01-01T00:00:00Z')
const pool = ['192.168.49.100-192.168.49.102', 'fd00:49::/126']

function svc(name: string, extra: { type?: string; ips?: string[]; lbIP?: string; families?: string[]; finalizer?: boolean; deleting?: boolean; cls?: string } = {}): V1Service {
  return {
    metadata: { name, namespace: 'default', uid: `u-${name}`, finalizers: extra.finalizer ? [LB_CLEANUP_FINALIZER] : undefined, ...(extra.deleting ? { deletionTimestamp: now } : {}) },
    spec: { type: extra.type ?? 'LoadBalancer', loadBalancerIP: extra.lbIP, ipFamilies: extra.families, loadBalancerClass: extra.cls, ports: [{ port: 80 }] },
    status: { loadBalancer: extra.ips ? { ingress: extra.ips.map((ip) => ({ ip, ipMode: 'VIP' })) } : {} },
  }
}

function summary(actions: Action[]): { ingress?: string[] | null; addFinalizer: boolean; removeFinalizer: boolean; events: string[] } {
  const status = actions.find((a) => a.verb === 'patch' && a.subresource === 'status')
  const meta = actions.filter((a) => a.verb === 'patch' && !a.subresource).map((a) => JSON.stringify(a.verb === 'patch' ? a.patch : ''))
  const ingress = status && status.verb === 'patch' ? (status.patch as { status: { loadBalancer: { ingress: { ip: string }[] | null } } }).status.loadBalancer.ingress : undefined
  return {
    ingress: ingress === undefined ? undefined : ingress === null ? null : ingress.map((i) => i.ip),
    addFinalizer: meta.some((m) => m.includes('"finalizers"')),
    removeFinalizer: meta.some((m) => m.includes('deleteFromPrimitiveList')),
    events: actions.flatMap((a) => (a.verb === 'event' ? [`${a.event.reason}: ${a.event.message}`] : [])),
  }
}

t.test('parses pools of CIDRs and ranges', async (t) => {
  const ranges = parsePool(['10.0.0.0/30', '10.0.1.5-10.0.1.6', 'fd00::1'])
  t.same(ranges.map((r) => [r.family, r.last - r.first + 1n]), [[4, 4n], [4, 2n], [6, 1n]])
  t.equal(firstFree(ranges, 4, new Set(['10.0.0.0', '10.0.0.1', '10.0.0.2', '10.0.0.3'])), '10.0.1.5')
  t.throws(() => parsePool(['nope']), /not a CIDR or an address range/)
  t.throws(() => parsePool(['10.0.0.9-10.0.0.1']), /ends before it starts/)
  t.throws(() => parsePool(['10.0.0.1-fd00::1']), /not a CIDR or an address range/)
})

t.test('allocation', async (t) => {
  const cases: { name: string; s: V1Service | undefined; others?: V1Service[]; want: ReturnType<typeof summary> }[] = [
    { name: 'first LB gets the lowest IP and the finalizer', s: svc('a'), want: { ingress: ['192.168.49.100'], addFinalizer: true, removeFinalizer: false, events: ['IPAllocated: Assigned IP ["192.168.49.100"]'] } },
    { name: 'stable across reconciles', s: svc('a', { ips: ['192.168.49.101'], finalizer: true }), want: { ingress: undefined, addFinalizer: false, removeFinalizer: false, events: [] } },
    { name: 'skips IPs held by others', s: svc('b'), others: [svc('a', { ips: ['192.168.49.100'] })], want: { ingress: ['192.168.49.101'], addFinalizer: true, removeFinalizer: false, events: ['IPAllocated: Assigned IP ["192.168.49.101"]'] } },
    { name: 'gives up a duplicate IP another service holds', s: svc('b', { ips: ['192.168.49.100'], finalizer: true }), others: [svc('a', { ips: ['192.168.49.100'] })], want: { ingress: ['192.168.49.101'], addFinalizer: false, removeFinalizer: false, events: ['IPAllocated: Assigned IP ["192.168.49.101"]'] } },
    { name: 'honours loadBalancerIP', s: svc('a', { lbIP: '192.168.49.102' }), want: { ingress: ['192.168.49.102'], addFinalizer: true, removeFinalizer: false, events: ['IPAllocated: Assigned IP ["192.168.49.102"]'] } },
    {
      name: 'loadBalancerIP in use',
      s: svc('b', { lbIP: '192.168.49.102' }),
      others: [svc('a', { ips: ['192.168.49.102'] })],
      want: { ingress: undefined, addFinalizer: false, removeFinalizer: false, events: ['AllocationFailed: Failed to allocate IP for "default/b": requested loadBalancerIP 192.168.49.102 is not available: it is in use by default/a'] },
    },
    {
      name: 'pool exhausted',
      s: svc('d'),
      others: ['a', 'b', 'c'].map((n, i) => svc(n, { ips: [`192.168.49.10${i}`] })),
      want: { ingress: undefined, addFinalizer: false, removeFinalizer: false, events: ['AllocationFailed: Failed to allocate IP for "default/d": no available IPs in pool'] },
    },
    { name: 'dual-stack: one IP per family in order', s: svc('a', { families: ['IPv6', 'IPv4'] }), want: { ingress: ['fd00:49::', '192.168.49.100'], addFinalizer: true, removeFinalizer: false, events: ['IPAllocated: Assigned IP ["fd00:49::","192.168.49.100"]'] } },
    { name: 'type changed away: status cleared, finalizer removed', s: svc('a', { type: 'ClusterIP', ips: ['192.168.49.100'], finalizer: true }), want: { ingress: null, addFinalizer: false, removeFinalizer: true, events: [] } },
    { name: 'deleting: released and finalizer removed', s: svc('a', { ips: ['192.168.49.100'], finalizer: true, deleting: true }), want: { ingress: null, addFinalizer: false, removeFinalizer: true, events: [] } },
    { name: 'other class untouched', s: svc('a', { cls: 'example.com/lb', ips: ['1.2.3.4'] }), want: { ingress: undefined, addFinalizer: false, removeFinalizer: false, events: [] } },
    { name: 'weft class handled', s: svc('a', { cls: 'weft.dev/lb' }), want: { ingress: ['192.168.49.100'], addFinalizer: true, removeFinalizer: false, events: ['IPAllocated: Assigned IP ["192.168.49.100"]'] } },
    { name: 'ClusterIP service: nothing', s: svc('a', { type: 'ClusterIP' }), want: { ingress: undefined, addFinalizer: false, removeFinalizer: false, events: [] } },
    { name: 'deleted: nothing', s: undefined, want: { ingress: undefined, addFinalizer: false, removeFinalizer: false, events: [] } },
  ]
  for (const c of cases) {
    const all = [...(c.others ?? []), ...(c.s ? [c.s] : [])]
    t.same(summary(reconcileServiceLB(c.s, all, pool, now)), c.want, c.name)
  }
})

t.test('the finalizer is added before the address is published', async (t) => {
  const actions = reconcileServiceLB(svc('a'), [], pool, now)
  const fin = actions.findIndex((a) => a.verb === 'patch' && !a.subresource)
  const st = actions.findIndex((a) => a.verb === 'patch' && a.subresource === 'status')
  t.ok(fin >= 0 && fin < st)
})

t.test('claims: an address goes through its claim first; claimed by another Service it is taken; claims go with the Service', async (t) => {
  const claimOf = (holder: string, ip: string) => [ip, { holder, uid: `lease-${ip}`, name: `lb-ip-${ip}` }] as const
  const actions = reconcileServiceLB(svc('a'), [svc('a'), svc('b')], pool, now, new Map([claimOf('u-b', '192.168.49.100')]))
  const verbs = actions.map((a) => (a.verb === 'create' ? `claim ${(a.object.metadata as { annotations: Record<string, string> }).annotations['weft.dev/claimed']} for ${a.object.spec.holderIdentity}` : a.verb === 'patch' ? `patch ${a.subresource ?? 'object'}` : a.verb))
  t.same(verbs.filter((v) => v !== 'event'), ['patch object', 'claim 192.168.49.101 for u-a', 'patch status'], "b's claimed address is skipped (b's status does not show it yet); the claim goes before the status")
  const stale = reconcileServiceLB(svc('a', { ips: ['192.168.49.101'], finalizer: true }), [svc('a', { ips: ['192.168.49.101'], finalizer: true })], pool, now, new Map([claimOf('u-a', '192.168.49.101'), claimOf('u-gone', '192.168.49.102')]))
  t.same(stale.flatMap((a) => (a.verb === 'delete' ? [a.name] : [])), ['lb-ip-192.168.49.102'], "a gone Service's claim is released; its own stays")
  t.notOk(stale.some((a) => a.verb === 'create'), 'an address already claimed by this Service needs no new claim')
  const going = reconcileServiceLB(svc('a', { ips: ['192.168.49.101'], finalizer: true, deleting: true }), [], pool, now, new Map([claimOf('u-a', '192.168.49.101')]))
  t.same(going.map((a) => a.verb), ['patch', 'delete', 'patch'], 'deleted: address cleared, claim released, then the finalizer removed')
})
