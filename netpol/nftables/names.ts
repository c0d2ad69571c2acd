// Names of the objects in weft's NetworkPolicy table. Every name is built from constants, a
// family digit and hashes (names.ts of the compiler), never from API text, so each is a valid
// nft identifier whatever the objects say.
import { hash16 } from '../names.ts'
import type { Family } from '../model.ts'

export const TABLE = 'weft-netpol'
/** Bridged pod traffic reaches the inet hooks through br_netfilter (see the README on why there is no bridge-family table). */
export const FAMILY = 'inet'
/** The one base chain: `type filter hook forward priority filter`. */
export const FORWARD_CHAIN = 'forward'

export type Direction = 'ingress' | 'egress'

const v = (f: Family) => `v${f}`

/** The node's own addresses (always allowed to and from its pods). */
export function nodeIPsSet(f: Family): string {
  return `node-ips-${v(f)}`
}

/** The verdict map from a pod's address to its chain of `dir`: `egress-v4`, `ingress-v6`. */
export function verdictMap(dir: Direction, f: Family): string {
  return `${dir}-${v(f)}`
}

/** A pod's chain of one direction: `in-<hash16(uid)>` or `out-<hash16(uid)>`. */
export function podChain(dir: Direction, uid: string): string {
  return `${dir === 'ingress' ? 'in' : 'out'}-${hash16(`pod\n${uid}`)}`
}

/** One family's half of a compiler peer set: `np-pods-…-v4`. */
export function peerSet(name: string, f: Family): string {
  return `${name}-${v(f)}`
}

const PEER_SET = /^np-(pods|cidrs|ports)-[a-z2-7]{16}$/

/** Whether `name` is a compiler set name (names.ts setName): the only ones rules may refer to. */
export function isPeerSetName(name: string): boolean {
  return PEER_SET.test(name)
}
