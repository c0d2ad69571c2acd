import t from 'tap'
import { Fifo } from '../../load/protocols/fifo.ts'

t.test('first in, first out, across compaction', async (t) => {
  const q = new Fifo<number>()
  for (let i = 0; i < 3000; i++) q.push(i)
  for (let i = 0; i < 2000; i++) t.equal(q.shift(), i)
  q.push(3000)
  t.equal(q.length, 1001)
  t.equal(q.peek(), 2000)
  t.same(q.drain().slice(-2), [2999, 3000])
  t.equal(q.shift(), undefined)
})

t.test('shiftWhile takes from the front until the first item it does not take', async (t) => {
  const q = new Fifo<number>()
  for (const n of [1, 2, 3, 10, 4]) q.push(n)
  const seen: number[] = []
  q.shiftWhile((n) => (seen.push(n), n < 5))
  t.same(seen, [1, 2, 3, 10], 'stops at the first refusal')
  t.equal(q.peek(), 10, 'the refused item stays at the front')
  t.equal(q.length, 2)
  q.shiftWhile(() => true)
  t.equal(q.length, 0)
})
