// CEL validation rules of a structural schema (`x-kubernetes-validations`), evaluated with
// @bufbuild/cel and its strings extension as apiextensions-apiserver evaluates them: at each
// node that has rules, `self` is the value there (typed by the schema: integers are CEL ints),
// `oldSelf` the value at the same place in the stored object on an update (through
// properties, map values and list-type=map items by their keys), transition rules only where
// that old value exists. A failed rule is a cause `<path>: Invalid value: "<type>": <message>`.
// What weft cannot evaluate (a rule that does not compile, a function it lacks, an evaluation
// error) is not enforced: a rule weft gets wrong must never refuse a good object.
import { celEnv, isCelError, parse, plan } from '@bufbuild/cel'
import { strings } from '@bufbuild/cel/ext'
import type { FieldCause } from '../validation/field.ts'
import { kubernetesLibrary } from './cel-kubernetes.ts'
import { duplicate, forbidden, invalid, required } from '../validation/field.ts'
import type { Schema } from './schema.ts'

type Obj = Record<string, any>
type Program = (bindings: Record<string, unknown>) => unknown

const env = celEnv({ funcs: [...strings, ...kubernetesLibrary] })
/** Compiled rules by their text; null for a rule that does not compile here. */
const programs = new Map<string, Program | null>()

function isObject(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/** The rule compiled, or undefined when weft cannot compile it (then it is not enforced). */
export function compileRule(rule: string): Program | undefined {
  let program = programs.get(rule)
  if (program === undefined) {
    try {
      program = plan(env, parse(rule)) as unknown as Program
    } catch {
      program = null
    }
    programs.set(rule, program)
  }
  return program ?? undefined
}

function childSchema(s: Schema | undefined, key: string): Schema | undefined {
  if (!s) return undefined
  if (isObject(s.properties) && isObject(s.properties[key])) return s.properties[key]
  if (isObject(s.additionalProperties)) return s.additionalProperties
  return undefined
}

/** A JSON value as CEL sees it under its schema: objects as maps, integers as ints, numbers as doubles. */
export function toCel(s: Schema | undefined, v: unknown): unknown {
  if (Array.isArray(v)) return v.map((x) => toCel(isObject(s?.items) ? s.items : undefined, x))
  if (isObject(v)) return new Map(Object.entries(v).map(([k, x]) => [k, toCel(childSchema(s, k), x)]))
  if (typeof v === 'number') {
    if (s?.type === 'number') return v
    if (Number.isInteger(v) && (s?.type === 'integer' || s?.['x-kubernetes-int-or-string'] === true || s?.type === undefined)) return BigInt(v)
  }
  return v
}

interface Rule {
  rule: string
  message?: string
  messageExpression?: string
  fieldPath?: string
  reason?: string
  optionalOldSelf?: boolean
}

function causeOf(rule: Rule, s: Schema, path: string, message: string): FieldCause {
  const field = rule.fieldPath ? `${path}${rule.fieldPath.startsWith('.') || rule.fieldPath.startsWith('[') ? '' : '.'}${rule.fieldPath}`.replace(/^\./, '') : path
  switch (rule.reason) {
    case 'FieldValueForbidden':
      return forbidden(field, message)
    case 'FieldValueRequired':
      return required(field, message)
    case 'FieldValueDuplicate':
      return duplicate(field, message)
    default:
      return invalid(field, typeof s.type === 'string' && s.type !== '' ? s.type : 'object', message)
  }
}

function evaluate(rules: Rule[], s: Schema, value: unknown, old: unknown, path: string, out: FieldCause[]): void {
  let self: unknown
  let oldSelf: unknown
  for (const r of rules) {
    if (typeof r?.rule !== 'string') continue
    const transition = /\boldSelf\b/.test(r.rule)
    if (transition && (old === undefined || r.optionalOldSelf === true)) continue
    const program = compileRule(r.rule)
    if (!program) continue
    self ??= toCel(s, value)
    const bindings: Record<string, unknown> = { self }
    if (transition) bindings.oldSelf = oldSelf ??= toCel(s, old)
    let result: unknown
    try {
      result = program(bindings)
    } catch {
      continue
    }
    if (isCelError(result as never) || result === true) continue
    if (result !== false) continue
    let message = typeof r.message === 'string' && r.message !== '' ? r.message : `failed rule: ${r.rule.trim()}`
    if (typeof r.messageExpression === 'string' && r.messageExpression !== '') {
      const expr = compileRule(r.messageExpression)
      try {
        const text = expr?.(bindings)
        if (typeof text === 'string' && text.trim() !== '') message = text
      } catch {}
    }
    out.push(causeOf(r, s, path, message))
  }
}

/** The old list item a new one correlates with: list-type=map items by their keys; others none. */
function oldItem(s: Schema, old: unknown, item: unknown): unknown {
  if (!Array.isArray(old) || s['x-kubernetes-list-type'] !== 'map' || !isObject(item)) return undefined
  const keys: string[] = Array.isArray(s['x-kubernetes-list-map-keys']) ? s['x-kubernetes-list-map-keys'] : []
  return old.find((o) => isObject(o) && keys.every((k) => o[k] === item[k]))
}

function walk(s: Schema, value: unknown, old: unknown, path: string, out: FieldCause[]): void {
  if (value === undefined || value === null) return
  const rules = s['x-kubernetes-validations']
  if (Array.isArray(rules) && rules.length > 0) evaluate(rules, s, value, old, path, out)
  if (Array.isArray(value)) {
    if (!isObject(s.items)) return
    value.forEach((item, i) => walk(s.items, item, oldItem(s, old, item), `${path}[${i}]`, out))
    return
  }
  if (!isObject(value)) return
  for (const [key, v] of Object.entries(value)) {
    const child = childSchema(s, key)
    if (child) walk(child, v, isObject(old) ? old[key] : undefined, path ? `${path}.${key}` : key, out)
  }
}

/** Causes for every rule `value` breaks; `old` is the stored object on an update. */
export function validateRules(schema: Schema | undefined, value: unknown, old?: unknown): FieldCause[] {
  const out: FieldCause[] = []
  if (schema && hasRules(schema)) walk(schema, value, old, '', out)
  return out
}

const withRules = new WeakMap<Schema, boolean>()

/** Whether the schema has any rule anywhere (most have none: then nothing is walked). */
function hasRules(s: Schema): boolean {
  let known = withRules.get(s)
  if (known === undefined) {
    known = JSON.stringify(s).includes('"x-kubernetes-validations"')
    withRules.set(s, known)
  }
  return known
}
