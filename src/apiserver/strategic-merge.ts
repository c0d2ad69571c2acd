// Kubernetes strategic merge patch, applied on the server the way `kubectl patch` and
// client-side `kubectl apply` expect: maps merge, lists with a merge strategy merge by
// key (or as sets of primitives), every other list is replaced, null deletes, and the
// `$patch`, `$retainKeys`, `$deleteFromPrimitiveList/` and `$setElementOrder/`
// directives are honoured. The object is walked alongside its model to find the list
// metadata in merge-keys.ts.
import type { TypeRef } from '../api/models.ts'
import type { ResourceInfo } from '../api/registry.ts'
import { badRequest } from '../util/errors.ts'
import { childType, listMeta, modelName, type ListMeta } from './merge-keys.ts'
import { clone, deepEqual, describeValue, isObject, type JsonObject } from './patch-values.ts'

const directive = '$patch'
const retainKeys = '$retainKeys'
const deletePrefix = '$deleteFromPrimitiveList/'
const orderPrefix = '$setElementOrder/'
const DELETE = Symbol('delete')

/** Applies a strategic merge patch to a copy of `doc` (an object of kind `info`). */
export function applyStrategicMergePatch(info: ResourceInfo, doc: unknown, patch: unknown): unknown {
  if (!isObject(patch)) throw badRequest(`strategic merge patch must be a JSON object, got ${describeValue(patch)}`)
  const original = isObject(doc) ? clone(doc) : {}
  const merged = mergeMap(original, patch, { kind: 'model', name: info.model }, '')
  return merged === DELETE ? {} : merged
}

function isDirectiveKey(key: string): boolean {
  return key === directive || key === retainKeys || key.startsWith(deletePrefix) || key.startsWith(orderPrefix)
}

/** Merges `patch` into `original` (which it may modify). DELETE means the map itself is deleted. */
function mergeMap(original: JsonObject, patch: JsonObject, type: TypeRef | undefined, path: string): JsonObject | typeof DELETE {
  if (Object.hasOwn(patch, directive)) {
    const d = patch[directive]
    if (d === 'delete') return DELETE
    if (d === 'replace') {
      const { [directive]: _, ...rest } = patch
      return mergeMap({}, rest, type, path)
    }
    if (d !== 'merge') throw badRequest(`invalid strategic merge patch at ${path || '.'}: unknown $patch ${describeValue(d)} (expected replace, merge or delete)`)
  }
  if (Object.hasOwn(patch, retainKeys)) applyRetainKeys(original, patch, path)

  for (const key of Object.keys(patch)) {
    if (!key.startsWith(deletePrefix)) continue
    const field = key.slice(deletePrefix.length)
    const remove = patch[key]
    if (!Array.isArray(remove)) throw badRequest(`invalid strategic merge patch at ${path}.${field}: ${key} must be a list`)
    const current = original[field]
    if (Array.isArray(current)) original[field] = current.filter((v) => !remove.some((r) => deepEqual(r, v)))
  }

  for (const [key, value] of Object.entries(patch)) {
    if (isDirectiveKey(key)) continue
    const here = `${path}.${key}`
    if (value === null) {
      delete original[key]
      continue
    }
    const fieldType = childType(type, key)
    const order = patch[orderPrefix + key]
    const current = original[key]
    if (Array.isArray(value) && (Array.isArray(current) || current === undefined || current === null)) {
      original[key] = mergeListField(Array.isArray(current) ? current : [], value, type, key, fieldType, order, here)
    } else if (isObject(value)) {
      const merged = mergeMap(isObject(current) ? current : {}, value, fieldType, here)
      if (merged === DELETE) delete original[key]
      else original[key] = merged
    } else {
      original[key] = clone(value)
    }
  }

  for (const key of Object.keys(patch)) {
    if (!key.startsWith(orderPrefix)) continue
    const field = key.slice(orderPrefix.length)
    if (Object.hasOwn(patch, field)) continue
    const current = original[field]
    if (Array.isArray(current)) {
      original[field] = mergeListField(current, [], type, field, childType(type, field), patch[key], `${path}.${field}`)
    }
  }
  return original
}

function applyRetainKeys(original: JsonObject, patch: JsonObject, path: string): void {
  const keep = patch[retainKeys]
  if (!Array.isArray(keep) || !keep.every((k) => typeof k === 'string')) {
    throw badRequest(`invalid strategic merge patch at ${path || '.'}: $retainKeys must be a list of field names`)
  }
  for (const [key, value] of Object.entries(patch)) {
    if (value === null || isDirectiveKey(key)) continue
    if (!keep.includes(key)) throw badRequest(`invalid strategic merge patch at ${path || '.'}: field ${JSON.stringify(key)} is set but not listed in $retainKeys`)
  }
  for (const key of Object.keys(original)) if (!keep.includes(key)) delete original[key]
}

function mergeListField(
  original: unknown[],
  patch: unknown[],
  parentType: TypeRef | undefined,
  field: string,
  fieldType: TypeRef | undefined,
  order: unknown,
  path: string,
): unknown[] {
  const meta = listMeta(modelName(parentType), field)
  const itemType = fieldType?.kind === 'array' ? fieldType.items : undefined
  if (order !== undefined && !Array.isArray(order)) throw badRequest(`invalid strategic merge patch at ${path}: ${orderPrefix}${field} must be a list`)
  if (!meta.merge) return replaceList(patch, itemType, path)
  return mergeList(original, patch, meta, itemType, order, path)
}

/** A list without a merge strategy is replaced by the patch's list (directive elements dropped). */
function replaceList(patch: unknown[], itemType: TypeRef | undefined, path: string): unknown[] {
  const out: unknown[] = []
  for (const [i, item] of patch.entries()) {
    if (isObject(item) && Object.hasOwn(item, directive)) continue
    if (isObject(item)) {
      const merged = mergeMap({}, item, itemType, `${path}[${i}]`)
      if (merged !== DELETE) out.push(merged)
    } else out.push(clone(item))
  }
  return out
}

function keyOf(item: unknown, mergeKey: string | undefined): unknown {
  return mergeKey === undefined ? item : isObject(item) ? item[mergeKey] : undefined
}

function indexIn(list: unknown[], key: unknown, mergeKey: string | undefined): number {
  return list.findIndex((x) => (mergeKey === undefined || isObject(x)) && deepEqual(keyOf(x, mergeKey), key))
}

function mergeList(
  original: unknown[],
  patch: unknown[],
  meta: ListMeta,
  itemType: TypeRef | undefined,
  order: unknown[] | undefined,
  path: string,
): unknown[] {
  const mergeKey = meta.mergeKey
  const serverOrder = original
  let merged = original.slice()
  const items: unknown[] = []
  let replace = false
  for (const item of patch) {
    if (!isObject(item) || !Object.hasOwn(item, directive)) {
      items.push(item)
      continue
    }
    const d = item[directive]
    if (d === 'replace') replace = true
    else if (d === 'delete') {
      if (mergeKey === undefined || !Object.hasOwn(item, mergeKey)) {
        throw badRequest(`invalid strategic merge patch at ${path}: a "$patch: delete" element must name the merge key ${JSON.stringify(mergeKey ?? '')}`)
      }
      merged = merged.filter((x) => !(isObject(x) && deepEqual(x[mergeKey], item[mergeKey])))
    } else if (d !== 'merge') {
      throw badRequest(`invalid strategic merge patch at ${path}: unknown $patch ${describeValue(d)} in a list element`)
    }
  }
  if (replace) merged = []

  if (mergeKey === undefined) {
    for (const item of items) if (indexIn(merged, item, undefined) < 0) merged.push(clone(item))
    if (order === undefined) return merged
  } else {
    for (const [i, item] of items.entries()) {
      if (!isObject(item) || !Object.hasOwn(item, mergeKey)) {
        throw badRequest(`invalid strategic merge patch at ${path}[${i}]: element ${describeValue(item)} does not contain the merge key ${JSON.stringify(mergeKey)}`)
      }
      const at = indexIn(merged, item[mergeKey], mergeKey)
      const here = `${path}[${mergeKey}=${describeValue(item[mergeKey])}]`
      if (at >= 0) {
        const current = merged[at]
        const result = mergeMap(isObject(current) ? current : {}, item, itemType, here)
        if (result === DELETE) merged.splice(at, 1)
        else merged[at] = result
      } else {
        const result = mergeMap({}, item, itemType, here)
        if (result !== DELETE) merged.push(result)
      }
    }
  }

  const patchOrder = order ?? items
  const keys = patchOrder.map((x) => keyOf(x, mergeKey))
  if (order !== undefined) {
    for (const item of items) {
      if (!keys.some((k) => deepEqual(k, keyOf(item, mergeKey)))) {
        throw badRequest(`invalid strategic merge patch at ${path}: element ${describeValue(keyOf(item, mergeKey))} is missing from ${orderPrefix}${path.split('.').pop()}`)
      }
    }
  }
  return normalizeOrder(merged, keys, serverOrder, mergeKey)
}

/**
 * Orders a merged list as Kubernetes does: items named by the patch (or its
 * $setElementOrder list) follow that order; items only on the server keep their
 * relative order and are interleaved by their position in the server's list.
 */
function normalizeOrder(merged: unknown[], patchKeys: unknown[], serverOrder: unknown[], mergeKey: string | undefined): unknown[] {
  const patchIndex = (x: unknown): number => patchKeys.findIndex((k) => deepEqual(k, keyOf(x, mergeKey)))
  const serverIndex = (x: unknown): number => indexIn(serverOrder, keyOf(x, mergeKey), mergeKey)
  const fromPatch = merged.filter((x) => patchIndex(x) >= 0).sort((a, b) => patchIndex(a) - patchIndex(b))
  const serverOnly = merged.filter((x) => patchIndex(x) < 0).sort((a, b) => serverIndex(a) - serverIndex(b))
  const out: unknown[] = []
  let i = 0
  let j = 0
  while (i < serverOnly.length || j < fromPatch.length) {
    if (j >= fromPatch.length) out.push(serverOnly[i++])
    else if (i >= serverOnly.length) out.push(fromPatch[j++])
    else {
      const li = serverIndex(serverOnly[i])
      const ri = serverIndex(fromPatch[j])
      if (li >= 0 && ri >= 0 && li < ri) out.push(serverOnly[i++])
      else out.push(fromPatch[j++])
    }
  }
  return out
}
