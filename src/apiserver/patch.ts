// JSON patch (RFC 6902) and JSON merge patch (RFC 7386), as PATCH requests with
// `application/json-patch+json` and `application/merge-patch+json` carry them.
import { ApiError, badRequest } from '../util/errors.ts'
import { clone, deepEqual, describeValue, isObject } from './patch-values.ts'

type Container = Record<string, unknown> | unknown[]

interface Operation {
  op: 'add' | 'remove' | 'replace' | 'move' | 'copy' | 'test'
  path: string[]
  rawPath: string
  from?: string[]
  rawFrom?: string
  value?: unknown
}

const ops = new Set(['add', 'remove', 'replace', 'move', 'copy', 'test'])

/** Applies an RFC 6902 JSON patch to a copy of `doc`. A malformed patch is a 400, an operation that does not apply a 422. */
export function applyJsonPatch(doc: unknown, patch: unknown): unknown {
  const operations = parsePatch(patch)
  let result = clone(doc)
  operations.forEach((op, i) => {
    result = applyOperation(result, op, i)
  })
  return result
}

/** Applies an RFC 7386 JSON merge patch: objects merge, null deletes, anything else replaces. */
export function applyMergePatch(doc: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return clone(patch)
  const out: Record<string, unknown> = isObject(doc) ? { ...doc } : {}
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key]
    else out[key] = applyMergePatch(out[key], value)
  }
  for (const key of Object.keys(out)) if (!Object.hasOwn(patch, key)) out[key] = clone(out[key])
  return out
}

/** Splits a JSON pointer (RFC 6901) into unescaped reference tokens. */
export function parsePointer(pointer: string): string[] {
  if (pointer === '') return []
  if (!pointer.startsWith('/')) throw badRequest(`invalid JSON pointer ${JSON.stringify(pointer)}: it must be empty or start with "/"`)
  return pointer
    .slice(1)
    .split('/')
    .map((token) => {
      if (/~[^01]|~$/.test(token)) throw badRequest(`invalid JSON pointer ${JSON.stringify(pointer)}: "~" must be followed by 0 or 1`)
      return token.replaceAll('~1', '/').replaceAll('~0', '~')
    })
}

function parsePatch(patch: unknown): Operation[] {
  if (!Array.isArray(patch)) throw badRequest('invalid JSON patch: the body must be a JSON array of operations')
  return patch.map((raw, i) => {
    const where = `invalid JSON patch operation ${i}`
    if (!isObject(raw)) throw badRequest(`${where}: each operation must be an object`)
    const { op, path, from } = raw
    if (typeof op !== 'string' || !ops.has(op)) throw badRequest(`${where}: unknown op ${describeValue(op)} (expected add, remove, replace, move, copy or test)`)
    if (typeof path !== 'string') throw badRequest(`${where} (${op}): missing "path"`)
    const parsed: Operation = { op: op as Operation['op'], path: parsePointer(path), rawPath: path }
    if (op === 'add' || op === 'replace' || op === 'test') {
      if (!Object.hasOwn(raw, 'value')) throw badRequest(`${where} (${op} ${path}): missing "value"`)
      parsed.value = raw.value
    }
    if (op === 'move' || op === 'copy') {
      if (typeof from !== 'string') throw badRequest(`${where} (${op} ${path}): missing "from"`)
      parsed.from = parsePointer(from)
      parsed.rawFrom = from
    }
    return parsed
  })
}

function failed(index: number, op: Operation, why: string): ApiError {
  const what = op.rawFrom !== undefined ? `${op.op} from ${JSON.stringify(op.rawFrom)} to ${JSON.stringify(op.rawPath)}` : `${op.op} ${JSON.stringify(op.rawPath)}`
  const message = `the server rejected our request due to an error in our request: json patch operation ${index} (${what}) failed: ${why}`
  return new ApiError(422, 'Invalid', message, { causes: [{ reason: 'FieldValueInvalid', message: why, field: op.rawPath }] })
}

function pointerOf(tokens: string[]): string {
  return tokens.map((t) => '/' + t.replaceAll('~', '~0').replaceAll('/', '~1')).join('')
}

/** Resolves all but the last token: the container the operation acts on. */
function parentOf(doc: unknown, tokens: string[]): { parent: Container; key: string } | string {
  let cur = doc
  for (let i = 0; i < tokens.length - 1; i++) {
    const next = child(cur, tokens[i])
    if (next === undefined) return `path ${JSON.stringify(pointerOf(tokens.slice(0, i + 1)))} does not exist`
    cur = next
  }
  if (!isObject(cur) && !Array.isArray(cur)) return `path ${JSON.stringify(pointerOf(tokens.slice(0, -1)))} is not an object or array`
  return { parent: cur, key: tokens[tokens.length - 1] }
}

function arrayIndex(token: string, length: number, allowEnd: boolean): number | undefined {
  if (allowEnd && token === '-') return length
  if (!/^(0|[1-9][0-9]*)$/.test(token)) return undefined
  const n = Number(token)
  return n < length || (allowEnd && n === length) ? n : undefined
}

function child(value: unknown, token: string): unknown {
  if (Array.isArray(value)) {
    const i = arrayIndex(token, value.length, false)
    return i === undefined ? undefined : value[i]
  }
  if (isObject(value)) return Object.hasOwn(value, token) ? value[token] : undefined
  return undefined
}

function get(doc: unknown, tokens: string[]): unknown {
  let cur = doc
  for (const t of tokens) {
    cur = child(cur, t)
    if (cur === undefined) return undefined
  }
  return cur
}

function add(doc: unknown, tokens: string[], value: unknown): unknown | string {
  if (tokens.length === 0) return { value }
  const at = parentOf(doc, tokens)
  if (typeof at === 'string') return at
  const { parent, key } = at
  if (Array.isArray(parent)) {
    const i = arrayIndex(key, parent.length, true)
    if (i === undefined) return `index ${JSON.stringify(key)} is out of bounds for an array of length ${parent.length}`
    parent.splice(i, 0, value)
  } else parent[key] = value
  return { value: doc }
}

function remove(doc: unknown, tokens: string[]): { value: unknown; removed: unknown } | string {
  if (tokens.length === 0) return 'cannot remove the whole document'
  const at = parentOf(doc, tokens)
  if (typeof at === 'string') return at
  const { parent, key } = at
  if (Array.isArray(parent)) {
    const i = arrayIndex(key, parent.length, false)
    if (i === undefined) return `index ${JSON.stringify(key)} is out of bounds for an array of length ${parent.length}`
    const [removed] = parent.splice(i, 1)
    return { value: doc, removed }
  }
  if (!Object.hasOwn(parent, key)) return `path ${JSON.stringify(pointerOf(tokens))} does not exist`
  const removed = parent[key]
  delete parent[key]
  return { value: doc, removed }
}

function applyOperation(doc: unknown, op: Operation, index: number): unknown {
  const unwrap = (r: unknown): unknown => {
    if (typeof r === 'string') throw failed(index, op, r)
    return (r as { value: unknown }).value
  }
  switch (op.op) {
    case 'add':
      return unwrap(add(doc, op.path, clone(op.value)))
    case 'remove':
      return unwrap(remove(doc, op.path))
    case 'replace': {
      if (get(doc, op.path) === undefined) throw failed(index, op, `path ${JSON.stringify(op.rawPath)} does not exist`)
      if (op.path.length === 0) return clone(op.value)
      const removed = unwrap(remove(doc, op.path))
      return unwrap(add(removed, op.path, clone(op.value)))
    }
    case 'move': {
      const from = op.from as string[]
      if (from.length < op.path.length && from.every((t, i) => op.path[i] === t)) {
        throw failed(index, op, 'a value cannot be moved into one of its own children')
      }
      const r = remove(doc, from)
      if (typeof r === 'string') throw failed(index, op, r)
      return unwrap(add(r.value, op.path, r.removed))
    }
    case 'copy': {
      const value = get(doc, op.from as string[])
      if (value === undefined) throw failed(index, op, `path ${JSON.stringify(op.rawFrom)} does not exist`)
      return unwrap(add(doc, op.path, clone(value)))
    }
    case 'test': {
      const value = get(doc, op.path)
      if (value === undefined) throw failed(index, op, `path ${JSON.stringify(op.rawPath)} does not exist`)
      if (!deepEqual(value, op.value)) throw failed(index, op, `value is ${describeValue(value)}, not ${describeValue(op.value)}`)
      return doc
    }
  }
}
