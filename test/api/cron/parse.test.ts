import t from 'tap'
import { parseSchedule, scheduleError } from '../../../src/api/cron/parse.ts'

t.test('valid schedules parse', async (t) => {
  for (const spec of ['* * * * *', '*/15 * * * *', '0 9 * * mon-fri', '0 0 29 2 *', '5,10-20/5 1-3 1,15 JAN-jun ?', '0 12 * jan,jul sun', '@yearly', '@annually', '@monthly', '@weekly', '@daily', '@midnight', '@hourly', '@every 1h30m', '@every 90s', '  0   *  * * *  ', 'TZ=Asia/Tokyo 0 9 * * *', 'CRON_TZ=UTC @daily', '0 0 31 2 *', '+5 * * * *']) {
    t.equal(scheduleError(spec), undefined, spec)
  }
})

t.test('invalid schedules fail with robfig/cron ParseStandard\'s messages', async (t) => {
  const cases: [string, string][] = [
    ['', 'empty spec string'],
    ['* * * *', 'expected exactly 5 fields, found 4: [* * * *]'],
    ['* * * * * *', 'expected exactly 5 fields, found 6: [* * * * * *]'],
    ['   ', 'expected exactly 5 fields, found 0: []'],
    ['60 * * * *', 'end of range (60) above maximum (59): 60'],
    ['* 24 * * *', 'end of range (24) above maximum (23): 24'],
    ['* * 0 * *', 'beginning of range (0) below minimum (1): 0'],
    ['* * * 13 *', 'end of range (13) above maximum (12): 13'],
    ['* * * * 7', 'end of range (7) above maximum (6): 7'],
    ['5-1 * * * *', 'beginning of range (5) beyond end of range (1): 5-1'],
    ['*/0 * * * *', 'step of range should be a positive number: */0'],
    ['x * * * *', 'failed to parse int from x: strconv.Atoi: parsing "x": invalid syntax'],
    ['-1 * * * *', 'failed to parse int from : strconv.Atoi: parsing "": invalid syntax'],
    ['99999999999999999999 * * * *', 'failed to parse int from 99999999999999999999: strconv.Atoi: parsing "99999999999999999999": value out of range'],
    ['1-2-3 * * * *', 'too many hyphens: 1-2-3'],
    ['1/2/3 * * * *', 'too many slashes: 1/2/3'],
    ['* * * JANUARY *', 'failed to parse int from JANUARY: strconv.Atoi: parsing "JANUARY": invalid syntax'],
    ['* * * * sunday', 'failed to parse int from sunday: strconv.Atoi: parsing "sunday": invalid syntax'],
    ['@fortnightly', 'unrecognized descriptor: @fortnightly'],
    ['@hourly ', 'unrecognized descriptor: @hourly '],
    ['@every 1d', 'failed to parse duration @every 1d: time: unknown unit "d" in duration "1d"'],
    ['@every 10', 'failed to parse duration @every 10: time: missing unit in duration "10"'],
    ['@every soon', 'failed to parse duration @every soon: time: invalid duration "soon"'],
    ['TZ=Nowhere/City 0 * * * *', 'provided bad location Nowhere/City: unknown time zone Nowhere/City'],
    ['TZ=europe/berlin 0 * * * *', 'provided bad location europe/berlin: unknown time zone europe/berlin'],
  ]
  for (const [spec, message] of cases) t.equal(scheduleError(spec), message, JSON.stringify(spec))
})

t.test('fields: ranges, steps, lists, names and the star', async (t) => {
  const s = parseSchedule('5,10-20/5 1-3 1,15 JAN-mar ?')
  if (s.kind !== 'spec') throw new Error('expected a spec schedule')
  const on = (f: { values: boolean[] }) => f.values.flatMap((v, i) => (v ? [i] : []))
  t.same(on(s.minute), [5, 10, 15, 20])
  t.same(on(s.hour), [1, 2, 3])
  t.same(on(s.dom), [1, 15])
  t.same(on(s.month), [1, 2, 3])
  t.same(on(s.dow), [0, 1, 2, 3, 4, 5, 6])
  t.ok(s.dow.star, '? is a star')
  t.notOk(s.dom.star)
  const stepped = parseSchedule('*/15 5/20 */1 * *')
  if (stepped.kind !== 'spec') throw new Error('expected a spec schedule')
  t.same(on(stepped.minute), [0, 15, 30, 45])
  t.notOk(stepped.minute.star, 'a step above one is not a star')
  t.same(on(stepped.hour), [5], '"N/step" runs from N to the maximum')
  t.ok(stepped.dom.star, '*/1 stays a star')
  t.same(parseSchedule('@every 1500ms'), { kind: 'every', delayMs: 1000 }, 'whole seconds')
  t.same(parseSchedule('@every 100ms'), { kind: 'every', delayMs: 1000 }, 'at least a second')
  t.same(parseSchedule('@every 1h30m'), { kind: 'every', delayMs: 5_400_000 })
  t.match(parseSchedule('TZ=Asia/Tokyo @daily'), { kind: 'spec', zone: 'Asia/Tokyo' })
})
