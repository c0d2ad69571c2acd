// Names of the peer sets: a kind prefix and a hash of what the set stands for, so they are
// valid nft identifiers whatever the API objects say, and the same on every sync and node.
import { createHash } from 'node:crypto'

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567'

/** 16 lowercase base32 characters (80 bits) of sha256(text). */
export function hash16(text: string): string {
  const d = createHash('sha256').update(text).digest()
  let out = ''
  let acc = 0
  let bits = 0
  for (let i = 0; out.length < 16; i++) {
    acc = (acc << 8) | d[i]!
    bits += 8
    while (bits >= 5 && out.length < 16) {
      bits -= 5
      out += BASE32[(acc >> bits) & 31]
    }
    acc &= (1 << bits) - 1
  }
  return out
}

export type SetKind = 'pods' | 'cidrs' | 'ports'

/** `np-pods-…`, `np-cidrs-…` or `np-ports-…`: 25 characters of [a-z0-9-]. */
export function setName(kind: SetKind, descriptor: string): string {
  return `np-${kind}-${hash16(`${kind}\n${descriptor}`)}`
}
