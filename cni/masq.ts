// ipMasq for pods: one nat base chain per attachment in weft's own table (`inet weft-cni`),
// masquerading what a pod address sends outside its subnet. Named by a hash of network,
// container and interface, so DEL and GC need no lookup. Each change is one nft transaction.
import { createHash } from 'node:crypto'
import { isIP } from 'node:net'
import { bigIntToIp, ipToBigInt } from '../src/util/cidr.ts'
import { nftApply, nftList } from '../src/netfilter/nft.ts'
import type { NetnsRef } from '../src/netlink/netns.ts'

export const MASQ_TABLE = 'weft-cni'
const TABLE = `inet ${MASQ_TABLE}`
const BASE = '{ type nat hook postrouting priority srcnat; policy accept; }'

export interface MasqAttachment {
  network: string
  containerID: string
  ifname: string
}

const hex = (text: string, n: number): string => createHash('sha256').update(text).digest('hex').slice(0, n)

function networkPrefix(network: string): string {
  return `masq-${hex(network, 8)}-`
}

export function masqChainName(a: MasqAttachment): string {
  return networkPrefix(a.network) + hex(`${a.containerID}\n${a.ifname}`, 12)
}

/** The subnet of an address in CIDR notation: 10.1.2.3/24 → 10.1.2.0/24. */
export function subnetOf(cidr: string): string {
  const [addr, len] = cidr.split('/')
  const family = isIP(addr) as 4 | 6
  const width = family === 4 ? 32n : 128n
  const prefix = BigInt(len)
  const mask = ((1n << width) - 1n) ^ ((1n << (width - prefix)) - 1n)
  return `${bigIntToIp(ipToBigInt(addr) & mask, family)}/${len}`
}

/** The nft rule lines that masquerade `addresses` (CIDRs) leaving their subnets. */
export function masqRules(chain: string, addresses: readonly string[]): string[] {
  return addresses.map((cidr) => {
    const ip = cidr.split('/')[0]
    const v4 = isIP(ip) === 4
    const fam = v4 ? 'ip' : 'ip6'
    const multicast = v4 ? '224.0.0.0/4' : 'ff00::/8'
    return `add rule ${TABLE} ${chain} ${fam} saddr ${ip} ${fam} daddr != { ${subnetOf(cidr)}, ${multicast} } masquerade`
  })
}

export async function addMasq(a: MasqAttachment, addresses: readonly string[], netns?: NetnsRef): Promise<void> {
  const chain = masqChainName(a)
  await nftApply([`add table ${TABLE}`, `add chain ${TABLE} ${chain} ${BASE}`, `flush chain ${TABLE} ${chain}`, ...masqRules(chain, addresses)], netns)
}

/** Removes an attachment's chain; a missing one is success. */
export async function removeMasq(a: MasqAttachment, netns?: NetnsRef): Promise<void> {
  const chain = masqChainName(a)
  await nftApply([`add table ${TABLE}`, `add chain ${TABLE} ${chain} ${BASE}`, `flush chain ${TABLE} ${chain}`, `delete chain ${TABLE} ${chain}`], netns)
}

export async function listMasqChains(netns?: NetnsRef): Promise<string[]> {
  const items = await nftList(['list', 'table', 'inet', MASQ_TABLE], netns)
  const names: string[] = []
  for (const item of items) {
    const chain = item.chain as { name?: unknown } | undefined
    if (chain && typeof chain.name === 'string') names.push(chain.name)
  }
  return names
}

/** Deletes this network's chains whose attachment is not in `keep`; returns their names. */
export async function gcMasq(network: string, keep: readonly Omit<MasqAttachment, 'network'>[], netns?: NetnsRef): Promise<string[]> {
  const prefix = networkPrefix(network)
  const wanted = new Set(keep.map((k) => masqChainName({ network, ...k })))
  const stale = (await listMasqChains(netns)).filter((n) => n.startsWith(prefix) && !wanted.has(n))
  await nftApply(stale.flatMap((c) => [`flush chain ${TABLE} ${c}`, `delete chain ${TABLE} ${c}`]), netns)
  return stale
}
