// The request path as weft routes and forwards it: normalised per RFC 3986 §6.2.2 before the
// route lookup, on every listener (HTTP/1.1 fast path, node:http, h2, WebSocket, gRPC), so
// that `/x/../admin` and `/%61dmin` meet the `/admin` rule and not the one for `/`.
//
// - Percent-escapes of unreserved characters (ALPHA, DIGIT, `-`, `.`, `_`, `~`) are decoded;
//   every other escape is kept, with its hex digits upper-cased (`%2f` → `%2F`). `%2F` stays
//   encoded and so never splits a path element: `/a%2Fb` is the single element `a%2Fb`.
// - Dot segments are removed (RFC 3986 §5.2.4), after decoding, so `%2e%2e` counts as `..`;
//   `..` never climbs above `/` (`/../a` → `/a`).
// - A `%` not followed by two hex digits makes the request malformed: the caller answers 400.
// - Empty elements (`//`) are kept: Prefix matching ignores them and Exact matching does not.
// - The query string (from the first `?`) is passed on untouched.
// The normalised target is what is routed and also what goes upstream, as nginx does: the
// backend sees the path the rule was chosen by, never a `..` the rule did not see.

/** `target` with its path normalised: the very same string when there is nothing to change (no allocation); undefined when a percent-escape is malformed. */
export function normalizeTarget(target: string): string | undefined {
  const n = target.length
  if (n === 0 || target.charCodeAt(0) !== 47 /* '/' */) return target
  for (let i = 1; i < n; i++) {
    const c = target.charCodeAt(i)
    if (c === 63 /* '?' */) return target
    if (c === 37 /* '%' */) return slow(target)
    if (c === 46 /* '.' */ && target.charCodeAt(i - 1) === 47) {
      const next = i + 1 < n ? target.charCodeAt(i + 1) : -1
      if (next === -1 || next === 47 || next === 63) return slow(target)
      if (next === 46) {
        const after = i + 2 < n ? target.charCodeAt(i + 2) : -1
        if (after === -1 || after === 47 || after === 63) return slow(target)
      }
    }
  }
  return target
}

function hex(c: number): number {
  if (c >= 48 && c <= 57) return c - 48
  if (c >= 65 && c <= 70) return c - 55
  if (c >= 97 && c <= 102) return c - 87
  return -1
}

function unreserved(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 45 || c === 46 || c === 95 || c === 126
}

const HEX = '0123456789ABCDEF'

function slow(target: string): string | undefined {
  const q = target.indexOf('?')
  const path = q === -1 ? target : target.slice(0, q)
  let decoded = ''
  let from = 0
  for (let i = path.indexOf('%'); i !== -1; i = path.indexOf('%', i)) {
    const hi = i + 1 < path.length ? hex(path.charCodeAt(i + 1)) : -1
    const lo = i + 2 < path.length ? hex(path.charCodeAt(i + 2)) : -1
    if (hi < 0 || lo < 0) return undefined
    const byte = hi * 16 + lo
    decoded += path.slice(from, i) + (unreserved(byte) ? String.fromCharCode(byte) : `%${HEX[hi]}${HEX[lo]}`)
    i += 3
    from = i
  }
  decoded += path.slice(from)
  const normalized = removeDotSegments(decoded)
  const out = q === -1 ? normalized : normalized + target.slice(q)
  return out === target ? target : out
}

/** RFC 3986 §5.2.4 for an absolute path. */
function removeDotSegments(path: string): string {
  const input = path.split('/')
  const out: string[] = []
  const last = input.length - 1
  for (let i = 1; i <= last; i++) {
    const segment = input[i]!
    if (segment === '.' || segment === '..') {
      if (segment === '..') out.pop()
      if (i === last) out.push('')
      continue
    }
    out.push(segment)
  }
  return `/${out.join('/')}`
}
