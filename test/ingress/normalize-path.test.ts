import t from 'tap'
import { normalizeTarget } from '../../ingress/normalize-path.ts'
import { Rng } from '../helpers/fuzz.ts'

t.test('RFC 3986 §6.2.2: unreserved escapes decoded, other escapes upper-cased, dot segments removed', async (t) => {
  const cases: [string, string | undefined][] = [
    ['/', '/'],
    ['/admin', '/admin'],
    ['/%61dmin', '/admin'],
    ['/%41%5a%30%2D%2e%5F%7e', '/AZ0-._~'],
    ['/x/../admin', '/admin'],
    ['/x/./admin', '/x/admin'],
    ['/./admin', '/admin'],
    ['/../admin', '/admin'],
    ['/../../../admin', '/admin'],
    ['/a/b/c/./../../g', '/a/g'],
    ['/mid/content=5/../6', '/mid/6'],
    ['/a/..', '/'],
    ['/a/.', '/a/'],
    ['/a/b/..', '/a/'],
    ['/..', '/'],
    ['/.', '/'],
    ['/a//../b', '/a/b'],
    ['/%2e%2e/admin', '/admin'],
    ['/x/%2E%2E/admin', '/admin'],
    ['/x/.%2e/admin', '/admin'],
    ['/x/%2e./admin', '/admin'],
    ['/a%2Fb', '/a%2Fb'],
    ['/a%2fb', '/a%2Fb'],
    ['/a%2f..%2fadmin', '/a%2F..%2Fadmin'],
    ['/a/%2F../b', '/a/%2F../b'],
    ['/caf%c3%a9', '/caf%C3%A9'],
    ['/%20x', '/%20x'],
    ['/%00', '/%00'],
    ['/x/../admin?next=/x/../y&q=%zz', '/admin?next=/x/../y&q=%zz'],
    ['/?a=..', '/?a=..'],
    ['/.../a', '/.../a'],
    ['/..a/.b/a./a..', '/..a/.b/a./a..'],
    ['//admin', '//admin'],
    ['/a/./', '/a/'],
    ['/a/../', '/'],
    ['%', '%'],
    ['*', '*'],
    ['http://h/x/../y', 'http://h/x/../y'],
    ['', ''],
    ['/%', undefined],
    ['/%4', undefined],
    ['/%zz', undefined],
    ['/%g1', undefined],
    ['/a%2', undefined],
    ['/ok/%%41', undefined],
  ]
  for (const [input, want] of cases) t.equal(normalizeTarget(input), want, JSON.stringify(input))
})

t.test('nothing to do: the very same string comes back', async (t) => {
  for (const s of ['/', '/a/b/c?x=1', '/a.b/c..d', '/a/b/', '/x?../', '/%41'.replace('%41', 'A')]) t.equal(normalizeTarget(s), s)
  const slowButSame = '/a%2Fb'
  t.equal(normalizeTarget(slowButSame), slowButSame)
})

t.test('idempotent, and never leaves a dot segment or a decodable escape (seeded random paths)', async (t) => {
  const rng = new Rng(7)
  const pieces = ['a', 'b', '.', '..', '%2e', '%2E', '%2f', '%41', '%7e', '%7E', '%c3', '/', '/', '//', '?', 'x=1', '%', '%4']
  let checked = 0
  for (let i = 0; i < 5000; i++) {
    let s = '/'
    for (let j = rng.int(8); j >= 0; j--) s += rng.pick(pieces)
    const once = normalizeTarget(s)
    if (once === undefined) {
      t.match(s.split('?')[0], /%(?![0-9a-fA-F]{2})/, `only malformed escapes are refused: ${s}`)
      continue
    }
    checked++
    if (normalizeTarget(once) !== once) t.fail(`not idempotent: ${s} → ${once} → ${normalizeTarget(once)}`)
    const path = once.split('?')[0]!
    if (path.split('/').some((e) => e === '.' || e === '..')) t.fail(`dot segment left: ${s} → ${once}`)
    if (/%(2[dDeE]|5[fF]|7[eE]|[46][1-9a-fA-F]|[57][0-9aA]|3[0-9])/.test(path)) t.fail(`decodable escape left: ${s} → ${once}`)
    if (/%[0-9A-F]?[a-f]/.test(path)) t.fail(`lower-case hex left: ${s} → ${once}`)
  }
  t.ok(checked > 1000)
})
