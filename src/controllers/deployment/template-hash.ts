// pod-template-hash: fnv-32a over the canonical JSON of the pod template (plus the
// deployment's collisionCount), encoded like upstream's rand.SafeEncodeString.
import type { V1PodTemplateSpec } from '@kubernetes/client-node'

export const podTemplateHashLabel = 'pod-template-hash'
const alphanums = 'bcdfghjklmnpqrstvwxz2456789'

/** JSON with sorted keys; null/undefined, empty maps and empty lists dropped (Go treats nil and empty alike). */
export function canonicalJson(v: unknown): string {
  return JSON.stringify(normalize(JSON.parse(JSON.stringify(v ?? null))) ?? null)
}

function normalize(v: unknown): unknown {
  if (v === null) return undefined
  if (Array.isArray(v)) {
    const items = v.map((x) => normalize(x) ?? null)
    return items.length === 0 ? undefined : items
  }
  if (typeof v === 'object') {
    const out: Record<string, unknown> = {}
    for (const k of Object.keys(v).sort()) {
      const x = normalize((v as Record<string, unknown>)[k])
      if (x !== undefined) out[k] = x
    }
    return Object.keys(out).length === 0 ? undefined : out
  }
  return v
}

function fnv32a(bytes: Uint8Array, seed = 0x811c9dc5): number {
  let h = seed
  for (const b of bytes) {
    h ^= b
    h = Math.imul(h, 0x01000193) >>> 0
  }
  return h >>> 0
}

export function computeHash(template: V1PodTemplateSpec | undefined, collisionCount?: number): string {
  let h = fnv32a(new TextEncoder().encode(canonicalJson(template ?? {})))
  if (collisionCount !== undefined) {
    const b = new Uint8Array(4)
    new DataView(b.buffer).setUint32(0, collisionCount >>> 0, true)
    h = fnv32a(b, h)
  }
  let out = ''
  for (const ch of String(h)) out += alphanums[ch.charCodeAt(0) % alphanums.length]
  return out
}

function withoutHash(t: V1PodTemplateSpec | undefined): V1PodTemplateSpec {
  const c = structuredClone(t ?? {})
  if (c.metadata?.labels) delete c.metadata.labels[podTemplateHashLabel]
  return c
}

/** Templates equal once the pod-template-hash label is ignored (deploymentutil.EqualIgnoreHash). */
export function equalIgnoreHash(a: V1PodTemplateSpec | undefined, b: V1PodTemplateSpec | undefined): boolean {
  return canonicalJson(withoutHash(a)) === canonicalJson(withoutHash(b))
}
