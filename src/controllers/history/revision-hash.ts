// ControllerRevision names as pkg/controller/history makes them: `<owner>-<hash>`, the hash
// FNV-1 32 (Go's fnv.New32, not 32a) over the revision's raw data, then the collision count
// in decimal, encoded by rand.SafeEncodeString. Upstream's raw data is Go's json.Marshal of a
// map: keys sorted, `<`, `>`, `&`, U+2028 and U+2029 escaped; goJson writes the same bytes
// for the JSON weft stores (nulls dropped, as Go's typed decode drops them).

const alphanums = 'bcdfghjklmnpqrstvwxz2456789'

/** rand.SafeEncodeString: each character mapped into an alphabet without vowels or look-alikes. */
export function safeEncodeString(s: string): string {
  let out = ''
  for (let i = 0; i < s.length; i++) out += alphanums[s.charCodeAt(i) % alphanums.length]
  return out
}

function goString(s: string): string {
  return JSON.stringify(s).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
}

const utf8 = new TextEncoder()

/** Go sorts map keys by their UTF-8 bytes, not by UTF-16 code units. */
function compareKeys(a: string, b: string): number {
  const x = utf8.encode(a)
  const y = utf8.encode(b)
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i] - y[i]
  return x.length - y.length
}

export function goJson(value: unknown): string {
  if (value === null || value === undefined) return 'null'
  if (typeof value === 'string') return goString(value)
  if (typeof value === 'number' || typeof value === 'boolean') return JSON.stringify(value)
  if (Array.isArray(value)) return `[${value.map(goJson).join(',')}]`
  if (typeof value === 'object') {
    const o = value as Record<string, unknown>
    const keys = Object.keys(o)
      .filter((k) => o[k] !== null && o[k] !== undefined)
      .sort(compareKeys)
    return `{${keys.map((k) => `${goString(k)}:${goJson(o[k])}`).join(',')}}`
  }
  throw new TypeError(`cannot encode a ${typeof value} as JSON`)
}

/** FNV-1, 32 bits, continuing from `seed`. */
export function fnv1(bytes: Uint8Array, seed = 0x811c9dc5): number {
  let h = seed
  for (const b of bytes) h = (Math.imul(h, 0x01000193) ^ b) >>> 0
  return h
}

/** HashControllerRevision: `probe` is the collision count, absent for none. */
export function hashControllerRevision(data: unknown, probe?: number): string {
  let h = fnv1(utf8.encode(goJson(data)))
  if (probe !== undefined) h = fnv1(utf8.encode(String(probe)), h)
  return safeEncodeString(String(h))
}

/** ControllerRevisionName: the prefix cut to 223 bytes so the name stays within 253. */
export function controllerRevisionName(prefix: string, hash: string): string {
  return `${prefix.length > 223 ? prefix.slice(0, 223) : prefix}-${hash}`
}
