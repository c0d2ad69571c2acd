// Tables of custom resources from their CRD's additionalPrinterColumns, as upstream's
// tableconvertor: NAME, then each column (priority > 0 only with -o wide), the simple
// JSONPath of each read from the object; a CRD that names no columns gets AGE.
import type { PrinterColumn } from '../../api/crd/definition.ts'
import { col, nameColumn, since, type Printer } from './format.ts'

type Obj = Record<string, any>

function isObject(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

type Step = { field: string } | { index: number } | { all: true } | { filter: { path: string[]; value: unknown } }

/** Parses the JSONPath subset CRDs use: `.a.b`, `[0]`, `[*]`, `[?(@.type=="Ready")]`, with or without braces. */
export function parseJsonPath(text: string): Step[] | undefined {
  let s = text.trim()
  if (s.startsWith('{') && s.endsWith('}')) s = s.slice(1, -1)
  if (s.startsWith('$')) s = s.slice(1)
  const steps: Step[] = []
  let i = 0
  while (i < s.length) {
    if (s[i] === '.') {
      i++
      const m = /^[A-Za-z0-9_\-]+/.exec(s.slice(i))
      if (!m) return undefined
      steps.push({ field: m[0] })
      i += m[0].length
    } else if (s[i] === '[') {
      const end = s.indexOf(']', i)
      if (end < 0) return undefined
      const inner = s.slice(i + 1, end).trim()
      i = end + 1
      if (inner === '*') steps.push({ all: true })
      else if (/^\d+$/.test(inner)) steps.push({ index: Number(inner) })
      else if (/^'[^']*'$|^"[^"]*"$/.test(inner)) steps.push({ field: inner.slice(1, -1) })
      else {
        const f = /^\?\(@((?:\.[A-Za-z0-9_\-]+)+)\s*==\s*(?:"([^"]*)"|'([^']*)'|(-?\d+(?:\.\d+)?)|(true|false))\)$/.exec(inner)
        if (!f) return undefined
        const value = f[2] ?? f[3] ?? (f[4] !== undefined ? Number(f[4]) : f[5] === 'true')
        steps.push({ filter: { path: f[1].slice(1).split('.'), value } })
      }
    } else return undefined
  }
  return steps
}

/** Every value the path reaches. */
export function evalJsonPath(steps: Step[], obj: unknown): unknown[] {
  let current: unknown[] = [obj]
  for (const step of steps) {
    const next: unknown[] = []
    for (const v of current) {
      if ('field' in step) {
        if (isObject(v) && v[step.field] !== undefined) next.push(v[step.field])
      } else if ('index' in step) {
        if (Array.isArray(v) && step.index < v.length) next.push(v[step.index])
      } else if ('all' in step) {
        if (Array.isArray(v)) next.push(...v)
        else if (isObject(v)) next.push(...Object.values(v))
      } else if (Array.isArray(v)) {
        for (const item of v) {
          let at: unknown = item
          for (const part of step.filter.path) at = isObject(at) ? at[part] : undefined
          if (at === step.filter.value) next.push(item)
        }
      }
    }
    current = next
  }
  return current
}

/** How kubectl's JSONPath printer writes one value: strings bare, the rest as JSON. */
function printed(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value)
}

function cell(column: PrinterColumn, steps: Step[] | undefined, obj: unknown, now: number): unknown {
  if (!steps) return null
  const results = evalJsonPath(steps, obj)
  if (results.length === 0) return null
  // Upstream takes the first result only (a path with [*] or a filter prints that one).
  const value = results[0]
  switch (column.type) {
    case 'string':
      return printed(value)
    case 'date':
      return typeof value === 'string' ? since(value, now) : null
    case 'integer':
      return typeof value === 'number' && Number.isInteger(value) ? value : null
    case 'number':
      return typeof value === 'number' ? value : null
    case 'boolean':
      return typeof value === 'boolean' ? value : null
    default:
      return null
  }
}

const ageDoc = 'CreationTimestamp is a timestamp representing the server time when this object was created.'

export function customPrinter(columns: PrinterColumn[]): Printer {
  const used: PrinterColumn[] = columns.length > 0 ? columns : [{ name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp', description: ageDoc }]
  const paths = used.map((c) => parseJsonPath(c.jsonPath))
  return {
    columns: [nameColumn(), ...used.map((c) => col(c.name, c.type, c.description ?? '', c.priority ?? 0, c.format ?? ''))],
    row(obj, now) {
      const name = isObject(obj) && isObject(obj.metadata) ? String(obj.metadata.name ?? '') : ''
      return { cells: [name, ...used.map((c, i) => cell(c, paths[i], obj, now))] }
    },
  }
}
