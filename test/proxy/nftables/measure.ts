// Measures (prints, asserts nothing) the nftables proxier at scale against the real nft in
// a throwaway namespace: a full sync of N Services × M endpoints, then one endpoint change.
// Run: node test/proxy/nftables/measure.ts [services=10000] [endpoints=5]
import { execFileSync } from 'node:child_process'
import { performance } from 'node:perf_hooks'
import { NftExec } from '../../../src/netfilter/exec-client.ts'
import { Transaction } from '../../../src/netfilter/transaction.ts'
import { addNetns, deleteNetns, netnsExists } from '../../../src/netlink/index.ts'
import type { ServiceEntry } from '../../../proxy/model.ts'
import { ElementIndex, fullSync, SharedChains } from '../../../proxy/nftables/diff.ts'
import { NftablesProxier } from '../../../proxy/nftables/proxier.ts'
import { baseRules, checkServiceRules, serviceRules } from '../../../proxy/nftables/rules.ts'
import { entry, ep, port, state } from './fixtures.ts'

const N = Number(process.argv[2] ?? 10000)
const M = Number(process.argv[3] ?? 5)
const ns = `wtmeasure-${process.pid}`

function services(n: number, m: number): ServiceEntry[] {
  const out: ServiceEntry[] = []
  for (let i = 0; i < n; i++) {
    const eps = []
    for (let j = 0; j < m; j++) {
      const k = i * m + j
      eps.push(ep(`10.${128 + (k >> 16)}.${(k >> 8) & 255}.${k & 255}`, { port: 8080 }))
    }
    out.push(entry(port({ name: `svc${i}`, clusterIP: `172.30.${i >> 8}.${i & 255}`, nodePort: i % 10 === 0 ? 30000 + (i % 2000) : 0 }), eps))
  }
  return out
}

async function time<T>(label: string, fn: () => Promise<T> | T): Promise<T> {
  const t0 = performance.now()
  const r = await fn()
  console.log(`${label.padEnd(58)} ${(performance.now() - t0).toFixed(1).padStart(9)} ms`)
  return r
}

function nftTiny(line: string): void {
  execFileSync('ip', ['netns', 'exec', ns, 'nft', '-f', '-'], { input: line + '\n' })
}

async function main(): Promise<void> {
  await addNetns(ns)
  const cleanup = (): void => {
    if (netnsExists(ns)) execFileSync('ip', ['netns', 'delete', ns])
  }
  process.once('SIGINT', () => {
    cleanup()
    process.exit(130)
  })
  try {
    const entries = services(N, M)
    const st = state(entries)
    console.log(`${N} services × ${M} endpoints, nft in namespace ${ns}`)

    await time('empty-table baseline: a 1-line nft -f (process start + cache)', () => nftTiny('add table ip wt-empty'))
    const built = await time('build: serviceRules for every port', () => entries.map((e) => checkServiceRules(serviceRules(e, st))))
    const text = await time('build: full-sync transaction + render', () => {
      const index = new ElementIndex()
      const shared = new SharedChains()
      built.forEach((r, i) => {
        r.elements.forEach((el) => index.add(entries[i]!.port.id, el))
        for (const [name, rules] of r.shared) shared.add(entries[i]!.port.id, name, rules)
      })
      return fullSync({ family: 'ip', table: 'weft-proxy', base: baseRules(st), services: built, existing: undefined, index, shared }).render()
    })
    console.log(`  transaction: ${text.split('\n').length - 1} lines, ${(text.length / 1e6).toFixed(1)} MB`)

    const nft = new NftExec(ns)
    const proxier = new NftablesProxier({ family: 4, nft })
    await time('proxier full sync (build + listTable + nft -f), fresh table', () => proxier.sync(st, 'all'))
    await time('proxier full sync again, over the full table', () => proxier.sync(st, 'all'))
    await time('listTable on the full table', () => nft.listTable('ip', 'weft-proxy'))

    const changedEntries = [...entries]
    const first = entries[0]!
    changedEntries[0] = entry(first.port, [...first.endpoints.slice(1), ep('10.250.0.1', { port: 8080 })])
    const st2 = state(changedEntries)
    for (let i = 0; i < 3; i++) {
      const s = i % 2 === 0 ? st2 : st
      await time(`proxier partial sync: one endpoint replaced (#${i + 1})`, () => proxier.sync(s, new Set([first.port.id])))
    }

    await time('1-line nft -f on the full table: add element (commands)', () => nftTiny('add element ip weft-proxy cluster-ips { 172.31.0.1 }'))
    await time('1-line nft -f on the full table: same, block syntax', () => nftTiny('table ip weft-proxy {\n set cluster-ips {\n type ipv4_addr\n elements = { 172.31.0.2 }\n }\n}'))
    await time('1-line nft -f on an unrelated table (same netns)', () => nftTiny('add table ip wt-empty'))
    const small = new Transaction('ip', 'weft-proxy').addChain('zz-probe').addRule('zz-probe', 'jump mark-for-masquerade')
    await time('NftExec.apply of a 2-op transaction (chain + rule)', () => nft.apply(small))
  } finally {
    cleanup()
  }
}

await main()
