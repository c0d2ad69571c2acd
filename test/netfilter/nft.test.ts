import t from 'tap'
import { nftApply, nftList } from '../../src/netfilter/nft.ts'
import { testNetns } from '../helpers/netns.ts'

t.test('transactions apply whole or not at all, inside a namespace', async (t) => {
  const ns = await testNetns(t, 'nft')
  await nftApply(['add table inet wtest', 'add chain inet wtest c { type filter hook input priority 0; }', 'add rule inet wtest c tcp dport 9 drop'], ns)
  const items = await nftList(['list', 'table', 'inet', 'wtest'], ns)
  t.ok(items.some((i) => (i.rule as { chain?: string } | undefined)?.chain === 'c'), 'the rule is there')
  const err = await nftApply(['add chain inet wtest d', 'add rule inet wtest nosuch tcp dport 9 drop'], ns).catch((e: unknown) => e)
  t.ok(err instanceof Error, 'a bad line fails the transaction')
  const after = await nftList(['list', 'table', 'inet', 'wtest'], ns)
  t.notOk(after.some((i) => (i.chain as { name?: string } | undefined)?.name === 'd'), 'nothing of it was applied')
  t.same(await nftList(['list', 'table', 'inet', 'wnotthere'], ns), [], 'a missing table lists as empty')
})
