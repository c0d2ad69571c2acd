// Leader election on a Lease: the pure step (client-go's tryAcquireOrRenew) and candidates
// campaigning against a real API server.
import t from 'tap'
import type { V1Lease } from '@kubernetes/client-node'
import { setTimeout as sleep } from 'node:timers/promises'
import { RestClient } from '../../src/client/index.ts'
import { checkTimings, electionStep, LeaderElector, microTime, type Observation } from '../../src/client/leader-election.ts'
import { logger } from '../../src/util/log.ts'
import { startTestServer } from '../helpers/apiserver.ts'

const where = { namespace: 'kube-system', name: 'kube-scheduler' }

function lease(holder: string, renewMs: number, extra: Partial<NonNullable<V1Lease['spec']>> = {}): V1Lease {
  return {
    metadata: { ...where, resourceVersion: '7' },
    spec: { holderIdentity: holder, leaseDurationSeconds: 15, acquireTime: microTime(renewMs - 60_000) as unknown as Date, renewTime: microTime(renewMs) as unknown as Date, leaseTransitions: 3, ...extra },
  }
}

t.test('no Lease: create one held by this candidate', async (t) => {
  const { step } = electionStep(undefined, undefined, 'a', 1_000_000, 15, where)
  t.equal(step.kind, 'create')
  if (step.kind !== 'create') return
  t.same(step.lease.metadata, where)
  t.equal(step.lease.spec!.holderIdentity, 'a')
  t.equal(step.lease.spec!.leaseTransitions, 0)
  t.equal(String(step.lease.spec!.renewTime), '1970-01-01T00:16:40.000000Z', 'MicroTime: six decimals')
})

t.test("another holder's Lease expires by this candidate's clock, not by its renewTime", async (t) => {
  // The holder's clock runs an hour ahead: its renewTime says nothing here.
  const current = lease('b', 1_000_000 + 3_600_000)
  let r = electionStep(current, undefined, 'a', 1_000_000, 15, where)
  t.equal(r.step.kind, 'held', 'first seen now: held for the lease duration from now')
  t.equal(r.step.kind === 'held' && r.step.expiresInMs, 15_000)
  const seen = r.seen as Observation
  r = electionStep(current, seen, 'a', 1_014_999, 15, where)
  t.equal(r.step.kind, 'held', 'unchanged for less than 15 s')
  t.equal(r.seen, seen, 'the first sighting is kept')
  r = electionStep(current, seen, 'a', 1_015_001, 15, where)
  t.equal(r.step.kind, 'update', 'unchanged for 15 s: taken over')
  if (r.step.kind !== 'update') return
  t.equal(r.step.lease.spec!.holderIdentity, 'a')
  t.equal(r.step.lease.spec!.leaseTransitions, 4, 'a new holder counts a transition')
  t.equal(String(r.step.lease.spec!.acquireTime), microTime(1_015_001))
  t.equal(r.step.lease.metadata!.resourceVersion, '7', 'the update is conditional on what was read')
})

t.test('a renewal seen restarts the wait', async (t) => {
  const first = electionStep(lease('b', 0), undefined, 'a', 1_000_000, 15, where)
  const renewed = electionStep(lease('b', 2_000), first.seen, 'a', 1_014_000, 15, where)
  t.equal(renewed.seen!.atMs, 1_014_000)
  t.equal(electionStep(lease('b', 2_000), renewed.seen, 'a', 1_020_000, 15, where).step.kind, 'held')
})

t.test('the holder renews: acquireTime and transitions kept', async (t) => {
  const { step } = electionStep(lease('a', 1_000_000), undefined, 'a', 1_002_000, 15, where)
  t.equal(step.kind, 'update')
  if (step.kind !== 'update') return
  t.equal(String(step.lease.spec!.acquireTime), microTime(1_000_000 - 60_000))
  t.equal(String(step.lease.spec!.renewTime), microTime(1_002_000))
  t.equal(step.lease.spec!.leaseTransitions, 3)
})

t.test('a released Lease (no holder) is taken at once', async (t) => {
  const { step } = electionStep(lease('', 1_000_000, { leaseDurationSeconds: 1 }), undefined, 'a', 1_000_001, 15, where)
  t.equal(step.kind, 'update')
  t.equal(step.kind === 'update' && step.lease.spec!.leaseDurationSeconds, 15)
})

t.test("upstream's timing rules", async (t) => {
  t.throws(() => checkTimings({ leaseDurationMs: 10_000, renewDeadlineMs: 10_000, retryPeriodMs: 2000 }), /longer than the renew deadline/)
  t.throws(() => checkTimings({ leaseDurationMs: 15_000, renewDeadlineMs: 2_000, retryPeriodMs: 2000 }), /1.2 × the retry period/)
  t.doesNotThrow(() => checkTimings({ leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2000 }))
})

interface Timeline {
  events: { who: string; what: 'start' | 'stop'; at: number }[]
  leading: Set<string>
  overlap: boolean
}

function candidate(address: ConstructorParameters<typeof RestClient>[0], who: string, tl: Timeline) {
  const client = new RestClient(address)
  const elector = new LeaderElector({ client, name: 'test-lock', identity: who, log: logger('test'), leaseDurationMs: 1500, renewDeadlineMs: 1000, retryPeriodMs: 200 })
  elector.run({
    onStartedLeading: () => {
      if (tl.leading.size > 0) tl.overlap = true
      tl.leading.add(who)
      tl.events.push({ who, what: 'start', at: Date.now() })
    },
    onStoppedLeading: () => {
      tl.leading.delete(who)
      tl.events.push({ who, what: 'stop', at: Date.now() })
    },
  })
  return { client, elector }
}

async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms
  while (Date.now() < end) {
    if (cond()) return true
    await sleep(20)
  }
  return cond()
}

t.test('candidates on one API server: one leads; a stopped leader hands over at once, a dead one after the lease duration', async (t) => {
  const server = await startTestServer(t)
  const tl: Timeline = { events: [], leading: new Set(), overlap: false }
  const a = candidate(server.address, 'a', tl)
  const b = candidate(server.address, 'b', tl)
  const c = candidate(server.address, 'c', tl)
  t.teardown(async () => {
    for (const x of [a, b, c]) {
      await x.elector.stop()
      await x.client.destroy()
    }
  })
  t.ok(await until(() => tl.leading.size === 1, 5000), 'a leader')
  await sleep(1000)
  t.equal(tl.events.length, 1, 'and only one, which keeps leading while it renews')
  const first = [...tl.leading][0]!
  const electors = { a, b, c }
  const lease = await a.client.request<V1Lease>('GET', '/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/test-lock')
  t.equal(lease.spec?.holderIdentity, first, 'the Lease names it')

  // A clean stop releases the Lease: a standby takes over within a retry period or so.
  const stoppedAt = Date.now()
  await electors[first as 'a'].elector.stop()
  t.ok(await until(() => tl.leading.size === 1, 3000), 'another leads')
  const second = [...tl.leading][0]!
  t.not(second, first)
  t.ok(Date.now() - stoppedAt < 1000, `handed over in ${Date.now() - stoppedAt} ms, not a lease duration`)
  const released = await a.client.request<V1Lease>('GET', '/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/test-lock')
  t.equal(released.spec?.leaseTransitions, 1)

  // A leader that can no longer reach the API stops leading by its renew deadline; the last
  // candidate takes over only after the lease duration, so they never lead at once.
  const dead = electors[second as 'a']
  await dead.client.destroy()
  const cutAt = Date.now()
  t.ok(await until(() => tl.events.filter((e) => e.what === 'start').length === 3, 5000), 'the third candidate leads')
  const stop = tl.events.find((e) => e.who === second && e.what === 'stop')!
  const start = tl.events.filter((e) => e.what === 'start')[2]!
  t.ok(stop.at - cutAt <= 1500, `the cut-off leader stopped after ${stop.at - cutAt} ms (renew deadline 1 s)`)
  t.ok(start.at >= stop.at, 'the next leader started after it stopped')
  t.ok(start.at - cutAt >= 1200, `taken over after ${start.at - cutAt} ms: not before the lease could lapse`)
  t.notOk(tl.overlap, 'never two leaders at once')
})
