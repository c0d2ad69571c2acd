// The table an earlier weft (kube-proxy's layout: a chain per Service port and per endpoint)
// left behind, for the upgrade tests: old-layout.nft is what it wrote for oldLayoutEntries().
import { readFileSync } from 'node:fs'
import { Transaction } from '../../../src/netfilter/transaction.ts'
import type { ServiceEntry } from '../../../proxy/model.ts'
import { entry, ep, port } from './fixtures.ts'

export function oldLayoutEntries(): ServiceEntry[] {
  return [
    entry(port(), [ep('10.180.0.1'), ep('10.180.0.2', { local: true })]),
    entry(port({ name: 'np', clusterIP: '172.30.0.42', nodePort: 30080, affinitySeconds: 60 }), [ep('10.180.0.3'), ep('10.180.0.4')]),
    entry(port({ name: 'lb', clusterIP: '172.30.0.43', nodePort: 30081, loadBalancerIPs: ['172.30.0.201'], loadBalancerSourceRanges: ['192.168.0.0/16'], externalLocal: true }), [ep('10.180.0.5', { local: true }), ep('10.180.0.6')]),
    entry(port({ name: 'big', clusterIP: '172.30.0.47' }), Array.from({ length: 12 }, (_, i) => ep(`10.180.0.${20 + i}`))),
  ]
}

/** old-layout.nft as one transaction (for the fake and for NftExec). */
export function oldLayoutTransaction(): Transaction {
  const tx = new Transaction('ip', 'weft-proxy')
  const text = readFileSync(new URL('./old-layout.nft', import.meta.url), 'utf8')
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    let m: RegExpExecArray | null
    if (line === 'add table ip weft-proxy') tx.addTable()
    else if ((m = /^add chain ip weft-proxy (\S+)(?: \{ (.*) \})?$/.exec(line))) tx.addChain(m[1]!, m[2])
    else if ((m = /^add (set|map) ip weft-proxy (\S+) \{ (.*) \}$/.exec(line))) tx.push({ verb: 'add', kind: m[1] as 'set' | 'map', name: m[2]!, spec: m[3]! })
    else if ((m = /^add rule ip weft-proxy (\S+) (.*)$/.exec(line))) tx.addRule(m[1]!, m[2]!)
    else if ((m = /^add element ip weft-proxy (\S+) \{ (.*) \}$/.exec(line))) tx.addElements(m[1]!, [m[2]!])
    else throw new Error(`old-layout.nft: unexpected line ${line}`)
  }
  return tx
}
