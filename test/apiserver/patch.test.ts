import t from 'tap'
import { applyJsonPatch, applyMergePatch, parsePointer } from '../../src/apiserver/patch.ts'
import { ApiError } from '../../src/util/errors.ts'

function apiError(fn: () => unknown): ApiError {
  try {
    fn()
  } catch (err) {
    if (err instanceof ApiError) return err
    throw err
  }
  throw new Error('expected an ApiError')
}

t.test('JSON pointer escaping', async (t) => {
  t.same(parsePointer(''), [])
  t.same(parsePointer('/a~1b/c~0d/~01'), ['a/b', 'c~d', '~1'])
  t.equal(apiError(() => parsePointer('a')).code, 400)
  t.equal(apiError(() => parsePointer('/a~2')).code, 400)
})

t.test('JSON patch operations', async (t) => {
  const doc = {
    metadata: { name: 'web', labels: { app: 'web', 'a/b': 'x', 'c~d': 'y' } },
    spec: { replicas: 1, args: ['a', 'b', 'c'] },
  }
  const cases: { name: string; patch: unknown[]; want: unknown }[] = [
    { name: 'add a field', patch: [{ op: 'add', path: '/spec/paused', value: true }], want: { ...doc, spec: { ...doc.spec, paused: true } } },
    { name: 'add replaces an existing field', patch: [{ op: 'add', path: '/spec/replicas', value: 3 }], want: { ...doc, spec: { ...doc.spec, replicas: 3 } } },
    { name: 'add inserts into an array', patch: [{ op: 'add', path: '/spec/args/1', value: 'x' }], want: { ...doc, spec: { ...doc.spec, args: ['a', 'x', 'b', 'c'] } } },
    { name: 'add appends with -', patch: [{ op: 'add', path: '/spec/args/-', value: 'd' }], want: { ...doc, spec: { ...doc.spec, args: ['a', 'b', 'c', 'd'] } } },
    { name: 'add at the array end index', patch: [{ op: 'add', path: '/spec/args/3', value: 'd' }], want: { ...doc, spec: { ...doc.spec, args: ['a', 'b', 'c', 'd'] } } },
    { name: 'remove a field', patch: [{ op: 'remove', path: '/spec/replicas' }], want: { ...doc, spec: { args: ['a', 'b', 'c'] } } },
    { name: 'remove an array element', patch: [{ op: 'remove', path: '/spec/args/0' }], want: { ...doc, spec: { ...doc.spec, args: ['b', 'c'] } } },
    {
      name: 'remove escaped keys',
      patch: [
        { op: 'remove', path: '/metadata/labels/a~1b' },
        { op: 'remove', path: '/metadata/labels/c~0d' },
      ],
      want: { ...doc, metadata: { name: 'web', labels: { app: 'web' } } },
    },
    { name: 'replace', patch: [{ op: 'replace', path: '/spec/replicas', value: 5 }], want: { ...doc, spec: { ...doc.spec, replicas: 5 } } },
    { name: 'replace the whole document', patch: [{ op: 'replace', path: '', value: { a: 1 } }], want: { a: 1 } },
    {
      name: 'move',
      patch: [{ op: 'move', from: '/spec/replicas', path: '/spec/count' }],
      want: { ...doc, spec: { args: ['a', 'b', 'c'], count: 1 } },
    },
    { name: 'move within an array', patch: [{ op: 'move', from: '/spec/args/0', path: '/spec/args/-' }], want: { ...doc, spec: { ...doc.spec, args: ['b', 'c', 'a'] } } },
    {
      name: 'copy',
      patch: [{ op: 'copy', from: '/metadata/labels', path: '/spec/selector' }],
      want: { ...doc, spec: { ...doc.spec, selector: doc.metadata.labels } },
    },
    {
      name: 'test then replace',
      patch: [
        { op: 'test', path: '/spec/replicas', value: 1 },
        { op: 'replace', path: '/spec/replicas', value: 2 },
      ],
      want: { ...doc, spec: { ...doc.spec, replicas: 2 } },
    },
    { name: 'test compares deeply', patch: [{ op: 'test', path: '/spec/args', value: ['a', 'b', 'c'] }], want: doc },
  ]
  for (const c of cases) {
    const before = structuredClone(doc)
    t.same(applyJsonPatch(doc, c.patch), c.want, c.name)
    t.same(doc, before, `${c.name}: input untouched`)
  }
})

t.test('JSON patch failures say which operation and path', async (t) => {
  const doc = { spec: { replicas: 1, args: ['a'] } }
  const cases: { name: string; patch: unknown; code: number; match: RegExp }[] = [
    { name: 'not an array', patch: { op: 'add' }, code: 400, match: /JSON array/ },
    { name: 'unknown op', patch: [{ op: 'frob', path: '/a' }], code: 400, match: /unknown op "frob"/ },
    { name: 'missing value', patch: [{ op: 'add', path: '/a' }], code: 400, match: /missing "value"/ },
    { name: 'missing from', patch: [{ op: 'copy', path: '/a' }], code: 400, match: /missing "from"/ },
    { name: 'failed test', patch: [{ op: 'test', path: '/spec/replicas', value: 3 }], code: 422, match: /operation 0 \(test "\/spec\/replicas"\) failed: value is 1, not 3/ },
    { name: 'test of a missing path', patch: [{ op: 'test', path: '/spec/nope', value: 3 }], code: 422, match: /does not exist/ },
    { name: 'remove a missing field', patch: [{ op: 'remove', path: '/spec/nope' }], code: 422, match: /remove "\/spec\/nope"/ },
    { name: 'replace a missing field', patch: [{ op: 'replace', path: '/spec/nope', value: 1 }], code: 422, match: /does not exist/ },
    { name: 'add under a missing parent', patch: [{ op: 'add', path: '/status/phase', value: 'x' }], code: 422, match: /"\/status" does not exist/ },
    { name: 'index out of bounds', patch: [{ op: 'add', path: '/spec/args/5', value: 'x' }], code: 422, match: /out of bounds/ },
    { name: 'bad index', patch: [{ op: 'remove', path: '/spec/args/01' }], code: 422, match: /out of bounds/ },
    { name: 'move into own child', patch: [{ op: 'move', from: '/spec', path: '/spec/inner' }], code: 422, match: /own children/ },
    {
      name: 'second op fails',
      patch: [
        { op: 'replace', path: '/spec/replicas', value: 2 },
        { op: 'test', path: '/spec/replicas', value: 1 },
      ],
      code: 422,
      match: /operation 1/,
    },
  ]
  for (const c of cases) {
    const err = apiError(() => applyJsonPatch(doc, c.patch))
    t.equal(err.code, c.code, `${c.name}: code`)
    t.match(err.message, c.match, `${c.name}: message`)
  }
  t.same(doc, { spec: { replicas: 1, args: ['a'] } }, 'a failed patch leaves the input alone')
  const err = apiError(() => applyJsonPatch(doc, [{ op: 'test', path: '/spec/replicas', value: 3 }]))
  t.equal(err.reason, 'Invalid')
  t.equal(err.details?.causes?.[0]?.field, '/spec/replicas')
})

t.test('JSON merge patch', async (t) => {
  const doc = { metadata: { labels: { a: '1', b: '2' } }, spec: { args: ['x', 'y'], replicas: 1 } }
  const cases: { name: string; patch: unknown; want: unknown }[] = [
    { name: 'adds and changes keys', patch: { metadata: { labels: { c: '3', a: 'one' } } }, want: { ...doc, metadata: { labels: { a: 'one', b: '2', c: '3' } } } },
    { name: 'null deletes', patch: { metadata: { labels: { b: null } }, spec: { replicas: null } }, want: { metadata: { labels: { a: '1' } }, spec: { args: ['x', 'y'] } } },
    { name: 'arrays are replaced', patch: { spec: { args: ['z'] } }, want: { ...doc, spec: { args: ['z'], replicas: 1 } } },
    { name: 'an object replaces a scalar', patch: { spec: { replicas: { x: 1, y: null } } }, want: { ...doc, spec: { args: ['x', 'y'], replicas: { x: 1 } } } },
    { name: 'a non-object patch replaces the document', patch: ['a'], want: ['a'] },
  ]
  for (const c of cases) {
    const before = structuredClone(doc)
    t.same(applyMergePatch(doc, c.patch), c.want, c.name)
    t.same(doc, before, `${c.name}: input untouched`)
  }
  const out = applyMergePatch(doc, {}) as typeof doc
  out.metadata.labels.a = 'changed'
  t.equal(doc.metadata.labels.a, '1', 'the result shares nothing with the input')
})
