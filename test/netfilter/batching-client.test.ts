import t from 'tap'
import { BatchingNftClient } from '../../src/netfilter/batching-client.ts'
import { FakeNft } from '../../src/netfilter/fake.ts'
import { NftError } from '../../src/netfilter/nft.ts'
import { Transaction } from '../../src/netfilter/transaction.ts'

const table = () => new Transaction('bridge', 'guards').addTable()
const port = (n: number) => table().addChain(`port-${n}`).flushChain(`port-${n}`).addRule(`port-${n}`, 'accept')

t.test('transactions applied at once go in one run; each caller hears of its own', async (t) => {
  const fake = new FakeNft()
  const client = new BatchingNftClient(fake)
  await Promise.all(Array.from({ length: 20 }, (_, i) => client.apply(port(i))))
  t.equal(fake.applied.length, 1, 'one nft run for 20 transactions')
  t.equal(client.runs, 1)
  t.equal((await fake.listTable('bridge', 'guards'))?.chains.length, 20, 'every chain is there')
})

t.test('what arrives during a run waits for the next one, together', async (t) => {
  const fake = new FakeNft()
  let release!: () => void
  const gate = new Promise<void>((r) => (release = r))
  let first = true
  const slow = {
    async apply(tx: Transaction) {
      if (first) {
        first = false
        await gate
      }
      return fake.apply(tx)
    },
    listTable: fake.listTable.bind(fake),
  }
  const client = new BatchingNftClient(slow)
  const a = client.apply(port(0))
  await new Promise((r) => setImmediate(r))
  const later = Array.from({ length: 5 }, (_, i) => client.apply(port(i + 1)))
  release()
  await Promise.all([a, ...later])
  t.equal(fake.applied.length, 2, 'the first alone, then the five that waited in one run')
  t.equal(fake.applied[1]!.operations.filter((op) => op.kind === 'rule').length, 5)
})

t.test('a joined run that fails is applied part by part: only the bad part fails, with its own error', async (t) => {
  const fake = new FakeNft()
  await fake.apply(table())
  const client = new BatchingNftClient(fake)
  const bad = new Transaction('bridge', 'guards').deleteChain('no-such-chain')
  const results = await Promise.allSettled([client.apply(port(1)), client.apply(bad), client.apply(port(2))])
  t.same(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled'])
  const err = (results[1] as PromiseRejectedResult).reason
  t.ok(err instanceof NftError && err.code === 'ENOENT', `the bad part's own error: ${err}`)
  t.same((await fake.listTable('bridge', 'guards'))?.chains, ['port-1', 'port-2'], 'the good parts are applied')
  t.equal(client.runs, 4, 'one joined run that failed, then three alone')
})

t.test('different tables go in runs of their own; an empty transaction runs nothing', async (t) => {
  const fake = new FakeNft()
  const client = new BatchingNftClient(fake)
  const other = new Transaction('ip', 'other').addTable().addChain('c')
  await Promise.all([client.apply(port(1)), client.apply(other), client.apply(port(2)), client.apply(new Transaction('ip', 'other'))])
  t.equal(fake.applied.length, 2)
  t.same(fake.applied.map((tx) => `${tx.family} ${tx.table}`), ['bridge guards', 'ip other'])
})
