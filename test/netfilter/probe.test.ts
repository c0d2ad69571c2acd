import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { probeNftables } from '../../src/netfilter/probe.ts'
import { NftExec } from '../../src/netfilter/exec-client.ts'
import { testNetns } from '../helpers/netns.ts'

t.test('nftables works in a test namespace and the probe leaves nothing behind', async (t) => {
  const ns = await testNetns(t, 'probe')
  t.same(await probeNftables(ns), { ok: true })
  t.same(await probeNftables(ns, { family: 'bridge' }), { ok: true }, 'the bridge family too')
  const [file, argv] = ['nsenter', [`--net=/run/netns/${ns}`, '--', 'nft', '-j', 'list', 'tables']]
  const { run } = await import('../../src/netlink/exec.ts')
  t.notMatch(await run(file, argv), /weft-probe/, 'no probe table remains')
})

t.test('a missing nft binary is reported as not installed', async (t) => {
  const ns = await testNetns(t, 'probe')
  const r = await probeNftables(ns, { binary: 'weft-no-such-nft' })
  t.same(r, { ok: false, reason: 'weft-no-such-nft is not installed (apt-get install nftables)' })
  const direct = await probeNftables(undefined, { binary: '/nonexistent/nft' })
  t.match(direct, { ok: false, reason: /is not installed/ }, 'also without nsenter')
})

t.test('lacking CAP_NET_ADMIN is reported as such', async (t) => {
  const ns = await testNetns(t, 'probe')
  const dir = mkdtempSync(join(tmpdir(), 'weft-probe-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const wrapper = join(dir, 'nft-unprivileged')
  writeFileSync(wrapper, '#!/bin/sh\nexec setpriv --reuid 65534 --regid 65534 --clear-groups --inh-caps=-all nft "$@"\n')
  chmodSync(wrapper, 0o755)
  const r = await probeNftables(ns, { binary: wrapper })
  t.match(r, { ok: false, reason: /CAP_NET_ADMIN/ })
})

t.test('NftExec errors carry the failing line and a code', async (t) => {
  const ns = await testNetns(t, 'probe')
  const { Transaction } = await import('../../src/netfilter/transaction.ts')
  const nft = new NftExec(ns)
  await nft.apply(new Transaction('ip', 'empty'))
  t.equal(await nft.listTable('ip', 'empty'), undefined, 'an empty transaction does nothing')
  const tx = new Transaction('ip', 'x').addTable().addChain('a').addRule('a', 'jump nowhere')
  const err = await nft.apply(tx).catch((e: unknown) => e)
  t.match(err, { name: 'NftError', code: 'ENOENT', message: /add rule ip x a jump nowhere/ })
  t.equal(await nft.listTable('ip', 'x'), undefined, 'nothing was applied')
  await nft.apply(new Transaction('ip', 'x').addTable())
  t.same(await nft.listTable('ip', 'x'), { chains: [], sets: [], maps: [], setTimeouts: {} }, 'an empty table lists as empty')
})
