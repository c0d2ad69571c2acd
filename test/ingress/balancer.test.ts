import t from 'tap'
import { Balancer, endpointId, type BalancerOptions } from '../../ingress/balancer.ts'
import type { Endpoint } from '../../ingress/endpoints.ts'

const key = 'default/web:80'
const eps = (...addresses: string[]): Endpoint[] => addresses.map((address) => ({ address, port: 80 }))
const a = eps('10.0.0.1')[0]!
const b = eps('10.0.0.2')[0]!
const c = eps('10.0.0.3')[0]!

/** A balancer with a manual clock and a scripted random source (cycled). */
function rig(options: Partial<BalancerOptions> = {}, randoms: number[] = [0]) {
  const clock = { now: 1_000_000 }
  let r = 0
  const balancer = new Balancer({
    now: () => clock.now,
    random: () => randoms[r++ % randoms.length]!,
    ...options,
  })
  return { balancer, clock }
}

function picks(balancer: Balancer, n: number, policy: 'round_robin' | 'least_request' = 'round_robin', exclude?: ReadonlySet<string>): string[] {
  const out: string[] = []
  for (let i = 0; i < n; i++) {
    const ep = balancer.pick(key, policy, exclude)
    out.push(ep ? ep.address : '-')
  }
  return out
}

function failN(balancer: Balancer, ep: Endpoint, n: number): void {
  for (let i = 0; i < n; i++) balancer.failed(key, ep)
}

t.test('endpointId', async (t) => {
  const cases: [Endpoint, string][] = [
    [{ address: '10.0.0.1', port: 80 }, '10.0.0.1:80'],
    [{ address: 'fd00::1', port: 8080 }, '[fd00::1]:8080'],
    [{ address: '::ffff:10.0.0.1', port: 1 }, '[::ffff:10.0.0.1]:1'],
  ]
  for (const [ep, want] of cases) t.equal(endpointId(ep), want)
})

t.test('options are validated', async (t) => {
  t.throws(() => new Balancer({ ejectAfterFailures: 0 }), RangeError)
  t.throws(() => new Balancer({ ejectAfterFailures: 1.5 }), RangeError)
  t.throws(() => new Balancer({ ejectMs: -1 }), RangeError)
  t.doesNotThrow(() => new Balancer())
})

t.test('unknown or empty backend', async (t) => {
  const { balancer } = rig()
  t.equal(balancer.pick('nope', 'round_robin'), undefined)
  t.equal(balancer.pick('nope', 'least_request'), undefined)
  balancer.setEndpoints(key, eps('10.0.0.1'))
  balancer.setEndpoints(key, [])
  t.equal(balancer.pick(key, 'round_robin'), undefined)
  t.same(balancer.state(key), [])
  balancer.started(key, a)
  balancer.failed(key, a)
  balancer.finished(key, a)
  balancer.succeeded(key, a)
  t.pass('accounting for unknown endpoints is ignored')
})

t.test('round robin order and fairness', async (t) => {
  const { balancer } = rig()
  balancer.setEndpoints(key, eps('10.0.0.1', '10.0.0.2', '10.0.0.3'))
  t.same(picks(balancer, 7), ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.1'])

  const counts = new Map<string, number>()
  for (const addr of picks(balancer, 3000)) counts.set(addr, (counts.get(addr) ?? 0) + 1)
  t.same([...counts.values()], [1000, 1000, 1000], 'exactly even over whole rotations')
})

t.test('round robin starts at a random endpoint', async (t) => {
  const { balancer } = rig({}, [0.5])
  balancer.setEndpoints(key, eps('10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4'))
  t.same(picks(balancer, 4), ['10.0.0.3', '10.0.0.4', '10.0.0.1', '10.0.0.2'])
})

t.test('round robin is stable under setEndpoints', async (t) => {
  const { balancer } = rig()
  balancer.setEndpoints(key, eps('10.0.0.1', '10.0.0.2', '10.0.0.3'))
  t.same(picks(balancer, 2), ['10.0.0.1', '10.0.0.2'])
  balancer.setEndpoints(key, eps('10.0.0.1', '10.0.0.2', '10.0.0.3'))
  t.same(picks(balancer, 2), ['10.0.0.3', '10.0.0.1'], 'same set: rotation continues')
  balancer.setEndpoints(key, eps('10.0.0.3', '10.0.0.1', '10.0.0.2'))
  t.same(picks(balancer, 3), ['10.0.0.2', '10.0.0.3', '10.0.0.1'], 'same set reordered: continues at the endpoint due next')
  balancer.setEndpoints(key, eps('10.0.0.3', '10.0.0.1', '10.0.0.4'))
  t.same(picks(balancer, 3), ['10.0.0.3', '10.0.0.1', '10.0.0.4'], 'next endpoint removed: continues at the first kept one after it')
  balancer.setEndpoints(key, eps('10.0.0.1', '10.0.0.1', '10.0.0.5'))
  t.same(picks(balancer, 3), ['10.0.0.1', '10.0.0.5', '10.0.0.1'], 'duplicates collapse')
})

t.test('exclude skips endpoints already tried', async (t) => {
  for (const policy of ['round_robin', 'least_request'] as const) {
    const { balancer } = rig({}, [0, 0.5, 0.9, 0.3])
    balancer.setEndpoints(key, eps('10.0.0.1', '10.0.0.2', '10.0.0.3'))
    const tried = new Set(['10.0.0.1:80', '10.0.0.3:80'])
    t.same(picks(balancer, 4, policy, tried), ['10.0.0.2', '10.0.0.2', '10.0.0.2', '10.0.0.2'], policy)
    t.equal(balancer.pick(key, policy, new Set(['10.0.0.1:80', '10.0.0.2:80', '10.0.0.3:80'])), undefined, `${policy}: all tried`)
  }
  const { balancer } = rig()
  balancer.setEndpoints(key, eps('10.0.0.1', '10.0.0.2', '10.0.0.3'))
  t.same(picks(balancer, 4, 'round_robin', new Set(['10.0.0.2:80'])), ['10.0.0.1', '10.0.0.3', '10.0.0.1', '10.0.0.3'])
})

t.test('least_request: power of two choices prefers the idle one', async (t) => {
  // random 0 then 0 → choices index 0 and 1 (the second draw skips the first's index).
  const { balancer } = rig({}, [0])
  balancer.setEndpoints(key, eps('10.0.0.1', '10.0.0.2', '10.0.0.3'))
  t.same(picks(balancer, 1, 'least_request'), ['10.0.0.1'], 'tie: first choice')
  balancer.started(key, a)
  t.same(picks(balancer, 1, 'least_request'), ['10.0.0.2'], 'busier first choice loses')
  balancer.finished(key, a)
  t.same(picks(balancer, 1, 'least_request'), ['10.0.0.1'], 'finished frees it')
  balancer.finished(key, a)
  t.equal(balancer.state(key)[0]!.inFlight, 0, 'never negative')
})

t.test('least_request: draws two distinct endpoints', async (t) => {
  // 0.99 → last index (2); second draw 0.99 over 2 → 1 (<2, kept): c vs b.
  const { balancer } = rig({}, [0.99])
  balancer.setEndpoints(key, eps('10.0.0.1', '10.0.0.2', '10.0.0.3'))
  balancer.started(key, c)
  t.same(picks(balancer, 1, 'least_request'), ['10.0.0.2'])
  // 0.5 → 1, then 0.5 over 2 → 1 ≥ 1 → 2: b vs c.
  const r2 = rig({}, [0.5])
  r2.balancer.setEndpoints(key, eps('10.0.0.1', '10.0.0.2', '10.0.0.3'))
  r2.balancer.started(key, b)
  t.same(picks(r2.balancer, 1, 'least_request'), ['10.0.0.3'])
})

t.test('least_request spreads load towards idle endpoints', async (t) => {
  const balancer = new Balancer({ random: mulberry32(42) })
  balancer.setEndpoints(key, eps('10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4'))
  // One endpoint is stuck with 50 requests; new requests each hold for a while.
  for (let i = 0; i < 50; i++) balancer.started(key, a)
  const open: Endpoint[] = []
  const counts = new Map<string, number>()
  for (let i = 0; i < 4000; i++) {
    const ep = balancer.pick(key, 'least_request')!
    counts.set(ep.address, (counts.get(ep.address) ?? 0) + 1)
    balancer.started(key, ep)
    open.push(ep)
    if (open.length > 6) balancer.finished(key, open.shift()!)
  }
  t.equal(counts.get('10.0.0.1') ?? 0, 0, 'the loaded endpoint gets nothing while others are idle')
  for (const addr of ['10.0.0.2', '10.0.0.3', '10.0.0.4']) t.ok((counts.get(addr) ?? 0) > 1000, `${addr} gets its share (${counts.get(addr)})`)
})

t.test('ejection after consecutive failures, recovery after ejectMs', async (t) => {
  const { balancer, clock } = rig({ ejectAfterFailures: 3, ejectMs: 10_000 })
  balancer.setEndpoints(key, eps('10.0.0.1', '10.0.0.2'))
  failN(balancer, a, 2)
  balancer.succeeded(key, a)
  failN(balancer, a, 2)
  t.same(balancer.state(key)[0], { endpoint: '10.0.0.1:80', inFlight: 0, failures: 2 }, 'a success resets the count')
  t.same(picks(balancer, 2), ['10.0.0.1', '10.0.0.2'], 'not ejected yet')
  balancer.failed(key, a)
  t.same(balancer.state(key)[0], { endpoint: '10.0.0.1:80', inFlight: 0, failures: 0, ejectedUntil: clock.now + 10_000 })
  t.same(picks(balancer, 4), ['10.0.0.2', '10.0.0.2', '10.0.0.2', '10.0.0.2'], 'ejected endpoint skipped')
  t.same(picks(balancer, 3, 'least_request'), ['10.0.0.2', '10.0.0.2', '10.0.0.2'])
  failN(balancer, a, 10)
  t.equal(balancer.state(key)[0]!.ejectedUntil, clock.now + 10_000, 'late failures while ejected do not extend it')
  clock.now += 9_999
  t.same(picks(balancer, 1), ['10.0.0.2'])
  clock.now += 1
  t.same(picks(balancer, 2), ['10.0.0.1', '10.0.0.2'], 'back after ejectMs')
  t.same(balancer.state(key)[0], { endpoint: '10.0.0.1:80', inFlight: 0, failures: 0 })
})

t.test('repeat ejections double, at most 8x, and the multiplier decays', async (t) => {
  const { balancer, clock } = rig({ ejectAfterFailures: 2, ejectMs: 1_000 })
  balancer.setEndpoints(key, eps('10.0.0.1', '10.0.0.2'))
  const durations: number[] = []
  for (let i = 0; i < 6; i++) {
    failN(balancer, a, 2)
    const until = balancer.state(key)[0]!.ejectedUntil!
    durations.push(until - clock.now)
    clock.now = until
  }
  t.same(durations, [1_000, 2_000, 4_000, 8_000, 8_000, 8_000])

  // Four ejections' worth of decay needs 4 × ejectMs un-ejected; with 3 × it is back to 2×.
  const fresh = rig({ ejectAfterFailures: 1, ejectMs: 1_000 })
  fresh.balancer.setEndpoints(key, eps('10.0.0.1', '10.0.0.2'))
  for (let i = 0; i < 4; i++) {
    fresh.balancer.failed(key, a)
    fresh.clock.now = fresh.balancer.state(key)[0]!.ejectedUntil!
  }
  fresh.clock.now += 2_500
  fresh.balancer.failed(key, a)
  t.equal(fresh.balancer.state(key)[0]!.ejectedUntil! - fresh.clock.now, 4_000, '4 ejections − 2 decayed + 1 = 3rd level')
  fresh.clock.now += 4_000 + 100_000
  fresh.balancer.failed(key, a)
  t.equal(fresh.balancer.state(key)[0]!.ejectedUntil! - fresh.clock.now, 1_000, 'long healthy spell: back to 1×')
})

t.test('panic mode: all ejected, picks among them anyway', async (t) => {
  for (const policy of ['round_robin', 'least_request'] as const) {
    const { balancer, clock } = rig({ ejectAfterFailures: 1 }, [0, 0.6, 0.3, 0.9, 0.1])
    balancer.setEndpoints(key, eps('10.0.0.1', '10.0.0.2', '10.0.0.3'))
    balancer.failed(key, a)
    balancer.failed(key, b)
    t.same(new Set(picks(balancer, 6, policy)), new Set(['10.0.0.3']), `${policy}: the healthy one only`)
    balancer.failed(key, c)
    t.same(new Set(picks(balancer, 30, policy)), new Set(['10.0.0.1', '10.0.0.2', '10.0.0.3']), `${policy}: all ejected → all used`)
    t.same(
      new Set(picks(balancer, 10, policy, new Set(['10.0.0.1:80']))),
      new Set(['10.0.0.2', '10.0.0.3']),
      `${policy}: exclude still applies in panic`,
    )
    clock.now += 10_000
    t.ok(balancer.state(key).every((s) => s.ejectedUntil === undefined), `${policy}: default ejectMs is 10 s`)
  }
})

t.test('setEndpoints keeps state of kept endpoints and drops the rest', async (t) => {
  const { balancer, clock } = rig({ ejectAfterFailures: 2 })
  balancer.setEndpoints(key, eps('10.0.0.1', '10.0.0.2', '10.0.0.3'))
  balancer.started(key, a)
  balancer.started(key, a)
  balancer.failed(key, b)
  failN(balancer, c, 2)
  balancer.setEndpoints(key, [c, a, { address: '10.0.0.4', port: 80 }])
  t.same(balancer.state(key), [
    { endpoint: '10.0.0.3:80', inFlight: 0, failures: 0, ejectedUntil: clock.now + 10_000 },
    { endpoint: '10.0.0.1:80', inFlight: 2, failures: 0 },
    { endpoint: '10.0.0.4:80', inFlight: 0, failures: 0 },
  ])
  balancer.finished(key, b)
  balancer.setEndpoints(key, eps('10.0.0.1', '10.0.0.2'))
  t.same(balancer.state(key)[1], { endpoint: '10.0.0.2:80', inFlight: 0, failures: 0 }, 'a dropped endpoint that returns starts fresh')
  t.same(balancer.state('other/svc:80'), [], 'keys are independent')
})

t.test('backends are independent', async (t) => {
  const { balancer } = rig({ ejectAfterFailures: 1 })
  balancer.setEndpoints('ns/one:80', eps('10.0.0.1', '10.0.0.2'))
  balancer.setEndpoints('ns/two:80', eps('10.0.0.1', '10.0.0.2'))
  balancer.failed('ns/one:80', a)
  t.equal(balancer.pick('ns/one:80', 'round_robin')?.address, '10.0.0.2')
  t.equal(balancer.pick('ns/two:80', 'round_robin')?.address, '10.0.0.1')
})

function mulberry32(seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (s + 0x6d2b79f5) >>> 0
    let x = s
    x = Math.imul(x ^ (x >>> 15), x | 1)
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61)
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}
