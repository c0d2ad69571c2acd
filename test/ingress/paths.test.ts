import t from 'tap'
import { PathIndex, pathElements, pathMatches, requestPath, type PathType } from '../../ingress/paths.ts'

// The examples table of the Kubernetes Ingress concept page, plus trailing-slash and escape cases.
const single: [PathType, string, string, boolean][] = [
  ['Prefix', '/', '/', true],
  ['Prefix', '/', '/anything/at/all', true],
  ['Exact', '/foo', '/foo', true],
  ['Exact', '/foo', '/bar', false],
  ['Exact', '/foo', '/foo/', false],
  ['Exact', '/foo/', '/foo', false],
  ['Exact', '/foo/', '/foo/', true],
  ['Prefix', '/foo', '/foo', true],
  ['Prefix', '/foo', '/foo/', true],
  ['Prefix', '/foo', '/foo/bar', true],
  ['Prefix', '/foo', '/foobar', false],
  ['Prefix', '/foo/', '/foo', true],
  ['Prefix', '/foo/', '/foo/', true],
  ['Prefix', '/foo/', '/foo/bar', true],
  ['Prefix', '/aaa/bb', '/aaa/bbb', false],
  ['Prefix', '/aaa/bbb', '/aaa/bbb', true],
  ['Prefix', '/aaa/bbb/', '/aaa/bbb', true],
  ['Prefix', '/aaa/bbb', '/aaa/bbb/', true],
  ['Prefix', '/aaa/bbb', '/aaa/bbb/ccc', true],
  ['Prefix', '/aaa/bbb/', '/aaa/bbb/ccc', true],
  ['Prefix', '/aaa/bbb', '/aaa/bbbxyz', false],
  ['Prefix', '/aaa', '/ccc', false],
  ['Prefix', '/foo', '/FOO', false],
  ['Exact', '/foo', '/FOO', false],
  ['Prefix', '/foo', '/foo%2Fbar', false],
  ['Prefix', '/foo%2Fbar', '/foo%2Fbar/x', true],
  ['Prefix', '/a.b', '/a.b/c', true],
  ['Prefix', '/a.b', '/axb', false],
  ['ImplementationSpecific', '/foo', '/foo/bar', true],
  ['ImplementationSpecific', '/foo', '/foobar', false],
  ['Prefix', '/foo', 'foo', false],
]

t.test('pathMatches: the spec table', async (t) => {
  for (const [type, rule, req, want] of single) {
    t.equal(pathMatches(type, rule, req), want, `${type} ${rule} vs ${req}`)
  }
})

t.test('PathIndex agrees with pathMatches for one rule', async (t) => {
  for (const [type, rule, req, want] of single) {
    if (!req.startsWith('/')) continue
    const index = new PathIndex<string>()
    index.add(type === 'Exact' ? 'Exact' : 'Prefix', rule, 'x')
    t.equal(index.lookup(req) === 'x', want, `${type} ${rule} vs ${req}`)
  }
})

// Several rules: which one wins. Keys name the winning rule, undefined = no match (default backend).
const multi: { rules: [PathType, string][]; req: string; want: string | undefined }[] = [
  { rules: [['Prefix', '/'], ['Prefix', '/aaa']], req: '/aaa/ccc', want: 'Prefix /aaa' },
  { rules: [['Prefix', '/'], ['Prefix', '/aaa'], ['Prefix', '/aaa/bbb']], req: '/aaa/bbb', want: 'Prefix /aaa/bbb' },
  { rules: [['Prefix', '/'], ['Prefix', '/aaa'], ['Prefix', '/aaa/bbb']], req: '/ccc', want: 'Prefix /' },
  { rules: [['Prefix', '/aaa']], req: '/ccc', want: undefined },
  { rules: [['Prefix', '/foo'], ['Exact', '/foo']], req: '/foo', want: 'Exact /foo' },
  { rules: [['Exact', '/foo'], ['Prefix', '/foo']], req: '/foo/', want: 'Prefix /foo' },
  { rules: [['Prefix', '/foo/'], ['Exact', '/foo']], req: '/foo', want: 'Exact /foo' },
  { rules: [['Exact', '/'], ['Prefix', '/']], req: '/', want: 'Exact /' },
  { rules: [['Exact', '/'], ['Prefix', '/']], req: '/x', want: 'Prefix /' },
  // more path elements beat more characters
  { rules: [['Prefix', '/aaaaaaaaaa'], ['Prefix', '/a/b']], req: '/a/b/c', want: 'Prefix /a/b' },
  { rules: [['Prefix', '/a'], ['Prefix', '/a/b/c']], req: '/a/b/d', want: 'Prefix /a' },
  { rules: [['Prefix', '/a/b'], ['Exact', '/a/b/c']], req: '/a/b/c/', want: 'Prefix /a/b' },
]

t.test('PathIndex: longest match, Exact on a tie', async (t) => {
  for (const { rules, req, want } of multi) {
    const index = new PathIndex<string>()
    for (const [type, path] of rules) index.add(type, path, `${type} ${path}`)
    t.equal(index.lookup(req), want, `${rules.map((r) => r.join(' ')).join(', ')} ← ${req}`)
  }
})

t.test('PathIndex: first added holds the slot', async (t) => {
  const index = new PathIndex<string>()
  t.equal(index.add('Prefix', '/foo/', 'a'), 'a')
  t.equal(index.add('Prefix', '/foo', 'b'), 'a', 'same elements: the earlier value shadows')
  t.equal(index.add('Exact', '/foo', 'c'), 'c')
  t.equal(index.add('Exact', '/foo', 'd'), 'c')
  t.equal(index.size, 2)
})

t.test('PathIndex agrees with pathMatches on generated paths', async (t) => {
  const parts = ['', 'a', 'b', 'ab']
  const paths: string[] = ['/']
  for (const x of parts) for (const y of parts) for (const z of ['', '/']) paths.push(`/${x}${y ? `/${y}` : ''}${z}`.replace(/\/+$/, z || ''))
  const unique = [...new Set(paths)].filter((p) => p.startsWith('/'))
  let checked = 0
  for (const type of ['Exact', 'Prefix'] as const) {
    for (const rule of unique) {
      const index = new PathIndex<string>()
      index.add(type, rule, 'x')
      for (const req of unique) {
        if (pathMatches(type, rule, req) !== (index.lookup(req) === 'x')) t.fail(`${type} ${rule} vs ${req}`)
        checked++
      }
    }
  }
  t.ok(checked > 100)
})

t.test('requestPath and pathElements', async (t) => {
  t.equal(requestPath('/foo?x=1'), '/foo')
  t.equal(requestPath('/foo/?a=/b'), '/foo/')
  t.equal(requestPath('/'), '/')
  t.equal(requestPath('foo'), undefined)
  t.equal(requestPath('*'), undefined)
  t.equal(requestPath('%2Ffoo'), undefined)
  t.equal(requestPath('?x'), undefined)
  t.same(pathElements('/aaa//bbb/'), ['aaa', 'bbb'])
  t.same(pathElements('/'), [])
})
