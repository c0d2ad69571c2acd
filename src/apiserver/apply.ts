// Server-side apply (PATCH with `application/apply-patch+yaml`) and field ownership
// tracking for ordinary writes, after Kubernetes' structured-merge-diff: the applied
// configuration's fields become the manager's, fields it stops applying are removed
// unless someone else owns them, and changing a field another manager owns is a
// conflict unless forced. Pure: the caller reads and stores the object.
import { apiVersionOf, type ResourceInfo } from '../api/registry.ts'
import { ApiError, badRequest, type StatusCause } from '../util/errors.ts'
import { childrenOf, compareObjects, elementOf, fieldSetOf, findChild, itemSlotOf, MODEL_MARK, shapeOf, type Slot } from './apply-walk.ts'
import {
  decodeManagedFields,
  describeManager,
  difference,
  emptySet,
  encodeManagedFields,
  entryId,
  insert,
  intersection,
  isEmpty,
  members,
  pathString,
  union,
  withoutSubtrees,
  type FieldPath,
  type FieldSet,
  type ManagerEntry,
} from './managed-fields.ts'
import { clone, deepEqual, isObject, type JsonObject } from './patch-values.ts'
import { ephemeralContainersResetPaths, ephemeralContainersSubresource } from './ephemeral-containers.ts'
import { KUBECTL_MANAGER, refreshLastApplied, unchangedSinceLastApplied } from './last-applied.ts'

export interface ApplyOptions {
  fieldManager: string
  force: boolean
  /** RFC 3339 time stamped on the manager's entry. */
  now: string
  /** Set when the request went to a subresource (`status`, `scale`). */
  subresource?: string
}

export interface UpdateOptions {
  fieldManager: string
  operation: 'Update'
  now: string
  subresource?: string
}

/** The manager Kubernetes credits with an object's fields when it is first applied to without any managedFields. */
export const beforeFirstApply = 'before-first-apply'

const strip = emptySet()
for (const p of [
  ['f:apiVersion'],
  ['f:kind'],
  ['f:metadata'],
  ...['name', 'namespace', 'creationTimestamp', 'selfLink', 'uid', 'clusterName', 'generation', 'managedFields', 'resourceVersion'].map((f) => [
    'f:metadata',
    'f:' + f,
  ]),
]) {
  insert(strip, p)
}

/** Fields the request cannot change: `.status` through the main resource, `.spec` through `/status` (and `/approval`, with the certificate). */
function resetFields(info: ResourceInfo, subresource: string | undefined): FieldSet {
  const set = emptySet()
  if (subresource === 'status') insert(set, ['f:spec'])
  else if (subresource === 'approval') {
    insert(set, ['f:spec'])
    insert(set, ['f:status', 'f:certificate'])
  } else if (subresource === ephemeralContainersSubresource) {
    for (const path of ephemeralContainersResetPaths()) insert(set, path)
  } else if (info.subresources.includes('status')) insert(set, ['f:status'])
  return set
}

function tracked(set: FieldSet, ignored: FieldSet): FieldSet {
  return withoutSubtrees(difference(set, strip), ignored)
}

/**
 * Where the object sits: its model, or a custom resource's schema (its metadata merged as
 * ObjectMeta; without a schema, everything unknown: lists atomic, maps granular).
 */
function rootSlot(info: ResourceInfo): Slot {
  if (!info.custom) return { type: { kind: 'model', name: info.model } }
  const schema = info.custom.schema ?? {}
  const properties = typeof schema.properties === 'object' && schema.properties !== null ? schema.properties : {}
  return { type: undefined, schema: { ...schema, properties: { ...properties, metadata: { [MODEL_MARK]: 'V1ObjectMeta' } } } }
}

function withoutManagedFields(obj: unknown): unknown {
  if (!isObject(obj) || !isObject(obj.metadata) || !Object.hasOwn(obj.metadata, 'managedFields')) return obj
  const { managedFields: _, ...metadata } = obj.metadata
  return { ...obj, metadata }
}

function withManagedFields(obj: unknown, entries: Iterable<ManagerEntry>): JsonObject {
  // Only metadata.managedFields changes, so copying the two levels above it is enough.
  const out: JsonObject = isObject(obj) ? { ...obj } : {}
  const metadata: JsonObject = isObject(out.metadata) ? { ...out.metadata } : {}
  const list = encodeManagedFields(entries)
  if (list.length > 0) metadata.managedFields = list
  else delete metadata.managedFields
  out.metadata = metadata
  return out
}

function dropNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(dropNulls)
  if (!isObject(value)) return value
  const out: JsonObject = {}
  for (const [k, v] of Object.entries(value)) if (v !== null && v !== undefined) out[k] = dropNulls(v)
  return out
}

/**
 * Applies `applied` for `opts.fieldManager` on top of `live` (undefined: the object is
 * being created) and returns the new object with `metadata.managedFields` updated.
 * Throws a 409 Conflict listing every field another manager owns and this apply would change, unless `force`.
 */
export function serverSideApply(info: ResourceInfo, live: object | undefined, applied: object, opts: ApplyOptions): JsonObject {
  if (!opts.fieldManager) throw badRequest('PATCH with application/apply-patch+yaml requires the fieldManager query parameter')
  if (!isObject(applied)) throw badRequest('the applied configuration must be an object')
  const apiVersion = apiVersionOf(info)
  if (applied.apiVersion !== undefined && applied.apiVersion !== apiVersion) {
    throw badRequest(`the applied configuration has apiVersion ${JSON.stringify(applied.apiVersion)}, but this endpoint serves ${apiVersion}`)
  }
  if (applied.kind !== undefined && applied.kind !== info.kind) {
    throw badRequest(`the applied configuration has kind ${JSON.stringify(applied.kind)}, but this endpoint serves ${info.kind}`)
  }
  if (isObject(applied.metadata) && applied.metadata.managedFields != null) throw badRequest('metadata.managedFields must be nil in an applied configuration')

  const type = rootSlot(info)
  const ignored = resetFields(info, opts.subresource)
  const config = dropNulls({ apiVersion, kind: info.kind, ...applied }) as JsonObject
  const liveObj = withoutManagedFields(live ?? {})
  const managers = decodeManagedFields(live)
  if (live !== undefined && managers.size === 0) {
    const all = compareObjects({}, liveObj, type)
    const seed: ManagerEntry = { manager: beforeFirstApply, operation: 'Update', apiVersion, time: opts.now, fields: tracked(union(all.added, all.modified), ignored) }
    managers.set(entryId(seed), seed)
  }

  const self: ManagerEntry = { manager: opts.fieldManager, operation: 'Apply', apiVersion, time: opts.now, fields: tracked(fieldSetOf(config, type, true), ignored) }
  if (opts.subresource) self.subresource = opts.subresource
  const id = entryId(self)
  const last = managers.get(id)?.fields
  managers.set(id, self)

  let merged = mergeValues(liveObj, config, type, [])
  if (last && !isEmpty(last)) {
    let owned = emptySet()
    for (const e of managers.values()) owned = union(owned, e.fields)
    merged = prune(merged, type, last, owned, [])
  }

  const cmp = compareObjects(liveObj, merged, type)
  const changed = tracked(union(cmp.added, cmp.modified), ignored)
  const removed = tracked(cmp.removed, ignored)
  const conflicts: { entry: ManagerEntry; fields: FieldSet }[] = []
  for (const [eid, e] of managers) {
    if (eid === id) continue
    const c = intersection(e.fields, changed)
    if (!isEmpty(c)) conflicts.push({ entry: e, fields: c })
  }
  if (conflicts.length > 0 && !opts.force) {
    // kubectl moving from client-side apply takes over what its last apply recorded and nobody changed since.
    const takeOver = opts.fieldManager === KUBECTL_MANAGER ? unchangedSinceLastApplied(liveObj, apiVersion, type) : undefined
    const remaining = takeOver ? conflicts.map((c) => ({ ...c, fields: difference(c.fields, takeOver) })).filter((c) => !isEmpty(c.fields)) : conflicts
    if (remaining.length > 0) throw conflictError(remaining)
  }
  for (const [eid, e] of managers) {
    if (eid === id) continue
    e.fields = difference(difference(e.fields, changed), removed)
  }
  const result = withManagedFields(merged, managers.values())
  return opts.fieldManager === KUBECTL_MANAGER ? refreshLastApplied(result, config) : result
}

/**
 * Records an ordinary write (create, update, patch) by `opts.fieldManager`: the fields it
 * added or changed become its own (and stop being anyone else's), removed fields stop
 * being anyone's. `oldObj` is undefined on create.
 */
export function trackUpdate(info: ResourceInfo, oldObj: object | undefined, newObj: object, opts: UpdateOptions): JsonObject {
  const type = rootSlot(info)
  const apiVersion = apiVersionOf(info)
  const ignored = resetFields(info, opts.subresource)
  const oldManaged = isObject(oldObj) && isObject(oldObj.metadata) ? oldObj.metadata.managedFields : undefined
  const newManaged = isObject(newObj) && isObject(newObj.metadata) ? newObj.metadata.managedFields : undefined
  const userSet = !opts.subresource && Array.isArray(newManaged) && newManaged.length > 0 && !deepEqual(newManaged, oldManaged)
  const managers = decodeManagedFields(userSet ? newObj : oldObj)

  const cmp = compareObjects(withoutManagedFields(oldObj ?? {}), withoutManagedFields(newObj), type)
  const changed = tracked(union(cmp.added, cmp.modified), ignored)
  const removed = tracked(cmp.removed, ignored)
  const self: ManagerEntry = { manager: opts.fieldManager, operation: opts.operation, apiVersion, fields: emptySet() }
  if (opts.subresource) self.subresource = opts.subresource
  const id = entryId(self)
  for (const e of managers.values()) e.fields = difference(difference(e.fields, changed), removed)
  if (!isEmpty(changed)) {
    const prev = managers.get(id)
    self.fields = prev ? union(prev.fields, changed) : changed
    self.time = opts.now
    managers.set(id, self)
  }
  return withManagedFields(newObj, managers.values())
}

function conflictError(conflicts: { entry: ManagerEntry; fields: FieldSet }[]): ApiError {
  const list: { manager: string; path: string }[] = []
  for (const c of [...conflicts].sort((a, b) => (entryId(a.entry) < entryId(b.entry) ? -1 : 1))) {
    for (const p of members(c.fields)) list.push({ manager: describeManager(c.entry), path: pathString(p) })
  }
  const causes: StatusCause[] = list.map((c) => ({ reason: 'FieldManagerConflict', message: `conflict with ${c.manager}`, field: c.path }))
  let message: string
  if (list.length === 1) message = `Apply failed with 1 conflict: conflict with ${list[0].manager}: ${list[0].path}`
  else {
    const lines: string[] = []
    let previous = ''
    for (const c of list) {
      if (c.manager !== previous) lines.push(`conflicts with ${c.manager}:`)
      previous = c.manager
      lines.push(`- ${c.path}`)
    }
    message = `Apply failed with ${list.length} conflicts: ${lines.join('\n')}`
  }
  return new ApiError(409, 'Conflict', message, { causes })
}

/** Structural merge of an applied configuration into the live object: keyed lists by key, sets by value, atomic values replaced. */
function mergeValues(live: unknown, config: unknown, slot: Slot, path: FieldPath): unknown {
  if (config === undefined) return clone(live)
  if (live === undefined || live === null) return clone(config)
  const ls = shapeOf(slot, live)
  const cs = shapeOf(slot, config)
  if (cs.kind === 'leaf' || ls.kind !== cs.kind) return clone(config)
  if (cs.kind === 'struct' || cs.kind === 'map') {
    const out = clone(live) as JsonObject
    for (const c of childrenOf(config, cs, path, true)) {
      const key = c.pe.slice(2)
      out[key] = mergeValues(out[key], c.value, c.slot, [...path, c.pe])
    }
    return out
  }
  if (cs.kind !== 'list' || !Array.isArray(live) || !Array.isArray(config)) return clone(config)
  const lhs = live.map((item, i) => elementOf(item, i, cs))
  const rhs = childrenOf(config, cs, path, true)
  const seenL = new Map<string, unknown>()
  live.forEach((item, i) => seenL.has(lhs[i]) || seenL.set(lhs[i], item))
  const seenR = new Map<string, unknown>()
  for (const c of rhs) if (!seenR.has(c.pe)) seenR.set(c.pe, c.value)
  const itemSlot = itemSlotOf(cs)
  const shared = rhs.map((c) => c.pe).filter((pe) => seenL.has(pe))
  let next = shared.shift()
  const done = new Set<string>()
  const out: unknown[] = []
  const take = (pe: string): void => {
    if (done.has(pe)) return
    done.add(pe)
    out.push(mergeValues(seenL.get(pe), seenR.get(pe), itemSlot, [...path, pe]))
  }
  let l = 0
  let r = 0
  while (l < live.length || r < rhs.length) {
    if (l < live.length && r < rhs.length) {
      const pe = lhs[l]
      if (pe === rhs[r].pe) {
        take(pe)
        l++
        r++
        next = shared.shift()
        continue
      }
      if (seenR.has(pe) && next !== undefined && next !== pe) {
        l++
        continue
      }
    }
    if (l < live.length) {
      const pe = lhs[l]
      if (!seenR.has(pe)) {
        out.push(clone(live[l]))
        l++
        continue
      }
      if (done.has(pe)) {
        l++
        continue
      }
    }
    if (r < rhs.length) {
      const pe = rhs[r].pe
      take(pe)
      r++
      if (next === pe) next = shared.shift()
    }
  }
  return out
}

function isEmptyContainer(v: unknown): boolean {
  return (isObject(v) && Object.keys(v).length === 0) || (Array.isArray(v) && v.length === 0)
}

/**
 * Removes from `value` the fields in `last` (what the manager applied before) that no
 * one manages any more. `keys` are the key fields of the list item `value` is, which stay.
 */
function prune(value: unknown, slot: Slot, last: FieldSet, managed: FieldSet | undefined, keys: string[]): unknown {
  const shape = shapeOf(slot, value)
  if (shape.kind === 'leaf') return value
  const childSlots = new Map(childrenOf(value, shape, [], false).map((c) => [c.pe, c.slot]))
  const drop = new Set<string>()
  const replace = new Map<string, unknown>()
  for (const [pe, lastChild] of last.children) {
    const current = findChild(value, shape, pe)
    const childSlot = childSlots.get(pe)
    if (current === undefined || !childSlot) continue
    const m = managed?.children.get(pe)
    if (m && m.member && m.children.size === 0) continue
    if (!m && lastChild.member) {
      if (!(pe.startsWith('f:') && keys.includes(pe.slice(2)))) drop.add(pe)
      continue
    }
    if (lastChild.children.size === 0) continue
    const childKeys = shape.kind === 'list' ? (shape.meta.keys ?? []) : []
    const pruned = prune(current, childSlot, lastChild, m, childKeys)
    if (!m && isEmptyContainer(pruned) && !isEmptyContainer(current)) drop.add(pe)
    else replace.set(pe, pruned)
  }
  if (drop.size === 0 && replace.size === 0) return value
  if (shape.kind === 'list' && Array.isArray(value)) {
    const out: unknown[] = []
    value.forEach((item, i) => {
      const pe = elementOf(item, i, shape)
      if (drop.has(pe)) return
      out.push(replace.has(pe) ? replace.get(pe) : item)
    })
    return out
  }
  const out: JsonObject = { ...(value as JsonObject) }
  for (const pe of drop) delete out[pe.slice(2)]
  for (const [pe, v] of replace) out[pe.slice(2)] = v
  return out
}
