import t from 'tap'
import { formatGoDuration, parseGoDuration, parseGoDurationNs } from '../../src/util/go-duration.ts'

t.test('Go durations parse and print as Go does', async (t) => {
  const cases: [string, number][] = [['0', 0], ['0s', 0], ['1ns', 1], ['1.5µs', 1500], ['1.5us', 1500], ['2ms', 2e6], ['1.5s', 1.5e9], ['90m', 5400e9], ['1h2m3.5s', 3723.5e9], ['-1m', -60e9], ['+2s', 2e9], ['.5s', 0.5e9]]
  for (const [text, ns] of cases) t.equal(parseGoDurationNs(text), ns, text)
  for (const bad of ['', '1', '1x', 's', '1h-2m', '--1s', '1e3s']) t.equal(parseGoDurationNs(bad), undefined, `"${bad}" is refused`)
  t.equal(parseGoDurationNs('9999999999h'), undefined, 'beyond 2^53 ns')
  const printed: [number, string][] = [[0, '0s'], [1, '1ns'], [1500, '1.5µs'], [2e6, '2ms'], [1.5e9, '1.5s'], [60e9, '1m0s'], [3723.5e9, '1h2m3.5s'], [-60e9, '-1m0s'], [3600e9, '1h0m0s']]
  for (const [ns, text] of printed) t.equal(formatGoDuration(ns), text, `${ns} ns`)
})

t.test('milliseconds for flags', async (t) => {
  t.equal(parseGoDuration('1.5s'), 1500)
  t.equal(parseGoDuration('250us'), 0.25)
  t.equal(parseGoDuration('nope'), undefined)
})
