import t from 'tap'
import { OwnWrites } from '../../src/controllers/own-writes.ts'

t.test('a recorded write is laid over the cache until the cache shows it', async (t) => {
  const w = new OwnWrites<string[]>()
  t.equal(w.overlay('n1', []), undefined, 'nothing recorded')
  w.record('n1', ['10.244.0.0/24'])
  t.same(w.overlay('n1', []), ['10.244.0.0/24'], 'the lagging cache is overridden')
  t.equal(w.overlay('n1', ['10.244.0.0/24']), undefined, 'the cache caught up')
  t.equal(w.overlay('n1', []), undefined, 'and the record is gone')
})

t.test('a write the cache never shows expires', async (t) => {
  const w = new OwnWrites<string>(0)
  w.record('svc', '192.0.2.1')
  await new Promise((r) => setTimeout(r, 5))
  t.equal(w.overlay('svc', ''), undefined)
})
