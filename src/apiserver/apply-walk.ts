// Walks an object with its model the way server-side apply sees it: which values are
// granular (structs, maps, keyed lists, sets) and which are owned whole (scalars,
// atomic lists, atomic structs and maps), and the FieldsV1 path element of each child.
import type { TypeRef } from '../api/models.ts'
import { ApiError } from '../util/errors.ts'
import { childType, isAtomicMap, isAtomicStruct, listMeta, modelName, type ListMeta } from './merge-keys.ts'
import { emptySet, insert, pathString, type FieldPath, type FieldSet } from './managed-fields.ts'
import { deepEqual, describeValue, isObject } from './patch-values.ts'

/** A custom resource's structural schema node (JSONSchemaProps), where a value has one instead of a model. */
export type SchemaNode = Record<string, any>

export type Shape =
  | { kind: 'struct'; type: TypeRef }
  | { kind: 'map'; type: TypeRef | undefined; schema?: SchemaNode }
  | { kind: 'list'; meta: ListMeta; items: TypeRef | undefined; itemSchema?: SchemaNode }
  | { kind: 'leaf' }

/**
 * In a custom resource's root schema, the property that names a model instead (metadata is
 * ObjectMeta, merged by its own rules).
 */
export const MODEL_MARK = 'x-weft-model'

/** Where a value sits: its type and, for fields, the parent model and field name (list and map metadata hang there). */
export interface Slot {
  type: TypeRef | undefined
  parentModel?: string
  field?: string
  /** A custom resource's value: its schema node decides (list-type, map-type), not a model. */
  schema?: SchemaNode
}

function isSchemaObject(v: unknown): v is SchemaNode {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/** Where a custom resource's child sits: its schema node (unknown fields: an empty one), or the model it is marked with. */
function schemaSlot(schema: SchemaNode | undefined, field?: string): Slot {
  const s = schema ?? {}
  if (typeof s[MODEL_MARK] === 'string') return { type: { kind: 'model', name: s[MODEL_MARK] }, field }
  return { type: undefined, schema: s, field }
}

/** Where a list's items sit. */
export function itemSlotOf(shape: Shape & { kind: 'list' }): Slot {
  return shape.itemSchema !== undefined ? schemaSlot(shape.itemSchema) : { type: shape.items }
}

/** As upstream's structured-merge-diff reads a CRD schema: lists atomic unless list-type says, maps granular unless map-type is atomic. */
function schemaShape(schema: SchemaNode, value: unknown): Shape {
  if (Array.isArray(value)) {
    const listType = schema['x-kubernetes-list-type']
    const items: SchemaNode = isSchemaObject(schema.items) ? schema.items : {}
    if (listType === 'set') return { kind: 'list', meta: { listType: 'set' } as ListMeta, items: undefined, itemSchema: items }
    if (listType === 'map' && Array.isArray(schema['x-kubernetes-list-map-keys'])) {
      const keys: string[] = schema['x-kubernetes-list-map-keys']
      const keyDefaults = Object.fromEntries(keys.flatMap((k) => (items?.properties?.[k]?.default !== undefined ? [[k, items.properties[k].default]] : [])))
      return { kind: 'list', meta: { listType: 'map', keys, ...(Object.keys(keyDefaults).length ? { keyDefaults } : {}) } as ListMeta, items: undefined, itemSchema: items }
    }
    return { kind: 'leaf' }
  }
  if (isSchemaObject(value)) return schema['x-kubernetes-map-type'] === 'atomic' ? { kind: 'leaf' } : { kind: 'map', type: undefined, schema }
  return { kind: 'leaf' }
}

export interface Child {
  pe: string
  value: unknown
  slot: Slot
}

export function shapeOf(slot: Slot, value: unknown): Shape {
  if (slot.schema) return schemaShape(slot.schema, value)
  if (Array.isArray(value)) {
    const meta = slot.field !== undefined ? listMeta(slot.parentModel, slot.field) : listMeta(undefined, '')
    if (meta.listType === 'atomic') return { kind: 'leaf' }
    return { kind: 'list', meta, items: slot.type?.kind === 'array' ? slot.type.items : undefined }
  }
  if (isObject(value)) {
    if (slot.field !== undefined && isAtomicMap(slot.parentModel, slot.field)) return { kind: 'leaf' }
    if (slot.type?.kind === 'model') return isAtomicStruct(slot.type.name) ? { kind: 'leaf' } : { kind: 'struct', type: slot.type }
    return { kind: 'map', type: slot.type }
  }
  return { kind: 'leaf' }
}

/** The `k:{...}` element of a keyed list item; undefined when a key field is missing. */
export function keyElement(item: unknown, meta: ListMeta): string | undefined {
  if (!isObject(item)) return undefined
  const key: Record<string, unknown> = {}
  for (const k of [...(meta.keys ?? [])].sort()) {
    const v = item[k] ?? meta.keyDefaults?.[k]
    if (v === undefined || v === null) return undefined
    key[k] = v
  }
  return 'k:' + JSON.stringify(key)
}

export function valueElement(item: unknown): string {
  return 'v:' + JSON.stringify(item)
}

/**
 * The children of a granular value. `strict` (for applied configurations) rejects list
 * items without their key; otherwise such items are addressed by index.
 */
export function childrenOf(value: unknown, shape: Shape, path: FieldPath, strict: boolean): Child[] {
  if (shape.kind === 'map' && shape.schema) {
    if (!isObject(value)) return []
    const s = shape.schema
    const child = (k: string): SchemaNode | undefined =>
      isSchemaObject(s.properties) && isSchemaObject(s.properties[k]) ? s.properties[k] : isSchemaObject(s.additionalProperties) ? s.additionalProperties : undefined
    return Object.entries(value)
      .filter(([, v]) => v !== undefined && v !== null)
      .map(([k, v]) => ({ pe: 'f:' + k, value: v, slot: schemaSlot(child(k), k) }))
  }
  if (shape.kind === 'struct' || shape.kind === 'map') {
    if (!isObject(value)) return []
    const parentModel = shape.kind === 'struct' ? modelName(shape.type) : undefined
    return Object.entries(value)
      .filter(([, v]) => v !== undefined && v !== null)
      .map(([k, v]) => ({ pe: 'f:' + k, value: v, slot: { type: childType(shape.type, k), parentModel, field: k } }))
  }
  if (shape.kind === 'list') {
    if (!Array.isArray(value)) return []
    const slot = itemSlotOf(shape)
    return value.map((item, i) => {
      let pe: string | undefined
      if (shape.meta.listType === 'set') pe = valueElement(item)
      else pe = keyElement(item, shape.meta)
      if (pe === undefined) {
        if (strict) {
          const keys = (shape.meta.keys ?? []).map((k) => JSON.stringify(k)).join(', ')
          throw new ApiError(422, 'Invalid', `${pathString(path)}: element ${i} (${describeValue(item)}) omits the key field(s) ${keys} of this list`, {
            causes: [{ reason: 'FieldValueRequired', message: `list items are keyed by ${keys}`, field: `${pathString(path)}[${i}]` }],
          })
        }
        pe = 'i:' + i
      }
      return { pe, value: item, slot }
    })
  }
  return []
}

/** The child of `value` at path element `pe`, or undefined. */
export function findChild(value: unknown, shape: Shape, pe: string): unknown {
  if (shape.kind === 'struct' || shape.kind === 'map') {
    if (!isObject(value) || !pe.startsWith('f:')) return undefined
    const v = value[pe.slice(2)]
    return v === null ? undefined : v
  }
  if (shape.kind === 'list' && Array.isArray(value)) return value.find((item, i) => elementOf(item, i, shape) === pe)
  return undefined
}

export function elementOf(item: unknown, index: number, shape: Shape & { kind: 'list' }): string {
  if (shape.meta.listType === 'set') return valueElement(item)
  return keyElement(item, shape.meta) ?? 'i:' + index
}

/** The fields an applied configuration sets: its leaves and its list items. */
export function fieldSetOf(value: unknown, root: Slot, strict: boolean): FieldSet {
  const set = emptySet()
  const walk = (v: unknown, slot: Slot, path: FieldPath): void => {
    const shape = shapeOf(slot, v)
    if (shape.kind === 'leaf') {
      if (path.length > 0) insert(set, path)
      return
    }
    for (const c of childrenOf(v, shape, path, strict)) {
      const p = [...path, c.pe]
      walk(c.value, c.slot, p)
      if (shape.kind === 'list') insert(set, p)
    }
  }
  walk(value, root, [])
  return set
}

export interface Comparison {
  added: FieldSet
  modified: FieldSet
  removed: FieldSet
}

/**
 * What changed from `lhs` to `rhs`, leaf by leaf. A map, list or list item added or
 * removed whole is itself in the set too (structs are not: they only group fields).
 */
export function compareObjects(lhs: unknown, rhs: unknown, root: Slot): Comparison {
  const out: Comparison = { added: emptySet(), modified: emptySet(), removed: emptySet() }
  // Everything under `v` joins `target` at `path`: built in one pass below the node the
  // path leads to, rather than inserted path by path from the root.
  const all = (target: FieldSet, v: unknown, slot: Slot, path: FieldPath, isItem: boolean): void => {
    if (path.length === 0) return fill(target, v, slot, path, false, true)
    const chain: FieldSet[] = [target]
    for (const pe of path) {
      const node = chain[chain.length - 1]
      let next = node.children.get(pe)
      if (!next) {
        next = emptySet()
        node.children.set(pe, next)
      }
      chain.push(next)
    }
    fill(chain[chain.length - 1], v, slot, path, isItem, false)
    // Drop the nodes this made if nothing ended up below them (an empty struct).
    for (let i = chain.length - 1; i > 0 && chain[i].children.size === 0 && !chain[i].member; i--) {
      chain[i - 1].children.delete(path[i - 1])
    }
  }
  const fill = (node: FieldSet, v: unknown, slot: Slot, path: FieldPath, isItem: boolean, root: boolean): void => {
    const shape = shapeOf(slot, v)
    if (!root && (isItem || shape.kind !== 'struct')) node.member = true
    if (shape.kind === 'leaf') return
    for (const c of childrenOf(v, shape, path, false)) {
      let child = node.children.get(c.pe)
      const fresh = !child
      if (!child) child = emptySet()
      fill(child, c.value, c.slot, path, shape.kind === 'list', false)
      // A struct with nothing set inside is not in the set at all.
      if (fresh && (child.member || child.children.size > 0)) node.children.set(c.pe, child)
    }
  }
  const walk = (l: unknown, r: unknown, slot: Slot, path: FieldPath, isItem: boolean): void => {
    if (l === undefined) return all(out.added, r, slot, path, isItem)
    if (r === undefined) return all(out.removed, l, slot, path, isItem)
    const ls = shapeOf(slot, l)
    const rs = shapeOf(slot, r)
    if (ls.kind === 'leaf' || rs.kind === 'leaf' || ls.kind !== rs.kind) {
      if (!deepEqual(l, r)) insert(out.modified, path)
      return
    }
    const lc = new Map(childrenOf(l, ls, path, false).map((c) => [c.pe, c]))
    const rc = new Map(childrenOf(r, rs, path, false).map((c) => [c.pe, c]))
    const items = rs.kind === 'list'
    for (const [pe, c] of lc) walk(c.value, rc.get(pe)?.value, c.slot, [...path, pe], items)
    for (const [pe, c] of rc) if (!lc.has(pe)) walk(undefined, c.value, c.slot, [...path, pe], items)
  }
  walk(lhs ?? {}, rhs ?? {}, root, [], false)
  return out
}
