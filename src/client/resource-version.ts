// Resource versions are opaque strings; weft's (like etcd-backed Kubernetes') are decimal
// counters, so they are compared when both are numeric and otherwise treated as unknown.

/** Negative, zero or positive like a comparator; undefined when either is not a decimal integer. */
export function compareResourceVersions(a: string | undefined, b: string | undefined): number | undefined {
  if (!a || !b || !isDecimal(a) || !isDecimal(b)) return undefined
  const x = a.replace(/^0+(?=\d)/, '')
  const y = b.replace(/^0+(?=\d)/, '')
  if (x.length !== y.length) return x.length - y.length
  return x < y ? -1 : x > y ? 1 : 0
}

function isDecimal(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 48 || c > 57) return false
  }
  return true
}
