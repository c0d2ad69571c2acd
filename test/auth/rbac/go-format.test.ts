import t from 'tap'
import { aggregateMessage, goQuote, goQuoteList, goStringCompare } from '../../../src/auth/rbac/go-format.ts'

t.test('goQuote is strconv.Quote', async (t) => {
  const cases: [string, string][] = [
    ['alice', '"alice"'],
    ['', '""'],
    ['a"b\\c', '"a\\"b\\\\c"'],
    ['\n\t\r\x07\b\f\v', '"\\n\\t\\r\\a\\b\\f\\v"'],
    ['\x00\x1f\x7f', '"\\x00\\x1f\\x7f"'],
    ['é中🙂', '"é中🙂"'],
    ['\u00a0\u2028\u0085', '"\\u00a0\\u2028\\u0085"'],
    ['\u{e0001}', '"\\U000e0001"'],
    ['\ud800x', '"\ufffdx"'],
  ]
  cases.forEach(([input, want], i) => t.equal(goQuote(input), want, `case ${i}`))
})

t.test('goQuoteList is %q of a []string', async (t) => {
  t.equal(goQuoteList([]), '[]')
  t.equal(goQuoteList(['system:serviceaccounts', 'system:authenticated']), '["system:serviceaccounts" "system:authenticated"]')
})

t.test('aggregateMessage is utilerrors.NewAggregate(...).Error()', async (t) => {
  t.equal(aggregateMessage([]), '')
  t.equal(aggregateMessage(['a']), 'a')
  t.equal(aggregateMessage(['a', 'a']), 'a')
  t.equal(aggregateMessage(['a', 'b', 'a']), '[a, b]')
})

t.test('goStringCompare orders by UTF-8 bytes', async (t) => {
  t.ok(goStringCompare('\uffff', '\u{10000}') < 0, 'U+FFFF sorts before U+10000 in UTF-8, after it in UTF-16')
  t.ok('\uffff' > '\u{10000}')
  t.equal(goStringCompare('a', 'a'), 0)
  t.ok(goStringCompare('B', 'a') < 0)
})
