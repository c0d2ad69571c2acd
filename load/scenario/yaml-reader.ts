// Reading a YAML document with its positions kept: typed values out of nodes, and errors that
// say where (`file:line:column: field: problem`). Unknown keys are errors, with a hint.
import { isMap, isScalar, isSeq, type LineCounter, type Node as YamlNode, type Pair, type Scalar } from 'yaml'
import { parseLabelSelector } from '../../src/api/selectors.ts'
import { parseGoDuration } from '../../src/util/go-duration.ts'

export class ScenarioError extends Error {
  readonly fileName: string
  readonly line: number
  readonly column: number
  readonly field: string

  constructor(fileName: string, line: number, column: number, field: string, problem: string) {
    super(`${fileName}:${line}:${column}: ${field ? `${field}: ` : ''}${problem}`)
    this.name = 'ScenarioError'
    this.fileName = fileName
    this.line = line
    this.column = column
    this.field = field
  }
}

export type Fields = Map<string, { key: Scalar; value: YamlNode | null }>

export class Reader {
  readonly fileName: string
  readonly #lines: LineCounter

  constructor(fileName: string, lines: LineCounter) {
    this.fileName = fileName
    this.#lines = lines
  }

  fail(node: YamlNode | null | undefined, field: string, problem: string): never {
    const offset = node?.range?.[0] ?? 0
    const { line, col } = this.#lines.linePos(offset)
    throw new ScenarioError(this.fileName, line, col, field, problem)
  }

  where(node: YamlNode): string {
    const { line, col } = this.#lines.linePos(node.range?.[0] ?? 0)
    return `${this.fileName}:${line}:${col}`
  }

  /** A mapping's fields; a key outside `allowed` is an error (with the nearest allowed key as a hint). */
  map(node: YamlNode | null, field: string, allowed: readonly string[]): Fields {
    if (!isMap(node)) this.fail(node, field, `expected a map (key: value), not ${describe(node)}`)
    const fields: Fields = new Map()
    for (const pair of node.items as Pair<YamlNode | null, YamlNode | null>[]) {
      const key = pair.key
      if (!isScalar(key) || typeof key.value !== 'string') this.fail(key ?? node, field, `expected a key that is a plain word, not ${describe(key)}`)
      const name = key.value
      if (!allowed.includes(name)) {
        const near = nearest(name, allowed)
        this.fail(key, join(field, name), `unknown key${near ? ` (did you mean ${near}?)` : ''}; allowed here: ${allowed.join(', ')}`)
      }
      fields.set(name, { key, value: pair.value })
    }
    return fields
  }

  required(fields: Fields, owner: YamlNode | null, field: string, name: string): YamlNode | null {
    const entry = fields.get(name)
    if (!entry) this.fail(owner, field, `${name} is required`)
    return entry.value
  }

  string(node: YamlNode | null, field: string, what = 'a string'): string {
    if (!isScalar(node) || typeof node.value !== 'string') this.fail(node, field, `expected ${what}, not ${describe(node)}`)
    return node.value
  }

  number(node: YamlNode | null, field: string, min: number, max: number, opts: { above?: boolean } = {}): number {
    const value = isScalar(node) ? node.value : undefined
    const ok = typeof value === 'number' && Number.isFinite(value) && (opts.above ? value > min : value >= min) && value <= max
    if (!ok) this.fail(node, field, `expected a number ${opts.above ? 'above' : 'from'} ${min} ${opts.above ? 'and at most' : 'to'} ${max}, not ${describe(node)}`)
    return value as number
  }

  integer(node: YamlNode | null, field: string, min: number, max: number): number {
    const value = isScalar(node) ? node.value : undefined
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
      const what = min === 0 ? `a non-negative integer up to ${max}` : `a whole number from ${min} to ${max}`
      this.fail(node, field, `expected ${what}, not ${describe(node)}`)
    }
    return value
  }

  boolean(node: YamlNode | null, field: string): boolean {
    if (!isScalar(node) || typeof node.value !== 'boolean') this.fail(node, field, `expected true or false, not ${describe(node)}`)
    return node.value
  }

  /** A Go duration (`500ms`, `1m30s`) in ms; `0` alone needs no unit. */
  duration(node: YamlNode | null, field: string, opts: { min: number; max: number; above?: boolean }): number {
    const text = isScalar(node) && typeof node.value === 'number' && node.value === 0 ? '0' : isScalar(node) && typeof node.value === 'string' ? node.value : undefined
    const ms = text === undefined ? undefined : parseGoDuration(text)
    if (ms === undefined) {
      const bare = isScalar(node) && typeof node.value === 'number' ? ` (a number needs a unit: ${node.value}s or ${node.value}ms)` : ''
      this.fail(node, field, `expected a duration like 500ms, 30s or 1m30s, not ${describe(node)}${bare}`)
    }
    if (opts.above ? ms <= opts.min : ms < opts.min) this.fail(node, field, `must be ${opts.above ? 'longer than' : 'at least'} ${formatMs(opts.min)}, not ${text}`)
    if (ms > opts.max) this.fail(node, field, `must be at most ${formatMs(opts.max)}, not ${text}`)
    return ms
  }

  /** A name checked by one of the apimachinery validators. */
  name(node: YamlNode | null, field: string, check: (v: string) => string[], what: string): string {
    const value = this.string(node, field, what)
    const problems = check(value)
    if (problems.length > 0) this.fail(node, field, `"${value}" is not a valid ${what}: ${problems.join('; ')}`)
    return value
  }

  /** A label selector in kubectl's syntax (`app=web,tier!=db`); empty is refused: it would select every pod. */
  selector(node: YamlNode | null, field: string): string {
    const text = this.string(node, field, 'a label selector like app=web')
    if (text.trim() === '') this.fail(node, field, 'an empty selector would select every pod in the namespace: name the pods, e.g. app=web')
    try {
      parseLabelSelector(text)
    } catch (err) {
      this.fail(node, field, `"${text}" is not a valid label selector: ${(err as Error).message}`)
    }
    return text
  }
}

export function describe(node: YamlNode | null | undefined): string {
  if (node === null || node === undefined) return 'nothing'
  if (isMap(node)) return 'a map'
  if (isSeq(node)) return 'a list'
  if (isScalar(node)) {
    const v = node.value
    if (v === null) return 'null'
    if (typeof v === 'string') return `"${v.length > 40 ? `${v.slice(0, 40)}…` : v}"`
    return String(v)
  }
  return 'something else'
}

function join(field: string, key: string): string {
  return field ? `${field}.${key}` : key
}

export function formatMs(ms: number): string {
  if (ms === 0) return '0s'
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`
  if (ms % 60_000 === 0) return `${ms / 60_000}m`
  if (ms % 1000 === 0) return `${ms / 1000}s`
  return `${ms}ms`
}

/** The allowed key within two edits of `key`, for "did you mean". */
function nearest(key: string, allowed: readonly string[]): string | undefined {
  let best: string | undefined
  let bestDistance = 3
  for (const candidate of allowed) {
    const d = editDistance(key.toLowerCase(), candidate.toLowerCase())
    if (d < bestDistance) {
      best = candidate
      bestDistance = d
    }
  }
  return best
}

function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 2) return 3
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    const row = [i]
    for (let j = 1; j <= b.length; j++) row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1))
    prev = row
  }
  return prev[b.length]
}

