// Label selectors as plain data: the string syntax of `?labelSelector=` and the
// object form of `spec.selector`, with k8s.io/apimachinery/pkg/labels semantics and messages.
import type { V1LabelSelector } from '@kubernetes/client-node'
import { badRequest } from '../util/errors.ts'
import { isQualifiedName, isValidLabelValue } from './names.ts'

export type LabelOperator =
  | 'Exists'
  | 'DoesNotExist'
  | 'Equals'
  | 'DoubleEquals'
  | 'NotEquals'
  | 'In'
  | 'NotIn'
  | 'GreaterThan'
  | 'LessThan'

export interface LabelRequirement {
  key: string
  operator: LabelOperator
  /** Empty for Exists/DoesNotExist, one value for the equality and Gt/Lt operators. */
  values: string[]
}

export interface LabelSelector {
  /** ANDed; sorted by key. */
  requirements: LabelRequirement[]
  /** True only for the selector of a nil `spec.selector`, which selects nothing. */
  matchesNothing: boolean
}

export function everything(): LabelSelector {
  return { requirements: [], matchesNothing: false }
}

export function nothing(): LabelSelector {
  return { requirements: [], matchesNothing: true }
}

export function isEverything(sel: LabelSelector): boolean {
  return !sel.matchesNothing && sel.requirements.length === 0
}

/** Selects exactly the objects carrying all of `labels` (empty or missing: everything). */
export function selectorFromSet(labels: Record<string, string> | undefined): LabelSelector {
  const requirements = Object.keys(labels ?? {})
    .sort()
    .map((key): LabelRequirement => ({ key, operator: 'Equals', values: [labels![key]] }))
  return { requirements, matchesNothing: false }
}

// ---- matching ----

function requirementMatches(r: LabelRequirement, labels: Record<string, string>): boolean {
  const has = Object.hasOwn(labels, r.key)
  const value = has ? labels[r.key] : undefined
  switch (r.operator) {
    case 'In':
    case 'Equals':
    case 'DoubleEquals':
      return has && r.values.includes(value!)
    case 'NotIn':
    case 'NotEquals':
      return !has || !r.values.includes(value!)
    case 'Exists':
      return has
    case 'DoesNotExist':
      return !has
    case 'GreaterThan':
    case 'LessThan': {
      if (!has || r.values.length !== 1) return false
      const actual = parseInt64(value!)
      const bound = parseInt64(r.values[0])
      if (actual === undefined || bound === undefined) return false
      return r.operator === 'GreaterThan' ? actual > bound : actual < bound
    }
  }
}

export function matchesLabels(sel: LabelSelector, labels: Record<string, string> | undefined): boolean {
  if (sel.matchesNothing) return false
  const set = labels ?? {}
  return sel.requirements.every((r) => requirementMatches(r, set))
}

/**
 * The value a selector pins `key` to (`key=v`, `key==v`, `key in (v)`), if any:
 * lets callers use an index instead of scanning.
 */
export function requiresExactMatch(sel: LabelSelector, key: string): string | undefined {
  const r = sel.requirements.find((x) => x.key === key)
  if (!r) return undefined
  if ((r.operator === 'Equals' || r.operator === 'DoubleEquals' || r.operator === 'In') && r.values.length === 1) return r.values[0]
  return undefined
}

// ---- rendering ----

const operatorText: Record<LabelOperator, string> = {
  Exists: '',
  DoesNotExist: '',
  Equals: '=',
  DoubleEquals: '==',
  NotEquals: '!=',
  In: ' in ',
  NotIn: ' notin ',
  GreaterThan: '>',
  LessThan: '<',
}

export function requirementToString(r: LabelRequirement): string {
  const prefix = r.operator === 'DoesNotExist' ? '!' : ''
  if (r.operator === 'Exists' || r.operator === 'DoesNotExist') return prefix + r.key
  const values = r.values.length === 1 ? r.values[0] : [...r.values].sort().join(',')
  const set = r.operator === 'In' || r.operator === 'NotIn'
  return `${r.key}${operatorText[r.operator]}${set ? `(${values})` : values}`
}

/** The canonical string form; '' for both everything and nothing, as upstream. */
export function selectorToString(sel: LabelSelector): string {
  if (sel.matchesNothing) return ''
  return sel.requirements.map(requirementToString).join(',')
}

// ---- construction with validation ----

function fieldError(path: string, value: unknown, detail: string): string {
  return `${path}: Invalid value: ${goValue(value)}: ${detail}`
}

function goValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value)
  if (Array.isArray(value)) return `[]string{${value.map((v) => JSON.stringify(v)).join(', ')}}`
  return String(value)
}

function aggregate(errs: string[]): string {
  const unique = [...new Set(errs)]
  return unique.length === 1 ? unique[0] : `[${unique.join(', ')}]`
}

function parseInt64(text: string): bigint | undefined {
  if (!/^[+-]?[0-9]+$/.test(text)) return undefined
  const n = BigInt(text)
  if (n > 9223372036854775807n || n < -9223372036854775808n) return undefined
  return n
}

function labelKeyError(key: string, path: string): string | undefined {
  const errs = isQualifiedName(key)
  return errs.length ? fieldError(path, key, errs.join('; ')) : undefined
}

/** Upstream `labels.NewRequirement`: returns the requirement or the aggregated error text. */
function newRequirement(key: string, operator: LabelOperator, values: string[], path: string): LabelRequirement | string {
  const join = (child: string) => (path ? `${path}.${child}` : child)
  const errs: string[] = []
  const keyErr = labelKeyError(key, join('key'))
  if (keyErr) errs.push(keyErr)
  const valuePath = join('values')
  switch (operator) {
    case 'In':
    case 'NotIn':
      if (values.length === 0) errs.push(fieldError(valuePath, values, "for 'in', 'notin' operators, values set can't be empty"))
      break
    case 'Equals':
    case 'DoubleEquals':
    case 'NotEquals':
      if (values.length !== 1) errs.push(fieldError(valuePath, values, 'exact-match compatibility requires one single value'))
      break
    case 'Exists':
    case 'DoesNotExist':
      if (values.length !== 0) errs.push(fieldError(valuePath, values, 'values set must be empty for exists and does not exist'))
      break
    case 'GreaterThan':
    case 'LessThan':
      if (values.length !== 1) errs.push(fieldError(valuePath, values, "for 'Gt', 'Lt' operators, exactly one value is required"))
      values.forEach((v, i) => {
        if (parseInt64(v) === undefined) {
          errs.push(fieldError(`${valuePath}[${i}]`, v, "for 'Gt', 'Lt' operators, the value must be an integer"))
        }
      })
      break
  }
  values.forEach((v, i) => {
    const problems = isValidLabelValue(v)
    if (problems.length) errs.push(fieldError(`${valuePath}[${i}][${key}]`, v, problems.join('; ')))
  })
  if (errs.length) return aggregate(errs)
  return { key, operator, values }
}

function byKey(a: LabelRequirement, b: LabelRequirement): number {
  return a.key < b.key ? -1 : a.key > b.key ? 1 : 0
}

const objectOperators: Record<string, LabelOperator> = {
  In: 'In',
  NotIn: 'NotIn',
  Exists: 'Exists',
  DoesNotExist: 'DoesNotExist',
}

/**
 * `metav1.LabelSelectorAsSelector`: a missing selector selects nothing, an empty one
 * everything. Throws a 400 ApiError for bad keys, values or operators.
 */
export function labelSelectorFromObject(sel: V1LabelSelector | null | undefined): LabelSelector {
  if (sel === null || sel === undefined) return nothing()
  const matchLabels = sel.matchLabels ?? {}
  const expressions = sel.matchExpressions ?? []
  const requirements: LabelRequirement[] = []
  for (const key of Object.keys(matchLabels)) {
    const r = newRequirement(key, 'Equals', [matchLabels[key]], '')
    if (typeof r === 'string') throw badRequest(r)
    requirements.push(r)
  }
  for (const expr of expressions) {
    const op = Object.hasOwn(objectOperators, expr.operator) ? objectOperators[expr.operator] : undefined
    if (!op) throw badRequest(`${JSON.stringify(expr.operator ?? '')} is not a valid label selector operator`)
    const r = newRequirement(expr.key, op, [...(expr.values ?? [])], '')
    if (typeof r === 'string') throw badRequest(r)
    requirements.push(r)
  }
  requirements.sort(byKey)
  return { requirements, matchesNothing: false }
}

// ---- the string syntax ----

type Token =
  | 'Error'
  | 'End'
  | 'ClosedPar'
  | 'Comma'
  | 'DoesNotExist'
  | 'DoubleEquals'
  | 'Equals'
  | 'GreaterThan'
  | 'Identifier'
  | 'In'
  | 'LessThan'
  | 'NotEquals'
  | 'NotIn'
  | 'OpenPar'

interface Item {
  tok: Token
  lit: string
}

const literalTokens: Record<string, Token> = {
  ')': 'ClosedPar',
  ',': 'Comma',
  '!': 'DoesNotExist',
  '==': 'DoubleEquals',
  '=': 'Equals',
  '>': 'GreaterThan',
  in: 'In',
  '<': 'LessThan',
  '!=': 'NotEquals',
  notin: 'NotIn',
  '(': 'OpenPar',
}

function literalToken(s: string): Token | undefined {
  return Object.hasOwn(literalTokens, s) ? literalTokens[s] : undefined
}

const isWhitespace = (ch: string) => ch === ' ' || ch === '\t' || ch === '\r' || ch === '\n'
const isSpecial = (ch: string) => '=!(),><'.includes(ch)

function lex(s: string): Item[] {
  const items: Item[] = []
  let pos = 0
  for (;;) {
    while (pos < s.length && isWhitespace(s[pos])) pos++
    if (pos >= s.length) {
      items.push({ tok: 'End', lit: '' })
      return items
    }
    if (isSpecial(s[pos])) {
      let buffer = ''
      let last: Item | undefined
      while (pos < s.length && isSpecial(s[pos])) {
        buffer += s[pos]
        const tok = literalToken(buffer)
        if (tok) last = { tok, lit: buffer }
        else if (last) break
        pos++
      }
      items.push(last ?? { tok: 'Error', lit: `error expected: keyword found '${buffer}'` })
    } else {
      let buffer = ''
      while (pos < s.length && !isSpecial(s[pos]) && !isWhitespace(s[pos])) buffer += s[pos++]
      items.push({ tok: literalToken(buffer) ?? 'Identifier', lit: buffer })
    }
  }
}

class ParseError extends Error {}

const binaryOperatorNames = 'in, notin, =, ==, !=, gt, lt'

/** Upstream's recursive-descent parser over the scanned items. */
class Parser {
  private readonly items: Item[]
  private position = 0

  constructor(text: string) {
    this.items = lex(text)
  }

  // In value context the keywords `in` and `notin` are plain identifiers.
  private peek(values: boolean): Item {
    return this.view(this.items[this.position], values)
  }

  private next(values: boolean): Item {
    return this.view(this.items[this.position++], values)
  }

  private view(item: Item, values: boolean): Item {
    if (values && (item.tok === 'In' || item.tok === 'NotIn')) return { tok: 'Identifier', lit: item.lit }
    return item
  }

  parse(): LabelRequirement[] {
    const requirements: LabelRequirement[] = []
    for (;;) {
      const { tok, lit } = this.peek(true)
      if (tok === 'End') return requirements
      if (tok !== 'Identifier' && tok !== 'DoesNotExist') {
        throw new ParseError(`found '${lit}', expected: !, identifier, or 'end of string'`)
      }
      try {
        requirements.push(this.requirement())
      } catch (err) {
        if (err instanceof ParseError) throw new ParseError(`unable to parse requirement: ${err.message}`)
        throw err
      }
      const after = this.next(true)
      if (after.tok === 'End') return requirements
      if (after.tok !== 'Comma') throw new ParseError(`found '${after.lit}', expected: ',' or 'end of string'`)
      const following = this.peek(true)
      if (following.tok !== 'Identifier' && following.tok !== 'DoesNotExist') {
        throw new ParseError(`found '${following.lit}', expected: identifier after ','`)
      }
    }
  }

  private requirement(): LabelRequirement {
    let { tok, lit } = this.next(true)
    let operator: LabelOperator | undefined
    if (tok === 'DoesNotExist') {
      operator = 'DoesNotExist'
      ;({ tok, lit } = this.next(true))
    }
    if (tok !== 'Identifier') throw new ParseError(`found '${lit}', expected: identifier`)
    const key = lit
    const keyErr = labelKeyError(key, '<nil>')
    if (keyErr) throw new ParseError(keyErr)
    const ahead = this.peek(true).tok
    if (ahead === 'End' || ahead === 'Comma') operator ??= 'Exists'
    if (operator === 'Exists' || operator === 'DoesNotExist') return this.build(key, operator, [])
    const op = this.operator()
    const values = op === 'In' || op === 'NotIn' ? this.valueSet() : this.exactValue()
    return this.build(key, op, values)
  }

  private build(key: string, operator: LabelOperator, values: Set<string> | string[]): LabelRequirement {
    const r = newRequirement(key, operator, [...values].sort(), '')
    if (typeof r === 'string') throw new ParseError(r)
    return r
  }

  private operator(): LabelOperator {
    const { tok, lit } = this.next(false)
    switch (tok) {
      case 'In':
        return 'In'
      case 'Equals':
        return 'Equals'
      case 'DoubleEquals':
        return 'DoubleEquals'
      case 'GreaterThan':
        return 'GreaterThan'
      case 'LessThan':
        return 'LessThan'
      case 'NotIn':
        return 'NotIn'
      case 'NotEquals':
        return 'NotEquals'
      default:
        throw new ParseError(`found '${lit}', expected: ${binaryOperatorNames}`)
    }
  }

  private valueSet(): Set<string> {
    const open = this.next(true)
    if (open.tok !== 'OpenPar') throw new ParseError(`found '${open.lit}' expected: '('`)
    const { tok, lit } = this.peek(true)
    if (tok === 'ClosedPar') {
      this.next(true)
      return new Set([''])
    }
    if (tok !== 'Identifier' && tok !== 'Comma') throw new ParseError(`found '${lit}', expected: ',', ')' or identifier`)
    const values = this.identifierList()
    if (this.next(true).tok !== 'ClosedPar') throw new ParseError(`found '${lit}', expected: ')'`)
    return values
  }

  private identifierList(): Set<string> {
    const values = new Set<string>()
    for (;;) {
      const { tok, lit } = this.next(true)
      if (tok === 'Identifier') {
        values.add(lit)
        const ahead = this.peek(true)
        if (ahead.tok === 'Comma') continue
        if (ahead.tok === 'ClosedPar') return values
        throw new ParseError(`found '${ahead.lit}', expected: ',' or ')'`)
      }
      if (tok === 'Comma') {
        if (values.size === 0) values.add('')
        const ahead = this.peek(true).tok
        if (ahead === 'ClosedPar') {
          values.add('')
          return values
        }
        if (ahead === 'Comma') values.add('')
        continue
      }
      throw new ParseError(`found '${lit}', expected: ',', or identifier`)
    }
  }

  private exactValue(): Set<string> {
    const ahead = this.peek(true).tok
    if (ahead === 'End' || ahead === 'Comma') return new Set([''])
    const { tok, lit } = this.next(true)
    if (tok === 'Identifier') return new Set([lit])
    throw new ParseError(`found '${lit}', expected: identifier`)
  }
}

/**
 * Parses `a=b,c!=d,e in (f,g),!h,i`. Throws a 400 ApiError with upstream's message on
 * bad syntax, keys or values. '' selects everything.
 */
export function parseLabelSelector(text: string): LabelSelector {
  let requirements: LabelRequirement[]
  try {
    requirements = new Parser(text).parse()
  } catch (err) {
    if (err instanceof ParseError) throw badRequest(err.message)
    throw err
  }
  requirements.sort(byKey)
  return { requirements, matchesNothing: false }
}
