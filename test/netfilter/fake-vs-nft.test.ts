// Keeps FakeNft honest: the same transactions, failing ones included, go to the fake and
// to the real nft in a test namespace; success and the resulting contents must agree.
import t from 'tap'
import { run } from '../../src/netlink/exec.ts'
import { inNetns } from '../../src/netlink/netns.ts'
import { NftExec } from '../../src/netfilter/exec-client.ts'
import { FakeNft } from '../../src/netfilter/fake.ts'
import { NftError } from '../../src/netfilter/nft.ts'
import { Transaction } from '../../src/netfilter/transaction.ts'
import { testNetns } from '../helpers/netns.ts'

const TABLE = 'wtfake'
const VMAP = 'type ipv4_addr . inet_proto . inet_service : verdict;'
const BASE = 'type filter hook input priority 0; policy accept;'
const svc = '10.96.0.1 . tcp . 80'

interface Step {
  name: string
  ok: boolean
  tx: (tx: Transaction) => void
}

const steps: Step[] = [
  {
    name: 'build the table',
    ok: true,
    tx: (tx) =>
      tx
        .addTable()
        .addChain('a')
        .addChain('b')
        .addChain('c')
        .addChain('base', BASE)
        .addMap('m', VMAP)
        .addSet('s', 'type ipv4_addr;')
        .addRule('a', 'jump b')
        .addRule('c', 'ip daddr @s accept')
        .addRule('base', 'ip daddr . meta l4proto . th dport vmap @m')
        .addElements('s', ['1.2.3.4', '5.6.7.8'])
        .addElements('m', [`${svc} : goto b`, '10.96.0.2 . udp . 53 : jump c']),
  },
  { name: 'add of existing objects is a no-op', ok: true, tx: (tx) => tx.addTable().addChain('a').addSet('s', 'type ipv4_addr ;').addMap('m', VMAP).addChain('base') },
  { name: 'create of an existing chain fails', ok: false, tx: (tx) => tx.push({ verb: 'create', kind: 'chain', name: 'a' }) },
  { name: 'create of an existing table fails', ok: false, tx: (tx) => tx.push({ verb: 'create', kind: 'table' }) },
  { name: 'create of an existing set fails', ok: false, tx: (tx) => tx.push({ verb: 'create', kind: 'set', name: 's', spec: 'type ipv4_addr;' }) },
  { name: 'add of a set with another type fails', ok: false, tx: (tx) => tx.addSet('s', 'type ipv6_addr;') },
  { name: 'add of a map over a set fails', ok: false, tx: (tx) => tx.addMap('s', 'type ipv4_addr : verdict;') },
  { name: 'flush of a missing chain fails', ok: false, tx: (tx) => tx.flushChain('zz') },
  { name: 'delete of a missing chain fails', ok: false, tx: (tx) => tx.deleteChain('zz') },
  { name: 'delete of a missing set fails', ok: false, tx: (tx) => tx.deleteSet('zz') },
  { name: 'flush of a missing map fails', ok: false, tx: (tx) => tx.push({ verb: 'flush', kind: 'map', name: 'zz' }) },
  { name: 'flush set on a map fails', ok: false, tx: (tx) => tx.push({ verb: 'flush', kind: 'set', name: 'm' }) },
  { name: 'delete of a chain referenced by a rule and an element fails', ok: false, tx: (tx) => tx.deleteChain('b') },
  { name: 'removing the rule alone is not enough', ok: false, tx: (tx) => tx.flushChain('a').deleteChain('b') },
  { name: 'removing the element alone is not enough', ok: false, tx: (tx) => tx.deleteElements('m', [svc]).deleteChain('b') },
  { name: 'delete of a set used by a rule fails', ok: false, tx: (tx) => tx.deleteSet('s') },
  { name: 'delete of a map used by a rule fails', ok: false, tx: (tx) => tx.push({ verb: 'delete', kind: 'map', name: 'm' }) },
  { name: 'a map key cannot be re-added with another value', ok: false, tx: (tx) => tx.addElements('m', [`${svc} : goto c`]) },
  { name: 'nor twice with different values in one operation', ok: false, tx: (tx) => tx.addElements('m', ['10.96.0.9 . tcp . 1 : goto c', '10.96.0.9 . tcp . 1 : goto b']) },
  { name: 're-adding identical elements is fine', ok: true, tx: (tx) => tx.addElements('m', [`${svc} : goto b`]).addElements('s', ['1.2.3.4', '1.2.3.4']) },
  { name: 'comments are not references', ok: true, tx: (tx) => tx.addRule('c', 'tcp dport 9 drop comment "jump to @nowhere"') },
  { name: 'a rule in a missing chain fails', ok: false, tx: (tx) => tx.addRule('zz', 'accept') },
  { name: 'a jump to a missing chain fails', ok: false, tx: (tx) => tx.addRule('a', 'jump zz') },
  { name: 'a goto to a missing chain fails', ok: false, tx: (tx) => tx.addRule('a', 'goto zz') },
  { name: 'a missing chain inside an anonymous vmap fails', ok: false, tx: (tx) => tx.addRule('a', 'ip daddr vmap { 1.1.1.1 : goto zz }') },
  { name: 'a missing set fails', ok: false, tx: (tx) => tx.addRule('a', 'ip daddr @zz accept') },
  { name: 'an element to a missing chain fails', ok: false, tx: (tx) => tx.addElements('m', ['10.96.0.3 . tcp . 80 : goto zz']) },
  { name: 'an element in a missing set fails', ok: false, tx: (tx) => tx.addElements('zz', ['1.1.1.1']) },
  { name: 'a map element without value fails', ok: false, tx: (tx) => tx.addElements('m', ['10.96.0.3 . tcp . 80']) },
  { name: 'deleting a missing element fails', ok: false, tx: (tx) => tx.deleteElements('s', ['9.9.9.9']) },
  { name: 'deleting an element twice fails', ok: false, tx: (tx) => tx.deleteElements('s', ['5.6.7.8']).deleteElements('s', ['5.6.7.8']) },
  { name: 'a failing transaction leaves nothing behind', ok: false, tx: (tx) => tx.addChain('d').addRule('d', 'jump a').addElements('s', ['7.7.7.7']).addRule('nosuch', 'accept') },
  { name: 'an anonymous vmap references its chains', ok: false, tx: (tx) => tx.addRule('a', 'ip daddr vmap { 1.1.1.1 : goto c }').deleteChain('c') },
  { name: 'a self-jump is a reference too', ok: false, tx: (tx) => tx.addRule('c', 'jump c').deleteChain('c') },
  { name: 'a base chain may change its policy', ok: true, tx: (tx) => tx.addChain('base', 'type filter hook input priority 0; policy drop;') },
  { name: 'but not its priority', ok: false, tx: (tx) => tx.addChain('base', 'type filter hook input priority 10; policy drop;') },
  { name: 'a regular chain cannot become a base chain', ok: false, tx: (tx) => tx.addChain('a', BASE) },
  { name: 'nor without a policy', ok: false, tx: (tx) => tx.addChain('a', 'type filter hook input priority 0;') },
  { name: 'flush table empties chains but keeps elements', ok: true, tx: (tx) => tx.push({ verb: 'flush', kind: 'table' }) },
  { name: 'the map element still holds chain b', ok: false, tx: (tx) => tx.deleteChain('b') },
  { name: 'rules come back', ok: true, tx: (tx) => tx.addRule('a', 'jump b').addRule('c', 'ip daddr @s accept').addRule('c', 'tcp dport 9 drop').addRule('base', 'ip daddr . meta l4proto . th dport vmap @m') },
  {
    name: 'removing every reference first lets a chain go in the same transaction',
    ok: true,
    tx: (tx) => tx.flushChain('a').deleteElements('m', [svc]).deleteChain('b'),
  },
  { name: 'a map element is deleted by key, whatever the value given', ok: true, tx: (tx) => tx.deleteElements('m', ['10.96.0.2 . udp . 53 : goto a']) },
  { name: 'a chain with rules but no referrers can be deleted, releasing its set', ok: true, tx: (tx) => tx.deleteChain('c').deleteSet('s') },
  { name: 'flush map then add', ok: true, tx: (tx) => tx.addElements('m', [`${svc} : goto a`]).push({ verb: 'flush', kind: 'map', name: 'm' }).addElements('m', [`${svc} : jump a`]) },
  { name: 'add, delete, add the table again in one go', ok: true, tx: (tx) => tx.push({ verb: 'delete', kind: 'table' }).addTable().addChain('q').addSet('s2', 'type ipv4_addr;').addElements('s2', ['10.0.0.1']) },
  { name: 'delete the table', ok: true, tx: (tx) => tx.push({ verb: 'delete', kind: 'table' }) },
  { name: 'delete of a missing table fails', ok: false, tx: (tx) => tx.push({ verb: 'delete', kind: 'table' }) },
  { name: 'flush of a missing table fails', ok: false, tx: (tx) => tx.push({ verb: 'flush', kind: 'table' }) },
  { name: 'a chain in a missing table fails', ok: false, tx: (tx) => tx.addChain('a') },
]

interface Contents {
  chains: Record<string, string[]>
  sets: Record<string, string[]>
}

/** Reads chains' rules and sets' elements from `nft list table` text. */
function parseTable(text: string): Contents {
  const out: Contents = { chains: {}, sets: {} }
  let chain: string | undefined
  let set: string | undefined
  let elems: string | undefined
  for (const raw of text.split('\n')) {
    const line = raw.trim()
    if (elems !== undefined) {
      elems += ' ' + line
    } else if (/^chain \S+ \{$/.test(line)) {
      chain = line.split(' ')[1]!
      out.chains[chain] = []
      continue
    } else if (/^(set|map) \S+ \{$/.test(line)) {
      set = line.split(' ')[1]!
      out.sets[set] = []
      continue
    } else if (line === '}') {
      chain = set = undefined
      continue
    } else if (chain !== undefined) {
      if (line && !line.startsWith('type ')) out.chains[chain]!.push(line)
      continue
    } else if (set !== undefined && line.startsWith('elements = {')) {
      elems = line.slice('elements = {'.length)
    } else continue
    if (elems.endsWith('}')) {
      out.sets[set!] = elems
        .slice(0, -1)
        .split(',')
        .map((e) => e.trim())
        .filter(Boolean)
        .sort()
      elems = undefined
    }
  }
  return out
}

async function realContents(ns: string): Promise<Contents | undefined> {
  const [file, argv] = inNetns(ns, 'nft', ['list', 'table', 'ip', TABLE])
  try {
    return parseTable(await run(file, argv))
  } catch {
    return undefined
  }
}

async function fakeContents(fake: FakeNft): Promise<Contents | undefined> {
  const objs = await fake.listTable('ip', TABLE)
  if (!objs) return undefined
  const out: Contents = { chains: {}, sets: {} }
  for (const c of objs.chains) out.chains[c] = fake.rules('ip', TABLE, c)!
  for (const s of [...objs.sets, ...objs.maps]) out.sets[s] = fake.elements('ip', TABLE, s)!
  return out
}

async function outcome(p: Promise<void>): Promise<string> {
  try {
    await p
    return 'ok'
  } catch (err) {
    return err instanceof NftError ? `fails ${err.code}` : `fails (${String(err)})`
  }
}

t.test('FakeNft agrees with nft, step by step', async (t) => {
  const ns = await testNetns(t, 'fake')
  const real = new NftExec(ns)
  const fake = new FakeNft()
  for (const step of steps) {
    const tx = new Transaction('ip', TABLE)
    step.tx(tx)
    const realOutcome = await outcome(real.apply(tx))
    const fakeOutcome = await outcome(fake.apply(tx))
    t.equal(realOutcome.startsWith('ok'), step.ok, `nft: ${step.name} (${realOutcome})`)
    t.equal(fakeOutcome, realOutcome, `fake: ${step.name}`)
    t.same(await fakeContents(fake), await realContents(ns), `same contents after: ${step.name}`)
    t.same(await fake.listTable('ip', TABLE), await real.listTable('ip', TABLE), `same listTable after: ${step.name}`)
  }
  t.equal(fake.applied.length, steps.filter((s) => s.ok).length, 'applied records each committed transaction')
})
