// Moving from client-side to server-side apply (KEP-555's upgrade path), as kube-apiserver
// does it for the `kubectl` field manager: a server-side apply may take over the fields
// that `kubectl apply` recorded in the last-applied-configuration annotation and that
// nobody changed since, and the annotation is kept up to date while it exists, so going
// back to client-side apply still works.

import { compareObjects, fieldSetOf, type Slot } from './apply-walk.ts'
import { difference, type FieldSet } from './managed-fields.ts'
import { isObject, type JsonObject } from './patch-values.ts'

export const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration'

/** The field manager kubectl uses for `apply --server-side`, the only one given this path. */
export const KUBECTL_MANAGER = 'kubectl'

/** Kubernetes' limit on the total size of an object's annotations. */
const MAX_ANNOTATIONS_BYTES = 256 * 1024

function annotationsOf(obj: unknown): Record<string, unknown> | undefined {
  return isObject(obj) && isObject(obj.metadata) && isObject(obj.metadata.annotations) ? obj.metadata.annotations : undefined
}

/**
 * The fields in the live object's last-applied configuration whose values are still the
 * ones it recorded: conflicts on these do not stop `kubectl`'s server-side apply. Undefined
 * when there is no usable annotation (absent, not JSON, or of another apiVersion).
 */
export function unchangedSinceLastApplied(live: unknown, apiVersion: string, type: Slot): FieldSet | undefined {
  const text = annotationsOf(live)?.[LAST_APPLIED]
  if (typeof text !== 'string' || text === '') return undefined
  let lastApplied: unknown
  try {
    lastApplied = JSON.parse(text)
  } catch {
    return undefined
  }
  if (!isObject(lastApplied) || lastApplied.apiVersion !== apiVersion) return undefined
  const cmp = compareObjects(lastApplied, live, type)
  return difference(difference(difference(fieldSetOf(lastApplied, type, false), cmp.modified), cmp.added), cmp.removed)
}

/**
 * After `kubectl`'s server-side apply: if the object has a last-applied annotation, it now
 * records this applied configuration (without the annotation itself); if that would pass
 * the annotations' size limit, the annotation goes.
 */
export function refreshLastApplied(obj: JsonObject, applied: JsonObject): JsonObject {
  const annotations = annotationsOf(obj)
  const current = annotations?.[LAST_APPLIED]
  if (typeof current !== 'string' || current === '') return obj
  const config = isObject(applied.metadata) && isObject(applied.metadata.annotations) ? withoutAnnotation(applied) : applied
  const next: Record<string, unknown> = { ...annotations, [LAST_APPLIED]: sortedJson(config) }
  let size = 0
  for (const [k, v] of Object.entries(next)) size += k.length + String(v).length
  if (size > MAX_ANNOTATIONS_BYTES) delete next[LAST_APPLIED]
  return { ...obj, metadata: { ...(obj.metadata as JsonObject), annotations: next } }
}

function withoutAnnotation(applied: JsonObject): JsonObject {
  const metadata = applied.metadata as JsonObject
  const { [LAST_APPLIED]: _, ...annotations } = metadata.annotations as Record<string, unknown>
  return { ...applied, metadata: { ...metadata, annotations } }
}

/** JSON with object keys in order, as Go's encoding of an unstructured object writes it. */
function sortedJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    isObject(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  )
}
