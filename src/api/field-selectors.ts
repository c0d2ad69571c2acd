// Field selectors (`?fieldSelector=`): k8s.io/apimachinery/pkg/fields syntax, and per kind
// the labels Kubernetes accepts (pkg/apis/*/v1 field label conversions) with the values its
// registries expose for them (pkg/registry/*/strategy.go `...ToSelectableFields`).
import type { ResourceInfo } from './registry.ts'
import { badRequest } from '../util/errors.ts'

export type FieldOperator = 'Equals' | 'NotEquals'

export interface FieldRequirement {
  field: string
  operator: FieldOperator
  value: string
}

export interface FieldSelector {
  /** The kind it was parsed for: decides how each field's value is read. */
  kind: string
  /** ANDed; sorted as upstream sorts the terms. */
  requirements: FieldRequirement[]
}

type Getter = (obj: Record<string, unknown>) => string

interface KindFields {
  /** Accepted labels; a getter of undefined reads the JSON path. */
  fields: Record<string, Getter | undefined>
  aliases?: Record<string, string>
  /** Kinds with their own conversion say `field label not supported: x`. */
  custom: boolean
}

const metaFields = { 'metadata.name': undefined, 'metadata.namespace': undefined }

function path(obj: unknown, dotted: string): unknown {
  let cur = obj
  for (const part of dotted.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined
    cur = (cur as Record<string, unknown>)[part]
  }
  return cur
}

function boolField(dotted: string): Getter {
  return (obj) => (path(obj, dotted) === true ? 'true' : 'false')
}

function intField(dotted: string): Getter {
  return (obj) => {
    const v = path(obj, dotted)
    return typeof v === 'number' ? String(Math.trunc(v)) : '0'
  }
}

function podIP(obj: Record<string, unknown>): string {
  const first = path(obj, 'status.podIPs.0.ip')
  if (typeof first === 'string') return first
  return fieldValue(obj, 'status.podIP')
}

function eventSource(obj: Record<string, unknown>): string {
  return fieldValue(obj, 'source.component') || fieldValue(obj, 'reportingComponent')
}

const kinds: Record<string, KindFields> = {
  Pod: {
    custom: true,
    fields: {
      ...metaFields,
      'spec.nodeName': undefined,
      'spec.restartPolicy': undefined,
      'spec.schedulerName': undefined,
      'spec.serviceAccountName': undefined,
      'spec.hostNetwork': boolField('spec.hostNetwork'),
      'status.phase': undefined,
      'status.podIP': podIP,
      // Accepted by the conversion but not among the selectable fields: always ''.
      'status.podIPs': () => '',
      'status.nominatedNodeName': undefined,
    },
    aliases: { 'spec.host': 'spec.nodeName' },
  },
  Node: {
    custom: true,
    fields: { 'metadata.name': undefined, 'spec.unschedulable': boolField('spec.unschedulable') },
  },
  Namespace: {
    custom: true,
    fields: { 'metadata.name': undefined, 'status.phase': undefined },
  },
  Secret: {
    custom: true,
    fields: { ...metaFields, type: undefined },
  },
  Service: {
    custom: true,
    fields: { ...metaFields, 'spec.clusterIP': undefined, 'spec.type': undefined },
  },
  Event: {
    custom: true,
    fields: {
      ...metaFields,
      'involvedObject.kind': undefined,
      'involvedObject.namespace': undefined,
      'involvedObject.name': undefined,
      'involvedObject.uid': undefined,
      'involvedObject.apiVersion': undefined,
      'involvedObject.resourceVersion': undefined,
      'involvedObject.fieldPath': undefined,
      reason: undefined,
      reportingComponent: undefined,
      source: eventSource,
      type: undefined,
    },
    // events.k8s.io/v1's names for the same fields (its Events are core Events).
    aliases: {
      'regarding.kind': 'involvedObject.kind',
      'regarding.namespace': 'involvedObject.namespace',
      'regarding.name': 'involvedObject.name',
      'regarding.uid': 'involvedObject.uid',
      'regarding.apiVersion': 'involvedObject.apiVersion',
      'regarding.resourceVersion': 'involvedObject.resourceVersion',
      'regarding.fieldPath': 'involvedObject.fieldPath',
      reportingController: 'reportingComponent',
    },
  },
  ReplicaSet: {
    custom: true,
    fields: { ...metaFields, 'status.replicas': intField('status.replicas') },
  },
  // batch/v1 names the succeeded count `status.successful`.
  Job: {
    custom: true,
    fields: { ...metaFields, 'status.successful': intField('status.succeeded') },
  },
  CertificateSigningRequest: {
    custom: true,
    fields: { 'metadata.name': undefined, 'spec.signerName': undefined },
  },
}

const defaultFields: KindFields = { custom: false, fields: metaFields }

function kindFields(kind: string): KindFields {
  return Object.hasOwn(kinds, kind) ? kinds[kind] : defaultFields
}

/** The field labels a kind accepts (aliases excluded). */
export function supportedFields(kind: string): string[] {
  return Object.keys(kindFields(kind).fields)
}

/**
 * The string a field selector compares for `field` of `obj`: strings as they are, booleans
 * as 'true'/'false', numbers in decimal, missing as ''. With `kind`, the kind's own rules
 * apply (a missing `spec.hostNetwork` reads 'false', a Pod's `status.podIP` is `podIPs[0]`).
 */
export function fieldValue(obj: object, field: string, kind?: string): string {
  if (kind !== undefined) {
    const getter = kindFields(kind).fields[field]
    if (getter) return getter(obj as Record<string, unknown>)
  }
  const v = path(obj, field)
  if (typeof v === 'string') return v
  if (typeof v === 'boolean') return v ? 'true' : 'false'
  if (typeof v === 'number' || typeof v === 'bigint') return String(v)
  return ''
}

export function matchesFields(sel: FieldSelector, obj: object): boolean {
  return sel.requirements.every((r) => {
    const actual = fieldValue(obj, r.field, sel.kind)
    return r.operator === 'Equals' ? actual === r.value : actual !== r.value
  })
}

/** The value a selector pins `field` to with `=`/`==`, if any. */
export function fieldRequiresExactMatch(sel: FieldSelector, field: string): string | undefined {
  return sel.requirements.find((r) => r.field === field && r.operator === 'Equals')?.value
}

// ---- syntax ----

function splitTerms(text: string): string[] {
  if (text === '') return []
  const terms: string[] = []
  let start = 0
  let escaped = false
  for (let i = 0; i < text.length; i++) {
    if (escaped) escaped = false
    else if (text[i] === '\\') escaped = true
    else if (text[i] === ',') {
      terms.push(text.slice(start, i))
      start = i + 1
    }
  }
  terms.push(text.slice(start))
  return terms
}

const termOperators: [string, FieldOperator][] = [
  ['!=', 'NotEquals'],
  ['==', 'Equals'],
  ['=', 'Equals'],
]

function splitTerm(term: string): { lhs: string; op: FieldOperator; rhs: string } | undefined {
  for (let i = 0; i < term.length; i++) {
    for (const [text, op] of termOperators) {
      if (term.startsWith(text, i)) return { lhs: term.slice(0, i), op, rhs: term.slice(i + text.length) }
    }
  }
  return undefined
}

function unescapeValue(s: string): string {
  if (!/[\\,=]/.test(s)) return s
  let out = ''
  let inSlash = false
  for (const c of s) {
    if (inSlash) {
      if (c !== '\\' && c !== ',' && c !== '=') {
        throw badRequest(`invalid field selector: invalid escape sequence: \\${c}`)
      }
      out += c
      inSlash = false
    } else if (c === '\\') {
      inSlash = true
    } else if (c === ',' || c === '=') {
      throw badRequest(`invalid field selector: unescaped character in value: ${c.codePointAt(0)}`)
    } else {
      out += c
    }
  }
  if (inSlash) throw badRequest('invalid field selector: invalid escape sequence: \\')
  return out
}

export function escapeValue(s: string): string {
  return s.replace(/[\\,=]/g, (c) => `\\${c}`)
}

/**
 * Parses `a=b,c!=d` for one kind, rejecting field labels the kind does not support with
 * upstream's message. '' selects everything. Throws a 400 ApiError.
 */
export function parseFieldSelector(text: string, info: ResourceInfo): FieldSelector {
  // A custom resource takes metadata.name (metadata.namespace when namespaced) and its
  // version's selectableFields, whatever its kind is called; others are refused as upstream's
  // CR converter refuses them.
  const kind = info.custom ? '' : info.kind
  const spec: KindFields = info.custom
    ? { custom: true, fields: Object.fromEntries(['metadata.name', ...(info.namespaced ? ['metadata.namespace'] : []), ...info.custom.selectableFields].map((f) => [f, undefined])) }
    : kindFields(kind)
  const terms = splitTerms(text).sort()
  const requirements: FieldRequirement[] = []
  for (const term of terms) {
    if (term === '') continue
    const parts = splitTerm(term)
    if (!parts) throw badRequest(`invalid selector: '${text}'; can't understand '${term}'`)
    const value = unescapeValue(parts.rhs)
    let field = parts.lhs
    if (spec.aliases && Object.hasOwn(spec.aliases, field)) field = spec.aliases[field]
    else if (!Object.hasOwn(spec.fields, field)) {
      throw badRequest(
        spec.custom
          ? `field label not supported: ${field}`
          : `${JSON.stringify(field)} is not a known field selector: only "metadata.name", "metadata.namespace"`,
      )
    }
    requirements.push({ field, operator: parts.op, value })
  }
  return { kind, requirements }
}

export function fieldSelectorToString(sel: FieldSelector): string {
  return sel.requirements.map((r) => `${r.field}${r.operator === 'Equals' ? '=' : '!='}${escapeValue(r.value)}`).join(',')
}
