// Field errors shaped like k8s.io/apimachinery/pkg/util/validation/field: a reason, the
// path, and the body `Type: value: detail` that kubectl prints after the path.
import type { StatusCause } from '../../util/errors.ts'

export type Reason =
  | 'FieldValueInvalid'
  | 'FieldValueRequired'
  | 'FieldValueNotSupported'
  | 'FieldValueForbidden'
  | 'FieldValueDuplicate'
  | 'FieldValueTooLong'
  | 'FieldValueTooMany'
  | 'FieldValueNotFound'

export interface FieldCause extends StatusCause {
  reason: Reason
  message: string
  field: string
}

/** Renders a bad value the way Go's field errors do: strings quoted, numbers bare, Go-ish for the rest. */
export function showValue(value: unknown): string {
  if (value === undefined || value === null) return 'null'
  if (typeof value === 'string') return JSON.stringify(value)
  if (typeof value === 'number' || typeof value === 'boolean') return String(value)
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return `[]string{${value.map((v) => JSON.stringify(v)).join(', ')}}`
  if (typeof value === 'object' && Object.values(value).every((v) => typeof v === 'string'))
    return `map[string]string{${Object.entries(value).map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(', ')}}`
  return JSON.stringify(value)
}

function body(type: string, detail: string | undefined): string {
  return detail ? `${type}: ${detail}` : type
}

export function required(field: string, detail = ''): FieldCause {
  return { reason: 'FieldValueRequired', message: body('Required value', detail), field }
}

export function invalid(field: string, value: unknown, detail: string): FieldCause {
  return { reason: 'FieldValueInvalid', message: body(`Invalid value: ${showValue(value)}`, detail), field }
}

/** An Invalid cause that names no value (Go's field.OmitValueType). */
export function invalidWithoutValue(field: string, detail: string): FieldCause {
  return { reason: 'FieldValueInvalid', message: body('Invalid value', detail), field }
}

export function notSupported(field: string, value: unknown, supported: readonly string[]): FieldCause {
  const list = supported.map((s) => JSON.stringify(s)).join(', ')
  return { reason: 'FieldValueNotSupported', message: `Unsupported value: ${showValue(value)}: supported values: ${list}`, field }
}

export function forbidden(field: string, detail: string): FieldCause {
  return { reason: 'FieldValueForbidden', message: body('Forbidden', detail), field }
}

export function duplicate(field: string, value: unknown): FieldCause {
  return { reason: 'FieldValueDuplicate', message: `Duplicate value: ${showValue(value)}`, field }
}

export function tooLong(field: string, max: number): FieldCause {
  return { reason: 'FieldValueTooLong', message: `Too long: may not be more than ${max} bytes`, field }
}

export function tooMany(field: string, actual: number, max: number): FieldCause {
  return { reason: 'FieldValueTooMany', message: `Too many: ${actual}: must have at most ${max} items`, field }
}

export function notFound(field: string, value: unknown): FieldCause {
  return { reason: 'FieldValueNotFound', message: `Not found: ${showValue(value)}`, field }
}

/** One Invalid cause per message a syntax check returned. */
export function each(field: string, value: unknown, messages: string[]): FieldCause[] {
  return messages.map((m) => invalid(field, value, m))
}

export function immutable(field: string, value: unknown): FieldCause {
  return invalid(field, value, 'field is immutable')
}

export function nonNegative(field: string, value: unknown): FieldCause[] {
  return typeof value === 'number' && value < 0 ? [invalid(field, value, 'must be greater than or equal to 0')] : []
}

// Narrowing helpers for walking untyped JSON.
export type Obj = Record<string, unknown>

export function isObj(value: unknown): value is Obj {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

export function obj(value: unknown): Obj {
  return isObj(value) ? value : {}
}

export function arr(value: unknown): unknown[] {
  return Array.isArray(value) ? value : []
}

export function str(value: unknown): string {
  return typeof value === 'string' ? value : ''
}

export function num(value: unknown): number | undefined {
  return typeof value === 'number' ? value : undefined
}

export function strMap(value: unknown): Record<string, string> {
  const out: Record<string, string> = {}
  if (isObj(value)) for (const [k, v] of Object.entries(value)) if (typeof v === 'string') out[k] = v
  return out
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => deepEqual(x, b[i]))
  if (isObj(a) && isObj(b)) {
    const ka = Object.keys(a).filter((k) => a[k] !== undefined)
    const kb = Object.keys(b).filter((k) => b[k] !== undefined)
    return ka.length === kb.length && ka.every((k) => deepEqual(a[k], b[k]))
  }
  return false
}
