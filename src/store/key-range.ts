// Prefix ranges in byte (UTF-8) order, the order both backends sort keys in.

/** The smallest string greater than every string starting with `prefix`; undefined when there is none. */
export function prefixEnd(prefix: string): string | undefined {
  const chars = Array.from(prefix)
  while (chars.length > 0) {
    const last = chars.pop() as string
    let cp = (last.codePointAt(0) as number) + 1
    if (cp === 0xd800) cp = 0xe000
    if (cp <= 0x10ffff) return chars.join('') + String.fromCodePoint(cp)
  }
  return undefined
}

/** Byte-wise range end for etcd: `prefix` with its last byte below 0xff incremented; `\0` (no end) when none. */
export function prefixEndBytes(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix)
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i] < 0xff) {
      end[i]++
      return end.subarray(0, i + 1)
    }
  }
  return Buffer.from([0])
}

/** Compares two strings in UTF-8 byte order. */
export function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b))
}
