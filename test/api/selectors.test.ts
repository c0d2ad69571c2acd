import t from 'tap'
import {
  everything,
  isEverything,
  labelSelectorFromObject,
  matchesLabels,
  nothing,
  parseLabelSelector,
  requiresExactMatch,
  selectorFromSet,
  selectorToString,
} from '../../src/api/selectors.ts'
import { ApiError } from '../../src/util/errors.ts'

function parseError(text: string): ApiError {
  try {
    parseLabelSelector(text)
  } catch (err) {
    if (err instanceof ApiError) return err
    throw err
  }
  throw new Error(`expected ${JSON.stringify(text)} to fail`)
}

t.test('parses the string syntax into sorted requirements', async (t) => {
  const cases: [string, string][] = [
    ['', ''],
    ['a=b', 'a=b'],
    ['a==b', 'a==b'],
    ['a!=b', 'a!=b'],
    ['x in (foo,,baz),y,z notin ()', 'x in (,baz,foo),y,z notin ()'],
    ['  tier  in ( web , db )  ,  !canary ', '!canary,tier in (db,web)'],
    ['env notin (prod)', 'env notin (prod)'],
    ['b,a', 'a,b'],
    ['a in (in,notin)', 'a in (in,notin)'],
    ['a=', 'a='],
    ['example.com/app=web', 'example.com/app=web'],
    ['n>5,m<10', 'm<10,n>5'],
  ]
  for (const [input, canonical] of cases) {
    t.equal(selectorToString(parseLabelSelector(input)), canonical, JSON.stringify(input))
  }
  t.same(parseLabelSelector('a in (y,x,x)').requirements, [{ key: 'a', operator: 'In', values: ['x', 'y'] }])
  t.ok(isEverything(parseLabelSelector('')))
})

t.test('matches labels', async (t) => {
  const labels = { app: 'web', tier: 'frontend', replicas: '3' }
  const cases: [string, Record<string, string> | undefined, boolean][] = [
    ['', labels, true],
    ['', undefined, true],
    ['app=web', labels, true],
    ['app==web', labels, true],
    ['app=db', labels, false],
    ['app!=db', labels, true],
    ['missing!=x', labels, true],
    ['app in (db,web)', labels, true],
    ['app in (db)', labels, false],
    ['missing in (x)', labels, false],
    ['app notin (db)', labels, true],
    ['app notin (web)', labels, false],
    ['missing notin (x)', labels, true],
    ['app', labels, true],
    ['missing', labels, false],
    ['!missing', labels, true],
    ['!app', labels, false],
    ['app=web,tier=frontend', labels, true],
    ['app=web,tier=backend', labels, false],
    ['replicas>2', labels, true],
    ['replicas>3', labels, false],
    ['replicas<4', labels, true],
    ['app>1', labels, false],
    ['app=web', undefined, false],
    ['!app', undefined, true],
    ['empty=', { empty: '' }, true],
    ['empty=', {}, false],
  ]
  for (const [text, set, want] of cases) {
    t.equal(matchesLabels(parseLabelSelector(text), set), want, `${JSON.stringify(text)} on ${JSON.stringify(set)}`)
  }
})

t.test('rejects bad syntax with upstream messages', async (t) => {
  const cases: [string, string][] = [
    ['a=b=c', "found '=', expected: ',' or 'end of string'"],
    ['a=b c', "found 'c', expected: ',' or 'end of string'"],
    ['=a', "found '=', expected: !, identifier, or 'end of string'"],
    ['a,', "found '', expected: identifier after ','"],
    ['a in x', "unable to parse requirement: found 'x' expected: '('"],
    ['a in (b', "unable to parse requirement: found '', expected: ',' or ')'"],
    ['a in (b c)', "unable to parse requirement: found 'c', expected: ',' or ')'"],
    ['!=a', "found '!=', expected: !, identifier, or 'end of string'"],
    ['! =a', "unable to parse requirement: found '=', expected: identifier"],
    ['a (b)', "unable to parse requirement: found '(', expected: in, notin, =, ==, !=, gt, lt"],
  ]
  for (const [text, message] of cases) {
    const err = parseError(text)
    t.equal(err.code, 400, `${text}: 400`)
    t.equal(err.reason, 'BadRequest')
    t.equal(err.message, message, text)
  }
})

t.test('rejects invalid keys and values', async (t) => {
  const badKey = parseError('a/b/c=d')
  t.match(badKey.message, /^unable to parse requirement: <nil>: Invalid value: "a\/b\/c": a qualified name must consist of/)
  t.match(parseError('-a=b').message, /^unable to parse requirement: <nil>: Invalid value: "-a": name part must consist of/)
  t.match(parseError(`${'k'.repeat(64)}=v`).message, /name part must be no more than 63 characters/)
  t.match(parseError('Bad_Prefix/a=b').message, /prefix part a lowercase RFC 1123 subdomain/)
  t.match(
    parseError('a=-bad-').message,
    /^unable to parse requirement: values\[0\]\[a\]: Invalid value: "-bad-": a valid label must be an empty string or consist of/,
  )
  t.equal(
    parseError('n>x').message,
    `unable to parse requirement: values[0]: Invalid value: "x": for 'Gt', 'Lt' operators, the value must be an integer`,
  )
})

t.test('object form: matchLabels and matchExpressions', async (t) => {
  const sel = labelSelectorFromObject({
    matchLabels: { app: 'web' },
    matchExpressions: [
      { key: 'tier', operator: 'In', values: ['frontend', 'edge'] },
      { key: 'canary', operator: 'DoesNotExist' },
      { key: 'zone', operator: 'Exists' },
      { key: 'env', operator: 'NotIn', values: ['prod'] },
    ],
  })
  t.equal(selectorToString(sel), 'app=web,!canary,env notin (prod),tier in (edge,frontend),zone')
  t.ok(matchesLabels(sel, { app: 'web', tier: 'edge', zone: 'a', env: 'dev' }))
  t.notOk(matchesLabels(sel, { app: 'web', tier: 'edge', zone: 'a', canary: 'true' }))
  t.notOk(matchesLabels(sel, { app: 'web', tier: 'edge' }), 'zone must exist')
  t.notOk(matchesLabels(sel, { app: 'web', tier: 'edge', zone: 'a', env: 'prod' }))
  t.equal(requiresExactMatch(sel, 'app'), 'web')
  t.equal(requiresExactMatch(sel, 'tier'), undefined)
})

t.test('object form: empty selects everything, nil selects nothing', async (t) => {
  t.ok(matchesLabels(labelSelectorFromObject({}), { any: 'thing' }))
  t.ok(matchesLabels(labelSelectorFromObject({ matchLabels: {}, matchExpressions: [] }), undefined))
  t.notOk(matchesLabels(labelSelectorFromObject(undefined), {}))
  t.notOk(matchesLabels(labelSelectorFromObject(null), { a: 'b' }))
  t.notOk(matchesLabels(nothing(), {}))
  t.ok(matchesLabels(everything(), undefined))
  t.equal(selectorToString(nothing()), '')
})

t.test('object form: errors', async (t) => {
  t.throws(() => labelSelectorFromObject({ matchExpressions: [{ key: 'a', operator: 'Gt', values: ['1'] }] }), {
    message: '"Gt" is not a valid label selector operator',
    code: 400,
  })
  t.throws(() => labelSelectorFromObject({ matchExpressions: [{ key: 'a', operator: 'In', values: [] }] }), {
    message: `values: Invalid value: []string{}: for 'in', 'notin' operators, values set can't be empty`,
  })
  t.throws(() => labelSelectorFromObject({ matchExpressions: [{ key: 'a', operator: 'Exists', values: ['x'] }] }), {
    message: /values set must be empty for exists and does not exist/,
  })
  t.throws(() => labelSelectorFromObject({ matchLabels: { 'a/b/c': 'x' } }), { message: /^key: Invalid value: "a\/b\/c"/ })
})

t.test('selectorFromSet', async (t) => {
  const sel = selectorFromSet({ b: '2', a: '1' })
  t.equal(selectorToString(sel), 'a=1,b=2')
  t.ok(matchesLabels(sel, { a: '1', b: '2', c: '3' }))
  t.notOk(matchesLabels(sel, { a: '1' }))
  t.ok(isEverything(selectorFromSet(undefined)))
})
