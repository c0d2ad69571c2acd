import t, { type Test } from 'tap'
import { createSchedule } from '../../load/schedule.ts'

const close = (t: Test, actual: number, expected: number, message: string) => t.ok(Math.abs(actual - expected) < 1e-9, `${message}: ${actual} ≈ ${expected}`)

/** Every request's time is ≥ the previous one's, dueBy counts it at its own time and not just before. */
function checkConsistent(t: Test, schedule: ReturnType<typeof createSchedule>) {
  let previous = -1
  let bad = 0
  for (let n = 0; n < schedule.total; n++) {
    const at = schedule.sendTimeMs(n)
    if (at < previous) bad++
    if (schedule.dueBy(at) < n + 1) bad++
    if (at - 1e-6 >= 0 && schedule.dueBy(at - 1e-6) > n) bad++
    previous = at
  }
  t.equal(bad, 0, 'send times are ordered and dueBy agrees with them')
}

t.test('constant rate: request n at n/rate, first at 0', async (t) => {
  const schedule = createSchedule([{ name: 'steady', durationMs: 1000, rate: 10 }])
  t.equal(schedule.total, 10)
  t.equal(schedule.durationMs, 1000)
  t.same(Array.from({ length: 10 }, (_, n) => schedule.sendTimeMs(n)), [0, 100, 200, 300, 400, 500, 600, 700, 800, 900])
  t.equal(schedule.dueBy(-1), 0)
  t.equal(schedule.dueBy(0), 1)
  t.equal(schedule.dueBy(99.999), 1)
  t.equal(schedule.dueBy(100), 2)
  t.equal(schedule.dueBy(950), 10)
  t.equal(schedule.dueBy(5000), 10)
  t.equal(schedule.rateAt(500), 10)
  t.equal(schedule.rateAt(1000), 0)
  t.throws(() => schedule.sendTimeMs(10), /outside the schedule/)
  checkConsistent(t, schedule)
})

t.test('rates that do not divide the duration', async (t) => {
  const schedule = createSchedule([{ name: 'a', durationMs: 1000, rate: 3 }])
  t.equal(schedule.total, 3)
  close(t, schedule.sendTimeMs(1), 1000 / 3, 'request 1')
  close(t, schedule.sendTimeMs(2), 2000 / 3, 'request 2')
  const fractional = createSchedule([{ name: 'a', durationMs: 1000, rate: 1.5 }, { name: 'b', durationMs: 1000, rate: 2 }])
  // 1.5 requests meant in phase a: requests 0 and 1 go in it, request 2 at N = 2 → 1000 + 0.5/2 s.
  t.equal(fractional.total, 4)
  close(t, fractional.sendTimeMs(1), 1000 / 1.5, 'request 1 in phase a')
  close(t, fractional.sendTimeMs(2), 1250, 'request 2 in phase b')
  close(t, fractional.sendTimeMs(3), 1750, 'request 3 in phase b')
  checkConsistent(t, fractional)
})

t.test('phases follow one another', async (t) => {
  const schedule = createSchedule([
    { name: 'slow', durationMs: 1000, rate: 10 },
    { name: 'fast', durationMs: 500, rate: 100 },
  ])
  t.equal(schedule.total, 60)
  t.equal(schedule.sendTimeMs(9), 900)
  t.equal(schedule.sendTimeMs(10), 1000)
  t.equal(schedule.sendTimeMs(11), 1010)
  t.equal(schedule.sendTimeMs(59), 1490)
  t.equal(schedule.dueBy(1000), 11)
  t.equal(schedule.durationMs, 1500)
  checkConsistent(t, schedule)
})

t.test('a pause (rate 0) sends nothing; the next request goes when the rate resumes', async (t) => {
  const schedule = createSchedule([
    { name: 'on', durationMs: 1000, rate: 10 },
    { name: 'off', durationMs: 1000, rate: 0 },
    { name: 'on again', durationMs: 1000, rate: 10 },
  ])
  t.equal(schedule.total, 20)
  t.equal(schedule.sendTimeMs(9), 900)
  t.equal(schedule.sendTimeMs(10), 2000)
  t.equal(schedule.dueBy(1000), 10, 'nothing is due when the pause starts')
  t.equal(schedule.dueBy(1999), 10)
  t.equal(schedule.dueBy(2000), 11)
  t.equal(schedule.rateAt(1500), 0)
  checkConsistent(t, schedule)
})

t.test('a linear ramp up from 0: N(t) = k t²', async (t) => {
  // 0 → 200/s over 1 s: N(s) = 100 s², 100 requests; request n at sqrt(n/100) s.
  const schedule = createSchedule([{ name: 'ramp', durationMs: 1000, rate: 0, rateTo: 200 }])
  t.equal(schedule.total, 100)
  t.equal(schedule.sendTimeMs(0), 0)
  close(t, schedule.sendTimeMs(1), 100, 'request 1')
  close(t, schedule.sendTimeMs(25), 500, 'request 25')
  close(t, schedule.sendTimeMs(64), 800, 'request 64')
  close(t, schedule.sendTimeMs(99), 1000 * Math.sqrt(0.99), 'request 99')
  t.equal(schedule.dueBy(0), 1, 'request 0 is due at the start although the rate is 0 there')
  t.equal(schedule.dueBy(500), 26)
  close(t, schedule.rateAt(500), 100, 'rate halfway')
  checkConsistent(t, schedule)
})

t.test('a linear ramp down to 0', async (t) => {
  // 200 → 0/s over 1 s: N(s) = 200 s − 100 s², 100 requests; request n at 1 − sqrt(1 − n/100) s.
  const schedule = createSchedule([{ name: 'down', durationMs: 1000, rate: 200, rateTo: 0 }])
  t.equal(schedule.total, 100)
  close(t, schedule.sendTimeMs(75), 500, 'request 75')
  close(t, schedule.sendTimeMs(99), 900, 'request 99')
  close(t, schedule.sendTimeMs(19), 1000 * (1 - Math.sqrt(0.81)), 'request 19')
  t.equal(schedule.dueBy(999.999), 100)
  checkConsistent(t, schedule)
})

t.test('a ramp between two rates, then a steady phase', async (t) => {
  // 100 → 300/s over 2 s: 400 requests; N(s) = 100 s + 50 s².
  const schedule = createSchedule([
    { name: 'ramp', durationMs: 2000, rate: 100, rateTo: 300 },
    { name: 'hold', durationMs: 1000, rate: 300 },
  ])
  t.equal(schedule.total, 700)
  close(t, schedule.sendTimeMs(150), 1000, 'request 150 at 1 s')
  close(t, schedule.sendTimeMs(400), 2000, 'request 400 starts the hold')
  close(t, schedule.sendTimeMs(430), 2100, 'request 430')
  close(t, schedule.rateAt(1000), 200, 'rate at 1 s')
  checkConsistent(t, schedule)
})

t.test('high rates stay exact over many requests', async (t) => {
  const schedule = createSchedule([{ name: 'fast', durationMs: 60_000, rate: 100_000 }])
  t.equal(schedule.total, 6_000_000)
  t.equal(schedule.dueBy(30_000), 3_000_001)
  t.equal(schedule.sendTimeMs(5_999_999), 59_999.99)
  let bad = 0
  for (let n = 0; n < 6_000_000; n += 997) if (schedule.dueBy(schedule.sendTimeMs(n)) !== n + 1) bad++
  t.equal(bad, 0)
})

t.test('an unbounded last phase', async (t) => {
  const schedule = createSchedule([{ name: 'forever', durationMs: Infinity, rate: 1000 }])
  t.equal(schedule.total, Infinity)
  t.equal(schedule.sendTimeMs(1_000_000), 1_000_000)
  t.equal(schedule.dueBy(10_000), 10_001)
})

t.test('bad phases are refused with the phase named', async (t) => {
  t.throws(() => createSchedule([]), /no phases/)
  t.throws(() => createSchedule([{ name: 'x', durationMs: 0, rate: 1 }]), /phase 1 \(x\): duration/)
  t.throws(() => createSchedule([{ name: 'x', durationMs: 1000 }]), /phase 1 \(x\): rate/)
  t.throws(() => createSchedule([{ name: 'x', durationMs: 1000, rate: -1 }]), /rate must be/)
  t.throws(() => createSchedule([{ name: 'x', durationMs: 1000, rate: NaN }]), /rate must be/)
  t.throws(() => createSchedule([{ name: 'x', durationMs: 1000, rate: 1, rateTo: Infinity }]), /rateTo must be/)
  t.throws(() => createSchedule([{ name: 'x', durationMs: Infinity, rate: 1 }, { name: 'y', durationMs: 1, rate: 1 }]), /only the last phase may be unbounded/)
  t.throws(() => createSchedule([{ name: 'x', durationMs: Infinity, rate: 1, rateTo: 2 }]), /ramp needs a bounded duration/)
})
