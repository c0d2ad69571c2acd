import t from 'tap'
import { parseSchedule } from '../../../src/api/cron/parse.ts'
import { nextActivation } from '../../../src/api/cron/next.ts'
import { instantOf, rfc3339In, wallTime } from '../../../src/api/cron/zone.ts'

const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString().replace('.000Z', 'Z'))
const next = (spec: string, after: string, zone = 'UTC') => iso(nextActivation(parseSchedule(spec), Date.parse(after), zone))

t.test('next activation in UTC', async (t) => {
  const cases: [string, string, string | undefined][] = [
    ['*/15 * * * *', '2026-12-07T10:07:30Z', '2026-12-07T10:15:00Z'],
    ['*/15 * * * *', '2026-12-07T10:45:00Z', '2026-12-07T11:00:00Z'],
    ['* * * * *', '2026-12-07T10:07:00Z', '2026-12-07T10:08:00Z'],
    ['0 9 * * mon-fri', '2026-12-04T09:00:00Z', '2026-12-07T09:00:00Z'],
    ['0 0 29 2 *', '2026-03-01T00:00:00Z', '2028-02-29T00:00:00Z'],
    ['0 0 29 feb *', '2028-02-29T00:00:00Z', '2032-02-29T00:00:00Z'],
    ['@hourly', '2026-12-07T10:00:00Z', '2026-12-07T11:00:00Z'],
    ['@daily', '2026-12-07T10:00:00Z', '2026-12-08T00:00:00Z'],
    ['@midnight', '2026-12-31T23:59:59Z', '2027-01-01T00:00:00Z'],
    ['@weekly', '2026-12-07T10:00:00Z', '2026-12-13T00:00:00Z'],
    ['@monthly', '2026-12-07T10:00:00Z', '2027-01-01T00:00:00Z'],
    ['@yearly', '2026-12-07T10:00:00Z', '2027-01-01T00:00:00Z'],
    ['@annually', '2027-01-01T00:00:00Z', '2028-01-01T00:00:00Z'],
    // Day of month and day of week both restricted: either matches (the 13th, or a Friday).
    ['0 0 13 * 5', '2026-12-07T00:00:00Z', '2026-12-11T00:00:00Z'],
    ['0 0 13 * 5', '2026-12-11T00:00:00Z', '2026-12-13T00:00:00Z'],
    // Day of month a star: only Fridays.
    ['0 0 * * 5', '2026-12-11T00:00:00Z', '2026-12-18T00:00:00Z'],
    ['0 12 * jan,jul sun', '2026-12-07T00:00:00Z', '2027-01-03T12:00:00Z'],
    ['30 23 31 * *', '2026-11-01T00:00:00Z', '2026-12-31T23:30:00Z'],
    ['@every 90s', '2026-12-07T10:00:00.700Z', '2026-12-07T10:01:30Z'],
    // Never: 30 February; and a field listing nothing.
    ['0 0 30 2 *', '2026-01-01T00:00:00Z', undefined],
    [', * * * *', '2026-01-01T00:00:00Z', undefined],
  ]
  for (const [spec, after, want] of cases) t.equal(next(spec, after), want, `${spec} after ${after}`)
})

t.test('time zones', async (t) => {
  t.equal(next('0 9 * * *', '2026-12-06T12:00:00Z', 'Asia/Tokyo'), '2026-12-07T00:00:00Z', '09:00 in Tokyo is midnight UTC')
  t.equal(next('30 5 * * *', '2026-12-06T12:00:00Z', 'Asia/Kolkata'), '2026-12-07T00:00:00Z', 'half-hour offsets')
  t.equal(next('TZ=Asia/Kolkata 30 5 * * *', '2026-12-06T12:00:00Z', 'America/New_York'), '2026-12-07T00:00:00Z', 'TZ= in the schedule wins')
  t.equal(next('0 0 * * *', '2026-12-07T12:00:00Z', 'America/Los_Angeles'), '2026-12-08T08:00:00Z')
  t.equal(next('0 0 1 1 *', '2026-12-31T12:00:00Z', 'Pacific/Kiritimati'), '2027-12-31T10:00:00Z', 'UTC+14: the new year came before noon UTC')
})

t.test('daylight saving time, as robfig/cron steps through it', async (t) => {
  // New York springs forward on 2026-03-08 at 02:00 EST → 03:00 EDT: 02:30 does not exist that day.
  t.equal(next('30 2 * * *', '2026-03-07T17:00:00Z', 'America/New_York'), '2026-03-09T06:30:00Z', 'skipped on the day the hour is missing')
  t.equal(next('30 3 * * *', '2026-03-07T17:00:00Z', 'America/New_York'), '2026-03-08T07:30:00Z', '03:30 EDT exists')
  t.equal(next('0 * * * *', '2026-03-08T06:30:00Z', 'America/New_York'), '2026-03-08T07:00:00Z', 'hourly: 01:00 EST → 03:00 EDT is one hour')
  // It falls back on 2026-11-01 at 02:00 EDT → 01:00 EST: 01:30 happens twice, and runs twice.
  t.equal(next('30 1 * * *', '2026-10-31T12:00:00Z', 'America/New_York'), '2026-11-01T05:30:00Z', '01:30 EDT')
  t.equal(next('30 1 * * *', '2026-11-01T05:30:00Z', 'America/New_York'), '2026-11-01T06:30:00Z', '01:30 EST, an hour later')
  t.equal(next('30 1 * * *', '2026-11-01T06:30:00Z', 'America/New_York'), '2026-11-02T06:30:00Z')
  t.equal(next('0 9 * * *', '2026-03-28T12:00:00Z', 'Europe/Berlin'), '2026-03-29T07:00:00Z', 'the first day of CEST: 09:00 is 07:00 UTC')
  t.equal(next('0 9 * * *', '2026-03-27T12:00:00Z', 'Europe/Berlin'), '2026-03-28T08:00:00Z', 'the last day of CET')
})

t.test('zone conversions', async (t) => {
  t.same(wallTime(Date.parse('2026-03-08T07:30:00Z'), 'America/New_York'), { year: 2026, month: 3, day: 8, hour: 3, minute: 30, second: 0, weekday: 0 })
  t.equal(iso(instantOf(2026, 3, 8, 2, 30, 0, 'America/New_York')), '2026-03-08T06:30:00Z', 'a wall time in the gap takes the offset after it, as Go\'s time.Date (01:30 EST)')
  t.equal(iso(instantOf(2026, 11, 1, 1, 30, 0, 'America/New_York')), '2026-11-01T05:30:00Z', 'a repeated wall time is the earlier one (01:30 EDT)')
  t.equal(iso(instantOf(2026, 13, 1, 0, 0, 0, 'UTC')), '2027-01-01T00:00:00Z', 'month 13 normalises')
  t.equal(rfc3339In(Date.parse('2026-12-07T00:00:00Z'), 'Asia/Tokyo'), '2026-12-07T09:00:00+09:00')
  t.equal(rfc3339In(Date.parse('2026-12-07T00:00:00Z'), 'America/St_Johns'), '2026-12-06T20:30:00-03:30')
  t.equal(rfc3339In(Date.parse('2026-12-07T00:00:00Z'), 'UTC'), '2026-12-07T00:00:00Z')
  t.equal(rfc3339In(Date.parse('2026-12-07T00:00:00Z'), 'Europe/London'), '2026-12-07T00:00:00Z', 'a zero offset prints Z, as Go')
})
