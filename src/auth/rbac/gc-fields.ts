// upstream rbacregistry.IsOnlyMutatingGCFields: an update that only changes what the garbage
// collector writes (ownerReferences, finalizers) is never an escalation.

const STOMPED_METADATA = ['ownerReferences', 'finalizers', 'selfLink', 'managedFields'] as const
const TYPE_META = ['kind', 'apiVersion'] as const

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** Go's zero values and nil/empty collections compare equal (equality.Semantic), so they are dropped. */
function isEmpty(value: unknown): boolean {
  if (value === undefined || value === null || value === '') return true
  if (Array.isArray(value)) return value.length === 0
  return isRecord(value) && Object.keys(value).length === 0
}

export function semanticEqual(a: unknown, b: unknown): boolean {
  if (isEmpty(a) && isEmpty(b)) return true
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false
    return a.every((x, i) => semanticEqual(x, b[i]))
  }
  if (isRecord(a) && isRecord(b)) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)])
    for (const k of keys) if (!semanticEqual(a[k], b[k])) return false
    return true
  }
  return a === b
}

function withoutGcFields(obj: Record<string, unknown>): Record<string, unknown> {
  const copy: Record<string, unknown> = { ...obj }
  for (const k of TYPE_META) delete copy[k]
  if (isRecord(obj.metadata)) {
    const meta: Record<string, unknown> = { ...obj.metadata }
    for (const k of STOMPED_METADATA) delete meta[k]
    copy.metadata = meta
  }
  return copy
}

/** True when `next` differs from `old` at most in metadata.ownerReferences, finalizers, selfLink and managedFields. */
export function isOnlyMutatingGCFields(next: unknown, old: unknown): boolean {
  if (!isRecord(next) || !isRecord(old)) return false
  return semanticEqual(withoutGcFields(next), withoutGcFields(old))
}
