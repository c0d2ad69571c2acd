import { readFileSync } from 'node:fs'
import t, { type Test } from 'tap'
import { parseResult, ResultFileError, resultJsonSchema } from '../../load/report/schema.ts'
import { resultSchemaFile, resultSchemaText } from '../../load/report/write-schema.ts'
import { validateJsonSchema } from './fixtures/json-schema.ts'
import { closedDnsResult, fixtureFiles, fixturesDir, fullResult, hostileResult, makeResult, rolloutResult } from './fixtures/results.ts'

type Json = Record<string, any>

function failure(text: string, fileName = 'result.json'): string {
  try {
    parseResult(text, fileName)
  } catch (error) {
    if (error instanceof ResultFileError) return error.message
    throw error
  }
  throw new Error('parsed, but should not have')
}

t.test('the committed fixtures parse, unchanged, and are what their generators make', async (t) => {
  for (const [name, make] of Object.entries(fixtureFiles)) {
    const text = readFileSync(new URL(name, fixturesDir), 'utf8')
    const parsed = parseResult(text, name)
    t.same(parsed, JSON.parse(text), `${name} round-trips`)
    t.same(parsed, make(), `${name} is up to date (node test/load/fixtures/write-fixtures.ts rewrites it)`)
  }
})

t.test('generated results of every shape parse', async (t) => {
  const results = [rolloutResult(), closedDnsResult(), fullResult(), hostileResult(), makeResult({ seconds: 1, rate: 1, endpoints: [] }), makeResult({ seconds: 3600, rate: 10_000, samplesPerSecond: 20 })]
  for (const result of results) t.same(parseResult(JSON.stringify(result), 'x.json'), result)
})

// Each case: a change to a valid result, and the error it must give. `schema`: the JSON Schema catches it too.
const malformed: { name: string; change: (result: Json) => void; error: string | RegExp; schema: boolean }[] = [
  { name: 'a percentile as a string', change: (r) => (r.latency.percentiles[3].ms = '5'), error: 'result.json: latency.percentiles[3].ms: expected a number (got the string "5")', schema: true },
  { name: 'another version', change: (r) => (r.schema = 'weft.dev/load-result/v2'), error: 'result.json: schema: expected "weft.dev/load-result/v1" (got "weft.dev/load-result/v2"): not a weft load result, or one of another version', schema: true },
  { name: 'no schema', change: (r) => delete r.schema, error: /^result\.json: schema: expected "weft\.dev\/load-result\/v1" \(got nothing\)/, schema: true },
  { name: 'a missing total', change: (r) => delete r.totals.sent, error: 'result.json: totals.sent: required but missing', schema: true },
  { name: 'an unknown protocol', change: (r) => (r.target.protocol = 'ftp'), error: 'result.json: target.protocol: expected one of "http1", "http2", "grpc", "tcp", "udp", "dns" (got "ftp")', schema: true },
  { name: 'an unknown mode', change: (r) => (r.options.mode = 'sideways'), error: /^result\.json: options\.mode: expected one of "open-loop", "closed-loop"/, schema: true },
  { name: 'an unknown error class', change: (r) => (r.errors[0].class = 'meltdown'), error: /^result\.json: errors\[0\]\.class: expected one of "refused", "reset"/, schema: true },
  { name: 'a second out of order', change: (r) => (r.timeline[10].second = 9), error: 'result.json: timeline[10].second: expected more than 9, the item before\'s (in order, each once; got 9)', schema: false },
  { name: 'percentiles out of order', change: (r) => (r.latency.percentiles[2].p = 40), error: 'result.json: latency.percentiles[2].p: expected at least 75, the item before\'s (in order; got 40)', schema: false },
  { name: 'an unknown class in a second', change: (r) => (r.timeline[3].errorClasses = { bogus: 1 }), error: /^result\.json: timeline\[3\]\.errorClasses\.bogus: not a known key \(expected one of refused, reset, timeout/, schema: true },
  { name: 'a negative count in a second', change: (r) => (r.timeline[3].errorClasses = { reset: -1 }), error: 'result.json: timeline[3].errorClasses.reset: expected a whole number ≥ 0 (got -1)', schema: true },
  { name: 'a share above 1', change: (r) => (r.endpoints[0].share = 1.5), error: 'result.json: endpoints[0].share: expected a number from 0 to 1 (got 1.5)', schema: true },
  { name: 'a percentile above 100', change: (r) => (r.latency.spectrum.at(-1).p = 101), error: /^result\.json: latency\.spectrum\[\d+\]\.p: expected a number from 0 to 100 \(got 101\)$/, schema: true },
  { name: 'a fractional count', change: (r) => (r.totals.sent = 1.5), error: 'result.json: totals.sent: expected a whole number (got 1.5)', schema: true },
  { name: 'a negative duration', change: (r) => (r.durationSeconds = -1), error: 'result.json: durationSeconds: expected a number ≥ 0 (got -1)', schema: true },
  { name: 'a string for a boolean', change: (r) => (r.actions[0].ok = 'yes'), error: 'result.json: actions[0].ok: expected true or false (got the string "yes")', schema: true },
  { name: 'null for an optional number', change: (r) => (r.options.rate = null), error: 'result.json: options.rate: expected a number (got null)', schema: true },
  { name: 'an object for an array', change: (r) => (r.generators = {}), error: 'result.json: generators: expected an array (got an object)', schema: true },
  { name: 'an array for an object', change: (r) => (r.latency = []), error: 'result.json: latency: expected an object (got an array)', schema: true },
  { name: 'a number for a string', change: (r) => (r.target.spec = 80), error: 'result.json: target.spec: expected a string (got the number 80)', schema: true },
  { name: 'a bad date', change: (r) => (r.startedAt = 'yesterday'), error: 'result.json: startedAt: expected a date and time like 2026-12-07T08:00:00.000Z (got "yesterday")', schema: false },
  { name: 'a histogram not in base64', change: (r) => (r.latency.histogram = 'not base64!'), error: 'result.json: latency.histogram: expected base64 text', schema: false },
  { name: 'an endless name', change: (r) => (r.endpoints[0].name = 'x'.repeat(2000)), error: 'result.json: endpoints[0].name: expected at most 1024 characters (got 2000)', schema: true },
  { name: 'too many error classes', change: (r) => (r.errors = Array.from({ length: 16 }, () => ({ class: 'reset', count: 1 }))), error: 'result.json: errors: expected at most 15 items (got 16)', schema: true },
  { name: 'an action completed before it started', change: (r) => (r.actions[0].completedSecond = 10), error: 'result.json: actions[0].completedSecond: expected a time at or after atSecond 20 (got 10)', schema: false },
  { name: 'more answers than requests in a second', change: (r) => (r.timeline[0].ok = r.timeline[0].sent + 1), error: /^result\.json: timeline\[0\]: ok \(\d+\) and errors \(0\) add up to more than sent \(\d+\)$/, schema: false },
  { name: 'more answers than requests in total', change: (r) => (r.totals.errors = r.totals.sent), error: /^result\.json: totals: ok \(\d+\) and errors \(\d+\) add up to more than sent \(\d+\)$/, schema: false },
]

t.test('malformed results fail naming the file and the JSON path', async (t) => {
  for (const { name, change, error, schema } of malformed) {
    const result = JSON.parse(JSON.stringify(rolloutResult())) as Json
    change(result)
    const message = failure(JSON.stringify(result))
    if (typeof error === 'string') t.equal(message, error, name)
    else t.match(message, error, name)
    if (schema) t.not(validateJsonSchema(resultJsonSchema, result).length, 0, `the JSON Schema rejects ${name} too`)
  }
})

t.test('malformed text fails clearly', async (t) => {
  t.equal(failure('{\n  "schema": "weft.dev/load-result/v1",\n  "x": }\n'), 'result.json: line 3, column 8: not valid JSON (unexpected "}")')
  t.equal(failure(''), 'result.json: line 1, column 1: not valid JSON (the text ends too soon)')
  t.equal(failure('[1,2'), 'result.json: line 1, column 5: not valid JSON (the text ends too soon)')
  t.equal(failure('{"a":1,}'), 'result.json: line 1, column 8: not valid JSON (unexpected "}")')
  t.equal(failure('{"a":"\u0001"}'), 'result.json: line 1, column 7: not valid JSON (unexpected "\\u0001")', 'a raw control character is named, not printed')
  t.equal(failure('[01]'), 'result.json: line 1, column 3: not valid JSON (unexpected "1")')
  t.equal(failure('{} x'), 'result.json: line 1, column 4: not valid JSON (unexpected "x")')
  t.equal(failure('['.repeat(1_000_000)), 'result.json: not valid JSON', 'too deep to point at a place, still an error')
  t.equal(failure('[]'), 'result.json: expected a JSON object (got an array)')
  t.equal(failure('"hello"'), 'result.json: expected a JSON object (got the string "hello")')
  t.equal(failure('null'), 'result.json: expected a JSON object (got null)')
  const huge = JSON.stringify(rolloutResult()).replace('"durationSeconds":60', '"durationSeconds":1e400')
  t.equal(failure(huge), 'result.json: durationSeconds: expected a number (got the number Infinity)')
  t.throws(() => parseResult(JSON.stringify(rolloutResult()), 'r.json', 1000), { message: 'r.json: longer than 1000 characters, too large for a weft load result' })
  t.equal(failure('[]', 'evil\u001b[2J.json'), 'evil\\u001b[2J.json: expected a JSON object (got an array)', 'the file name is printed safely')
  t.match(failure(JSON.stringify({ ...rolloutResult(), target: { ...rolloutResult().target, protocol: '\u001b[31mred' } })), '(got "\\u001b[31mred")', 'so is a bad value')
})

t.test('only the described fields come back; __proto__ in a file changes nothing', async (t) => {
  const text = JSON.stringify(rolloutResult()).replace('"target":{', '"extra":{"a":1},"target":{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}},')
  const parsed = parseResult(text, 'result.json') as unknown as Json
  t.equal(parsed.extra, undefined)
  t.same(Object.keys(parsed.target).sort(), ['description', 'endpoints', 'protocol', 'spec', 'tls'])
  t.equal(Object.getPrototypeOf(parsed.target), Object.prototype)
  t.equal(({} as Json).polluted, undefined)
})

t.test('result.schema.json is the published JSON Schema, up to date', async (t) => {
  t.equal(readFileSync(resultSchemaFile, 'utf8'), resultSchemaText(), 'node load/report/write-schema.ts rewrites it')
  t.equal(resultJsonSchema.$schema, 'https://json-schema.org/draft/2020-12/schema')
  for (const make of [rolloutResult, closedDnsResult, fullResult, hostileResult]) t.same(validateJsonSchema(resultJsonSchema, make()), [], `${make.name} is valid by the JSON Schema`)
})

/** Every field of the JSON Schema and of a full result, walked together: [path, required by the schema]. */
function walk(schema: Json, value: unknown, path: string, out: [string, boolean][], t: Test): void {
  if (schema.type === 'object' && schema.properties) {
    const object = value as Json
    const properties = Object.keys(schema.properties)
    t.same(Object.keys(object).filter((key) => !properties.includes(key)), [], `${path || '(root)'}: every key of a result is in the JSON Schema`)
    for (const key of properties) {
      const child = path ? `${path}.${key}` : key
      out.push([child, schema.required.includes(key)])
      if (!(key in object)) t.fail(`${child}: the full fixture lacks it`)
      else walk(schema.properties[key], object[key], child, out, t)
    }
  } else if (schema.type === 'array' && Array.isArray(value) && value.length > 0) {
    walk(schema.items, value[0], `${path}[0]`, out, t)
  }
}

function remove(result: Json, path: string): void {
  const parts = path.split(/\.|(?=\[)/).map((part) => (part.startsWith('[') ? Number(part.slice(1, -1)) : part))
  const key = parts.pop()!
  let at: Json = result
  for (const part of parts) at = at[part]
  delete at[key]
}

t.test('the JSON Schema requires exactly what the parser requires', async (t) => {
  const fields: [string, boolean][] = []
  walk(resultJsonSchema, fullResult(), '', fields, t)
  t.ok(fields.length > 60, `${fields.length} fields walked`)
  for (const [path, required] of fields) {
    const result = fullResult() as unknown as Json
    remove(result, path)
    let error: unknown
    try {
      parseResult(JSON.stringify(result), 'result.json')
    } catch (caught) {
      error = caught
    }
    if (required) t.match(error, { message: path === 'schema' ? /^result\.json: schema: expected/ : `result.json: ${path}: required but missing` }, `${path} is required by both`)
    else t.equal(error, undefined, `${path} is optional in both`)
  }
})
