// result.json read back (`weft load compare`, re-rendering a report): one description of the
// format drives both the parser, which checks every field and names the JSON path of the first
// problem, and the JSON Schema document published for users; the compiler checks that the
// description and `LoadResult` in load/types.ts are the same type.
import { errorClasses, type LoadResult } from '../types.ts'
import { terminalSafe, truncate } from './format.ts'
import { invalidJsonOffset, lineAndColumn } from './json-position.ts'

export const resultSchemaId = 'weft.dev/load-result/v1'
/** Longer texts (in UTF-16 units) are refused before parsing: a week of per-second timeline is far less. */
export const maxResultLength = 256 * 1024 * 1024

const nameLength = 1024
const textLength = 4096
const messageLength = 16 * 1024
const histogramLength = 16 * 1024 * 1024
const oneWeekOfSeconds = 7 * 24 * 3600

// A description of the format. `_type` is never set: it carries the described TypeScript type.
interface Described<T> {
  readonly _type?: T
  readonly description?: string
}
interface StringNode<T extends string> extends Described<T> {
  kind: 'string'
  maxLength: number
  values?: readonly T[]
  format?: 'date-time' | 'base64'
}
interface NumberNode extends Described<number> {
  kind: 'number'
  integer: boolean
  minimum?: number
  maximum?: number
}
interface BooleanNode extends Described<boolean> {
  kind: 'boolean'
}
interface ArrayNode<T> extends Described<T[]> {
  kind: 'array'
  items: AnyNode & Described<T>
  maxItems: number
  /** A field of the items that must not decrease (`strict`: must increase) from one item to the next. */
  ordered?: { key: string; strict: boolean }
}
interface ObjectNode<T> extends Described<T> {
  kind: 'object'
  properties: Record<string, AnyNode>
  optional: readonly string[]
}
interface MapNode<T> extends Described<T> {
  kind: 'map'
  keys: readonly string[]
  values: NumberNode
}
type AnyNode = StringNode<string> | NumberNode | BooleanNode | ArrayNode<unknown> | ObjectNode<unknown> | MapNode<unknown>
type TypeOf<N> = N extends Described<infer T> ? T : never
type Simplify<T> = { [K in keyof T]: T[K] } & {}

const text = (maxLength: number, description?: string): StringNode<string> => ({ kind: 'string', maxLength, description })
const oneOf = <const T extends string>(values: readonly T[], description?: string): StringNode<T> => ({ kind: 'string', maxLength: 256, values, description })
const count = (description?: string): NumberNode => ({ kind: 'number', integer: true, minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description })
const amount = (description?: string, maximum?: number): NumberNode => ({ kind: 'number', integer: false, minimum: 0, maximum, description })
const anyNumber = (description?: string): NumberNode => ({ kind: 'number', integer: false, description })
const flag = (description?: string): BooleanNode => ({ kind: 'boolean', description })
const list = <T>(items: AnyNode & Described<T>, maxItems: number, ordered?: ArrayNode<T>['ordered']): ArrayNode<T> => ({ kind: 'array', items, maxItems, ordered })
function object<P extends Record<string, AnyNode>>(properties: P, description?: string): ObjectNode<Simplify<{ [K in keyof P]: TypeOf<P[K]> }>> {
  return { kind: 'object', properties, optional: [], description }
}
/** An object some of whose fields may be absent. */
function objectWithOptional<P extends Record<string, AnyNode>, O extends keyof P & string>(
  properties: P,
  optional: readonly O[],
  description?: string,
): ObjectNode<Simplify<{ [K in Exclude<keyof P, O>]: TypeOf<P[K]> } & { [K in O]?: TypeOf<P[K]> }>> {
  return { kind: 'object', properties, optional, description }
}
function countsByClass(description: string): MapNode<Partial<Record<(typeof errorClasses)[number], number>>> {
  return { kind: 'map', keys: errorClasses, values: count(), description }
}

const latencyPoint = object({ p: amount('Percentile, 0 to 100.', 100), ms: amount('Latency at that percentile, ms.') })

const resultDescription = object(
  {
    schema: oneOf([resultSchemaId] as const, 'The format and its version.'),
    startedAt: { ...text(64, 'When t0 was (the end of warm-up), RFC 3339.'), format: 'date-time' } as StringNode<string>,
    durationSeconds: amount('How long the measured part of the run lasted.'),
    target: object(
      {
        spec: text(textLength, 'The target as the user wrote it.'),
        description: text(textLength, 'How the target was found.'),
        protocol: oneOf(['http1', 'http2', 'grpc', 'tcp', 'udp', 'dns'] as const),
        tls: flag(),
        endpoints: list(text(nameLength), 100_000),
      },
      'What was loaded.',
    ),
    options: objectWithOptional(
      {
        mode: oneOf(['open-loop', 'closed-loop'] as const),
        rate: amount('Requests per second, total across generators (open loop).'),
        connections: count(),
        keepAlive: flag(),
        durationSeconds: amount(),
        requests: count(),
        warmupSeconds: amount(),
        timeoutSeconds: amount(),
      },
      ['rate', 'durationSeconds', 'requests'],
      'How it was loaded.',
    ),
    generators: list(objectWithOptional({ name: text(nameLength), node: text(nameLength) }, ['node']), 100_000),
    phases: list(
      objectWithOptional({ name: text(nameLength), startSecond: amount(), durationSeconds: amount(), rate: amount(), rateTo: amount() }, ['rate', 'rateTo']),
      100_000,
    ),
    totals: object({
      sent: count(),
      ok: count(),
      errors: count(),
      errorRate: amount('Errors per request sent, 0 to 1.', 1),
      sentRate: amount('Requests sent per second.'),
      okRate: amount('Successful requests per second.'),
    }),
    errors: list(object({ class: oneOf(errorClasses), count: count() }), errorClasses.length),
    latency: object(
      {
        count: count(),
        min: amount(),
        mean: amount(),
        stddev: amount(),
        max: amount(),
        percentiles: list(latencyPoint, 1000, { key: 'p', strict: false }),
        spectrum: list(latencyPoint, 100_000, { key: 'p', strict: false }),
        histogram: { ...text(histogramLength, 'The whole HDR histogram (µs), compressed base64.'), format: 'base64' } as StringNode<string>,
      },
      'Latencies in ms.',
    ),
    endpoints: list(object({ name: text(nameLength), requests: count(), share: amount('Share of identified replies, 0 to 1.', 1) }), 100_000),
    timeline: list(
      object({
        second: count('Seconds from t0, by intended send time.'),
        sent: count(),
        ok: count(),
        errors: count(),
        errorClasses: countsByClass('Errors of this second by class.'),
        p50: amount(),
        p90: amount(),
        p99: amount(),
        max: amount(),
      }),
      oneWeekOfSeconds,
      { key: 'second', strict: true },
    ),
    actions: list(
      objectWithOptional(
        {
          name: text(nameLength),
          kind: text(nameLength),
          atSecond: anyNumber('When it started, seconds from t0.'),
          completedSecond: anyNumber('When it completed, seconds from t0; absent if it never did.'),
          ok: flag(),
          message: text(messageLength),
        },
        ['completedSecond'],
      ),
      100_000,
    ),
  },
  'The result of one `weft load` run (result.json).',
)

// The compiler's check that the description above is exactly LoadResult (a change to either fails `tsc`).
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false
type Deep<T> = T extends (infer I)[] ? Deep<I>[] : T extends object ? { [K in keyof T]: Deep<T[K]> } : T
const describedIsLoadResult: Equal<Deep<TypeOf<typeof resultDescription>>, Deep<LoadResult>> = true
void describedIsLoadResult

export class ResultFileError extends Error {
  readonly code = 'InvalidLoadResult'
  /** The JSON path of the problem (`latency.percentiles[3].ms`), empty for the whole file. */
  readonly path: string

  constructor(fileName: string, path: string, problem: string) {
    super(`${terminalSafe(fileName)}: ${path ? path + ': ' : ''}${problem}`)
    this.name = 'ResultFileError'
    this.path = path
  }
}

function kindOf(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  if (typeof value === 'object') return 'an object'
  if (typeof value === 'string') return `the string ${quote(value)}`
  if (typeof value === 'number') return `the number ${value}`
  return String(value)
}

/** A value from the file, quoted for an error message: cut short, control characters spelled out. */
function quote(value: string): string {
  return `"${truncate(terminalSafe(value), 60).replaceAll('"', '\\"')}"`
}

function join(path: string, key: string): string {
  return path ? `${path}.${key}` : key
}

const dateTime = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/
const base64 = /^[A-Za-z0-9+/]*={0,2}$/

class Checker {
  private readonly fileName: string

  constructor(fileName: string) {
    this.fileName = fileName
  }

  fail(path: string, problem: string): never {
    throw new ResultFileError(this.fileName, path, problem)
  }

  check(node: AnyNode, value: unknown, path: string): unknown {
    switch (node.kind) {
      case 'string':
        return this.string(node, value, path)
      case 'number':
        return this.number(node, value, path)
      case 'boolean':
        if (typeof value !== 'boolean') this.fail(path, `expected true or false (got ${kindOf(value)})`)
        return value
      case 'array':
        return this.array(node, value, path)
      case 'object':
        return this.object(node, value, path)
      case 'map':
        return this.map(node, value, path)
    }
  }

  string(node: StringNode<string>, value: unknown, path: string): string {
    if (typeof value !== 'string') this.fail(path, `expected a string (got ${kindOf(value)})`)
    if (node.values && !node.values.includes(value)) {
      const allowed = node.values.length === 1 ? JSON.stringify(node.values[0]) : `one of ${node.values.map((v) => JSON.stringify(v)).join(', ')}`
      this.fail(path, `expected ${allowed} (got ${quote(value)})`)
    }
    if (value.length > node.maxLength) this.fail(path, `expected at most ${node.maxLength} characters (got ${value.length})`)
    if (node.format === 'date-time' && (!dateTime.test(value) || Number.isNaN(Date.parse(value)))) {
      this.fail(path, `expected a date and time like 2026-12-07T08:00:00.000Z (got ${quote(value)})`)
    }
    if (node.format === 'base64' && !base64.test(value)) this.fail(path, 'expected base64 text')
    return value
  }

  number(node: NumberNode, value: unknown, path: string): number {
    const what = node.integer ? 'a whole number' : 'a number'
    if (typeof value !== 'number' || !Number.isFinite(value)) this.fail(path, `expected ${what} (got ${kindOf(value)})`)
    if (node.integer && !Number.isInteger(value)) this.fail(path, `expected ${what} (got ${value})`)
    const { minimum, maximum } = node
    if ((minimum !== undefined && value < minimum) || (maximum !== undefined && value > maximum)) {
      const range = maximum === undefined || maximum === Number.MAX_SAFE_INTEGER ? `≥ ${minimum}` : `from ${minimum ?? '-∞'} to ${maximum}`
      this.fail(path, `expected ${what} ${range} (got ${value})`)
    }
    return value
  }

  array(node: ArrayNode<unknown>, value: unknown, path: string): unknown[] {
    if (!Array.isArray(value)) this.fail(path, `expected an array (got ${kindOf(value)})`)
    if (value.length > node.maxItems) this.fail(path, `expected at most ${node.maxItems} items (got ${value.length})`)
    const items = value.map((item, index) => this.check(node.items , item, `${path}[${index}]`))
    if (node.ordered) {
      const { key, strict } = node.ordered
      for (let index = 1; index < items.length; index++) {
        const previous = (items[index - 1] as Record<string, number>)[key]
        const current = (items[index] as Record<string, number>)[key]
        if (current < previous || (strict && current === previous)) {
          this.fail(`${path}[${index}].${key}`, `expected ${strict ? 'more than' : 'at least'} ${previous}, the item before's (in order${strict ? ', each once' : ''}; got ${current})`)
        }
      }
    }
    return items
  }

  object(node: ObjectNode<unknown>, value: unknown, path: string): Record<string, unknown> {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) this.fail(path, `expected an object (got ${kindOf(value)})`)
    const input = value as Record<string, unknown>
    // A fresh object holding only the described fields: nothing else from the file travels on.
    const output: Record<string, unknown> = {}
    for (const [key, child] of Object.entries(node.properties)) {
      const childPath = join(path, key)
      if (!Object.hasOwn(input, key) || input[key] === undefined) {
        if (node.optional.includes(key)) continue
        this.fail(childPath, 'required but missing')
      }
      output[key] = this.check(child , input[key], childPath)
    }
    return output
  }

  map(node: MapNode<unknown>, value: unknown, path: string): Record<string, number> {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) this.fail(path, `expected an object (got ${kindOf(value)})`)
    const output: Record<string, number> = {}
    for (const [key, item] of Object.entries(value)) {
      if (!node.keys.includes(key)) this.fail(join(path, key), `not a known key (expected one of ${node.keys.join(', ')})`)
      output[key] = this.number(node.values as NumberNode, item, join(path, key))
    }
    return output
  }
}

/** Cross-field rules the types cannot say. */
function checkConsistency(result: LoadResult, checker: Checker): void {
  result.actions.forEach((action, index) => {
    if (action.completedSecond !== undefined && action.completedSecond < action.atSecond) {
      checker.fail(`actions[${index}].completedSecond`, `expected a time at or after atSecond ${action.atSecond} (got ${action.completedSecond})`)
    }
  })
  result.timeline.forEach((entry, index) => {
    if (entry.ok + entry.errors > entry.sent) checker.fail(`timeline[${index}]`, `ok (${entry.ok}) and errors (${entry.errors}) add up to more than sent (${entry.sent})`)
  })
  const { totals } = result
  if (totals.ok + totals.errors > totals.sent) checker.fail('totals', `ok (${totals.ok}) and errors (${totals.errors}) add up to more than sent (${totals.sent})`)
}

/** Why `text` is not JSON, with the place: `line 3, column 8: not valid JSON (unexpected "}")`. */
function describeInvalidJson(text: string): string {
  const offset = invalidJsonOffset(text)
  if (offset === undefined) return 'not valid JSON'
  const { line, column } = lineAndColumn(text, offset)
  const found = offset >= text.length ? 'the text ends too soon' : `unexpected ${quote(String.fromCodePoint(text.codePointAt(offset)!))}`
  return `line ${line}, column ${column}: not valid JSON (${found})`
}

/** Parses and checks a result.json; throws ResultFileError naming the file and the JSON path of the first problem. */
export function parseResult(text: string, fileName: string, maxLength = maxResultLength): LoadResult {
  const checker = new Checker(fileName)
  if (text.length > maxLength) checker.fail('', `longer than ${maxLength} characters, too large for a weft load result`)
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    checker.fail('', describeInvalidJson(text))
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) checker.fail('', `expected a JSON object (got ${kindOf(value)})`)
  const schema = (value as Record<string, unknown>).schema
  if (schema !== resultSchemaId) {
    const got = typeof schema === 'string' ? quote(schema) : schema === undefined ? 'nothing' : kindOf(schema)
    checker.fail('schema', `expected "${resultSchemaId}" (got ${got}): not a weft load result, or one of another version`)
  }
  const result = checker.check(resultDescription, value, '') as LoadResult
  checkConsistency(result, checker)
  return result
}

type JsonSchema = Record<string, unknown>

function toJsonSchema(node: AnyNode): JsonSchema {
  const out: JsonSchema = {}
  if (node.description) out.description = node.description
  switch (node.kind) {
    case 'string':
      if (node.values?.length === 1) out.const = node.values[0]
      else if (node.values) out.enum = [...node.values]
      else out.type = 'string'
      if (!node.values) out.maxLength = node.maxLength
      if (node.format === 'date-time') out.format = 'date-time'
      if (node.format === 'base64') out.contentEncoding = 'base64'
      return out
    case 'number':
      out.type = node.integer ? 'integer' : 'number'
      if (node.minimum !== undefined) out.minimum = node.minimum
      if (node.maximum !== undefined && node.maximum !== Number.MAX_SAFE_INTEGER) out.maximum = node.maximum
      return out
    case 'boolean':
      out.type = 'boolean'
      return out
    case 'array':
      out.type = 'array'
      out.items = toJsonSchema(node.items )
      out.maxItems = node.maxItems
      return out
    case 'object':
      out.type = 'object'
      out.properties = Object.fromEntries(Object.entries(node.properties).map(([key, child]) => [key, toJsonSchema(child )]))
      out.required = Object.keys(node.properties).filter((key) => !node.optional.includes(key))
      return out
    case 'map':
      out.type = 'object'
      out.propertyNames = { enum: [...node.keys] }
      out.additionalProperties = toJsonSchema(node.values)
      return out
  }
}

/** The JSON Schema (draft 2020-12) of result.json, also in load/report/result.schema.json. */
export const resultJsonSchema: JsonSchema = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  $id: 'https://weft.dev/schemas/load-result/v1.json',
  title: 'weft load result',
  ...toJsonSchema(resultDescription),
}
