// The mesh's nftables table in the node's namespace (`inet weft-mesh`), rewritten whole in one
// transaction on every change (it holds a few sets of this node's pod addresses):
//
// - capture (nat prerouting, priority dstnat − 10, before the service proxy's DNAT): TCP from
//   this node's meshed pods to anything but the node itself is redirected to the node proxy's
//   outbound port. A connection gets one NAT binding, so the proxy sees the address the pod
//   dialled (a Service's ClusterIP, say) and resolves it itself. The proxy's own connections
//   start on the node (output hook), so they are never captured again.
// - strict (filter forward): plaintext TCP to a meshed pod of a STRICT namespace is refused
//   with a reset. The node proxy's connections to its pods start on the node, so they are not
//   forwarded traffic; kubelet probes neither.
//
// Addresses come from the API (pod IPs): each is parsed and written in canonical form, and a
// value that is not an IP address is left out (the pod fails alone). Same-node pod-to-pod
// traffic crosses the bridge: the capture sees it only where br_netfilter hands bridged IP
// traffic to netfilter (the agent checks and says so).
import { isIP } from 'node:net'
import { Transaction, type NftClient } from '../src/netfilter/index.ts'
import { canonicalIp } from './workloads.ts'

export const MESH_TABLE = 'weft-mesh'

export interface CaptureSpec {
  /** This node's meshed pods' IPs: their outbound TCP goes to the node proxy. */
  meshed: readonly string[]
  /** This node's meshed pods of STRICT namespaces: plaintext TCP to them is refused. */
  strict: readonly string[]
  /** The node proxy's outbound port. */
  outboundPort: number
}

function byFamily(ips: readonly string[]): { v4: string[]; v6: string[] } {
  const v4 = new Set<string>()
  const v6 = new Set<string>()
  for (const ip of ips) {
    const c = canonicalIp(ip)
    if (c === undefined) continue
    ;(isIP(c) === 4 ? v4 : v6).add(c)
  }
  return { v4: [...v4].sort(), v6: [...v6].sort() }
}

/** The whole table, replacing what was there (add, delete, add: it need not exist first). */
export function meshTransaction(spec: CaptureSpec): Transaction {
  if (!Number.isInteger(spec.outboundPort) || spec.outboundPort < 1 || spec.outboundPort > 65535) throw new Error(`the mesh outbound port ${spec.outboundPort} is not 1-65535`)
  const meshed = byFamily(spec.meshed)
  const strict = byFamily(spec.strict)
  const tx = new Transaction('inet', MESH_TABLE)
  tx.addTable().push({ verb: 'delete', kind: 'table' }).addTable()
  tx.addSet('meshed4', 'type ipv4_addr;').addSet('meshed6', 'type ipv6_addr;').addSet('strict4', 'type ipv4_addr;').addSet('strict6', 'type ipv6_addr;')
  tx.addChain('capture', 'type nat hook prerouting priority dstnat - 10; policy accept;')
  tx.addRule('capture', `ip saddr @meshed4 meta l4proto tcp fib daddr type != local redirect to :${spec.outboundPort}`)
  tx.addRule('capture', `ip6 saddr @meshed6 meta l4proto tcp fib daddr type != local redirect to :${spec.outboundPort}`)
  tx.addChain('strict', 'type filter hook forward priority filter - 5; policy accept;')
  tx.addRule('strict', 'ip daddr @strict4 meta l4proto tcp reject with tcp reset')
  tx.addRule('strict', 'ip6 daddr @strict6 meta l4proto tcp reject with tcp reset')
  tx.addElements('meshed4', meshed.v4).addElements('meshed6', meshed.v6).addElements('strict4', strict.v4).addElements('strict6', strict.v6)
  return tx
}

/** The capture and STRICT rules, or none at all (--mesh=false). */
export class MeshRules {
  readonly #nft: NftClient
  #last = ''

  constructor(nft: NftClient) {
    this.#nft = nft
  }

  /** Writes the table when it differs from what was last written (a node that never had a meshed pod gets none). */
  async apply(spec: CaptureSpec): Promise<boolean> {
    if (this.#last === '' && spec.meshed.length === 0 && spec.strict.length === 0) return false
    const tx = meshTransaction(spec)
    const text = tx.render()
    if (text === this.#last) return false
    await this.#nft.apply(tx)
    this.#last = text
    return true
  }

  async remove(): Promise<void> {
    const tx = new Transaction('inet', MESH_TABLE).addTable().push({ verb: 'delete', kind: 'table' })
    await this.#nft.apply(tx)
    this.#last = ''
  }
}
