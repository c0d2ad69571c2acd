// Whether two objects would serialise the same, key order and Date/string timestamps aside:
// a status that would not change is not written.

function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical)
  if (v instanceof Date) return v.toISOString().replace(/\.\d{3}Z$/, 'Z')
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {}
    for (const k of Object.keys(v).sort()) {
      const x = (v as Record<string, unknown>)[k]
      if (x !== undefined) out[k] = canonical(x)
    }
    return out
  }
  return v
}

/** `v` as plain JSON: Dates as RFC 3339 strings, undefined fields gone. */
export function plainJson<T>(v: T): T {
  return canonical(v) as T
}

export function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b))
}
