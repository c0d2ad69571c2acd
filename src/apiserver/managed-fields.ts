// Field sets and `metadata.managedFields`: which manager owns which fields, in the
// FieldsV1 wire format (`{"f:spec":{"f:replicas":{}}}`, list items as `k:{...}` by key,
// `v:...` for set members, `i:N` by index, `"."` when a node with children is itself owned).
import { isObject, type JsonObject } from './patch-values.ts'

export interface FieldSet {
  /** The path leading here is itself in the set. */
  member: boolean
  children: Map<string, FieldSet>
}

export type FieldPath = string[]

export function emptySet(): FieldSet {
  return { member: false, children: new Map() }
}

export function isEmpty(set: FieldSet): boolean {
  return !set.member && set.children.size === 0
}

export function insert(set: FieldSet, path: FieldPath): void {
  let node = set
  for (const pe of path) {
    let next = node.children.get(pe)
    if (!next) {
      next = emptySet()
      node.children.set(pe, next)
    }
    node = next
  }
  node.member = true
}

export function child(set: FieldSet | undefined, pe: string): FieldSet | undefined {
  return set?.children.get(pe)
}

export function has(set: FieldSet, path: FieldPath): boolean {
  let node: FieldSet | undefined = set
  for (const pe of path) {
    node = node.children.get(pe)
    if (!node) return false
  }
  return node.member
}

// Sets are not changed once built (only `insert` writes, while a set is being made), so
// the operations below share unchanged subtrees instead of copying them.

export function union(a: FieldSet, b: FieldSet): FieldSet {
  if (isEmpty(b)) return a
  if (isEmpty(a)) return b
  const out: FieldSet = { member: a.member, children: new Map(a.children) }
  out.member ||= b.member
  for (const [k, v] of b.children) {
    const mine = out.children.get(k)
    out.children.set(k, mine ? union(mine, v) : v)
  }
  return out
}

/** Members of `a` that are not members of `b`. */
export function difference(a: FieldSet, b: FieldSet | undefined): FieldSet {
  const out: FieldSet = { member: a.member && !b?.member, children: new Map() }
  for (const [k, v] of a.children) {
    const d = difference(v, b?.children.get(k))
    if (!isEmpty(d)) out.children.set(k, d)
  }
  return out
}

/** Members of both `a` and `b`. */
export function intersection(a: FieldSet, b: FieldSet): FieldSet {
  const out: FieldSet = { member: a.member && b.member, children: new Map() }
  for (const [k, v] of a.children) {
    const other = b.children.get(k)
    if (!other) continue
    const i = intersection(v, other)
    if (!isEmpty(i)) out.children.set(k, i)
  }
  return out
}

/** Drops every path under (and at) the paths of `ignored`'s members. */
export function withoutSubtrees(set: FieldSet, ignored: FieldSet): FieldSet {
  if (ignored.member) return emptySet()
  const out: FieldSet = { member: set.member, children: new Map() }
  for (const [k, v] of set.children) {
    const ig = ignored.children.get(k)
    const rest = ig ? withoutSubtrees(v, ig) : v
    if (!isEmpty(rest)) out.children.set(k, rest)
  }
  return out
}

/** Every member path, in FieldsV1 order. */
export function members(set: FieldSet, prefix: FieldPath = []): FieldPath[] {
  const out: FieldPath[] = []
  if (set.member) out.push(prefix)
  for (const k of sortedKeys(set.children)) out.push(...members(set.children.get(k) as FieldSet, [...prefix, k]))
  return out
}

const kindOrder: Record<string, number> = { f: 0, k: 1, v: 2, i: 3 }

function sortedKeys(children: Map<string, FieldSet>): string[] {
  return [...children.keys()].sort((a, b) => {
    const ka = kindOrder[a[0]] ?? 9
    const kb = kindOrder[b[0]] ?? 9
    return ka !== kb ? ka - kb : a < b ? -1 : a > b ? 1 : 0
  })
}

export function toFieldsV1(set: FieldSet): JsonObject {
  const out: JsonObject = {}
  if (set.member && set.children.size > 0) out['.'] = {}
  for (const k of sortedKeys(set.children)) out[k] = toFieldsV1(set.children.get(k) as FieldSet)
  return out
}

export function fromFieldsV1(value: unknown): FieldSet {
  const set = emptySet()
  if (!isObject(value)) return set
  const keys = Object.keys(value)
  if (keys.length === 0) set.member = true
  for (const k of keys) {
    if (k === '.') set.member = true
    else set.children.set(k, fromFieldsV1(value[k]))
  }
  return set
}

/** A path as Kubernetes prints it in conflicts: `.spec.containers[name="web"].image`. */
export function pathString(path: FieldPath): string {
  return path
    .map((pe) => {
      const body = pe.slice(2)
      switch (pe[0]) {
        case 'f':
          return '.' + body
        case 'k': {
          const key = JSON.parse(body) as JsonObject
          return '[' + Object.entries(key).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(',') + ']'
        }
        case 'v':
          return `[=${body}]`
        case 'i':
          return `[${body}]`
        default:
          return pe
      }
    })
    .join('')
}

export type Operation = 'Apply' | 'Update'

/** One `managedFields` entry, with its field set decoded. */
export interface ManagerEntry {
  manager: string
  operation: Operation
  apiVersion: string
  time?: string
  subresource?: string
  fields: FieldSet
}

/** Apply entries are one per manager whatever the version; Update entries one per manager and version. */
export function entryId(e: Pick<ManagerEntry, 'manager' | 'operation' | 'apiVersion' | 'subresource'>): string {
  return JSON.stringify([e.manager, e.operation, e.operation === 'Apply' ? '' : e.apiVersion, e.subresource ?? ''])
}

/** Reads `metadata.managedFields`, merging duplicate entries; malformed entries are dropped. */
export function decodeManagedFields(obj: unknown): Map<string, ManagerEntry> {
  const out = new Map<string, ManagerEntry>()
  const meta = isObject(obj) ? obj.metadata : undefined
  const list = isObject(meta) ? meta.managedFields : undefined
  if (!Array.isArray(list)) return out
  for (const raw of list) {
    if (!isObject(raw) || typeof raw.manager !== 'string') continue
    if (raw.operation !== 'Apply' && raw.operation !== 'Update') continue
    const entry: ManagerEntry = {
      manager: raw.manager,
      operation: raw.operation,
      apiVersion: typeof raw.apiVersion === 'string' ? raw.apiVersion : '',
      fields: fromFieldsV1(raw.fieldsV1),
    }
    if (typeof raw.time === 'string') entry.time = raw.time
    if (typeof raw.subresource === 'string' && raw.subresource) entry.subresource = raw.subresource
    const id = entryId(entry)
    const prev = out.get(id)
    if (prev) prev.fields = union(prev.fields, entry.fields)
    else out.set(id, entry)
  }
  return out
}

/** Renders entries as `metadata.managedFields`, sorted as Kubernetes sorts them; empty entries are dropped. */
export function encodeManagedFields(entries: Iterable<ManagerEntry>): JsonObject[] {
  const list = [...entries].filter((e) => !isEmpty(e.fields))
  const seconds = (t: string | undefined): number => (t ? Math.floor(Date.parse(t) / 1000) || 0 : 0)
  const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0)
  list.sort(
    (p, q) =>
      cmp(p.operation, q.operation) ||
      seconds(p.time) - seconds(q.time) ||
      cmp(p.manager, q.manager) ||
      cmp(p.apiVersion, q.apiVersion) ||
      cmp(p.subresource ?? '', q.subresource ?? ''),
  )
  return list.map((e) => {
    const out: JsonObject = { manager: e.manager, operation: e.operation, apiVersion: e.apiVersion }
    if (e.time !== undefined) out.time = e.time
    out.fieldsType = 'FieldsV1'
    out.fieldsV1 = toFieldsV1(e.fields)
    if (e.subresource) out.subresource = e.subresource
    return out
  })
}

/** How a manager is named in conflict messages: `"kubectl"`, or `"kubectl" using apps/v1` for updaters. */
export function describeManager(e: Pick<ManagerEntry, 'manager' | 'operation' | 'apiVersion' | 'subresource'>): string {
  let s = JSON.stringify(e.manager)
  if (e.subresource) s += ` with subresource ${JSON.stringify(e.subresource)}`
  if (e.operation === 'Update') s += ` using ${e.apiVersion}`
  return s
}
