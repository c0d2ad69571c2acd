import t from 'tap'
import { Indexer } from '../../src/client/indexer.ts'

t.test('an index added after the fact files what is cached and follows changes', async (t) => {
  const ix = new Indexer<{ metadata: { name: string; namespace: string }; spec?: { nodeName?: string } }>()
  const pod = (name: string, node?: string) => ({ metadata: { name, namespace: 'default' }, spec: node ? { nodeName: node } : {} })
  ix.set('default/a', pod('a', 'n1'))
  ix.set('default/b', pod('b'))
  ix.addIndex('nodeName', (p) => (p.spec?.nodeName ? [p.spec.nodeName] : []))
  t.same(ix.byIndex('nodeName', 'n1').map((p) => p.metadata.name), ['a'])
  ix.set('default/b', pod('b', 'n1'))
  ix.set('default/a', pod('a', 'n2'))
  t.same(ix.byIndex('nodeName', 'n1').map((p) => p.metadata.name), ['b'])
  t.same(ix.byIndex('nodeName', 'n2').map((p) => p.metadata.name), ['a'])
  ix.delete('default/a')
  t.same(ix.byIndex('nodeName', 'n2'), [])
  t.throws(() => ix.addIndex('nodeName', () => []), /exists already/)
})
