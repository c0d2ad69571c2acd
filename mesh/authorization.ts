// MeshAuthorization (mesh.weft.dev/v1alpha1, a namespaced custom resource the API server
// installs): L4 authorization of mesh connections, evaluated by the destination's node proxy,
// in the shape of Istio's AuthorizationPolicy:
//
//   spec:
//     selector: {matchLabels, matchExpressions}   which pods of the namespace (default: all)
//     action: ALLOW | DENY                         (default ALLOW)
//     rules:                                       a connection matching any rule matches
//     - from:                                      any source listed (default: any source)
//       - serviceAccounts: [ns/sa]                 all fields given must hold
//         namespaces: [ns]
//         principals: [spiffe://…]
//       ports: [8080]                              destination ports (default: any)
//
// Evaluation (Istio's): a matching DENY policy denies; otherwise, when ALLOW policies select
// the pod, one of them must match; otherwise (none) the connection is allowed. An ALLOW
// policy without rules matches nothing: `spec: {}` is a namespace's default deny.
//
// Objects are API input: one that does not parse (past the schema, say an invalid selector)
// denies every connection to its namespace (it fails closed, and alone), and is reported.
import type { V1LabelSelector } from '@kubernetes/client-node'
import { labelSelectorFromObject, matchesLabels, type LabelSelector } from '../src/api/selectors.ts'
import { parseSpiffeId, spiffeId, type WorkloadIdentity } from './identity.ts'

export const MESH_GROUP = 'mesh.weft.dev'
export const MESH_VERSION = 'v1alpha1'
export const AUTHORIZATION_KIND = 'MeshAuthorization'
export const AUTHORIZATION_PLURAL = 'meshauthorizations'
const MAX_ITEMS = 256

export interface MeshAuthorizationObject {
  apiVersion?: string
  kind?: string
  metadata?: { name?: string; namespace?: string; uid?: string; generation?: number; resourceVersion?: string }
  spec?: unknown
}

interface Source {
  serviceAccounts?: Set<string>
  namespaces?: Set<string>
  principals?: Set<string>
}

interface Rule {
  /** Undefined: any source. */
  from?: Source[]
  /** Undefined: any port. */
  ports?: Set<number>
}

export type ParsedAuthorization =
  | { namespace: string; name: string; selector: LabelSelector; action: 'ALLOW' | 'DENY'; rules: Rule[] }
  | { namespace: string; name: string; invalid: string }

type Obj = Record<string, unknown>
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v)

function strings(v: unknown, field: string, check: (s: string) => void): Set<string> | undefined {
  if (v === undefined || v === null) return undefined
  if (!Array.isArray(v) || v.length > MAX_ITEMS) throw new Error(`${field} must be a list of at most ${MAX_ITEMS} strings`)
  for (const s of v) {
    if (typeof s !== 'string') throw new Error(`${field} must be a list of strings`)
    check(s)
  }
  return new Set(v as string[])
}

function parseSource(v: unknown, field: string): Source {
  if (!isObj(v)) throw new Error(`${field} must be an object`)
  const unknown = Object.keys(v).filter((k) => !['serviceAccounts', 'namespaces', 'principals'].includes(k))
  if (unknown.length) throw new Error(`${field} has unknown fields ${unknown.join(', ')}`)
  const source: Source = {}
  const serviceAccounts = strings(v.serviceAccounts, `${field}.serviceAccounts`, (s) => {
    const [ns, sa, extra] = s.split('/')
    if (extra !== undefined || !ns || !sa) throw new Error(`${field}.serviceAccounts: ${JSON.stringify(s)} is not namespace/name`)
    spiffeId({ trustDomain: 'x', namespace: ns, serviceAccount: sa })
  })
  const namespaces = strings(v.namespaces, `${field}.namespaces`, (s) => spiffeId({ trustDomain: 'x', namespace: s, serviceAccount: 'x' }))
  const principals = strings(v.principals, `${field}.principals`, (s) => void parseSpiffeId(s))
  if (serviceAccounts) source.serviceAccounts = serviceAccounts
  if (namespaces) source.namespaces = namespaces
  if (principals) source.principals = principals
  return source
}

function parseRule(v: unknown, field: string): Rule {
  if (!isObj(v)) throw new Error(`${field} must be an object`)
  const unknown = Object.keys(v).filter((k) => k !== 'from' && k !== 'ports')
  if (unknown.length) throw new Error(`${field} has unknown fields ${unknown.join(', ')}`)
  const rule: Rule = {}
  if (v.from !== undefined && v.from !== null) {
    if (!Array.isArray(v.from) || v.from.length > MAX_ITEMS) throw new Error(`${field}.from must be a list of at most ${MAX_ITEMS} sources`)
    rule.from = v.from.map((s, i) => parseSource(s, `${field}.from[${i}]`))
  }
  if (v.ports !== undefined && v.ports !== null) {
    if (!Array.isArray(v.ports) || v.ports.length > MAX_ITEMS) throw new Error(`${field}.ports must be a list of at most ${MAX_ITEMS} ports`)
    for (const p of v.ports) if (!Number.isInteger(p) || (p as number) < 1 || (p as number) > 65535) throw new Error(`${field}.ports: ${JSON.stringify(p)} is not a port from 1 to 65535`)
    rule.ports = new Set(v.ports as number[])
  }
  return rule
}

export function parseAuthorization(obj: MeshAuthorizationObject): ParsedAuthorization {
  const namespace = obj.metadata?.namespace ?? ''
  const name = obj.metadata?.name ?? ''
  try {
    const spec = obj.spec ?? {}
    if (!isObj(spec)) throw new Error('spec must be an object')
    const unknown = Object.keys(spec).filter((k) => !['selector', 'action', 'rules'].includes(k))
    if (unknown.length) throw new Error(`spec has unknown fields ${unknown.join(', ')}`)
    const action = spec.action ?? 'ALLOW'
    if (action !== 'ALLOW' && action !== 'DENY') throw new Error(`spec.action ${JSON.stringify(action)} is not ALLOW or DENY`)
    let selector: LabelSelector
    try {
      selector = labelSelectorFromObject((spec.selector ?? {}) as V1LabelSelector)
    } catch (err) {
      throw new Error(`spec.selector: ${(err as Error).message}`)
    }
    const rules = spec.rules ?? []
    if (!Array.isArray(rules) || rules.length > MAX_ITEMS) throw new Error(`spec.rules must be a list of at most ${MAX_ITEMS} rules`)
    return { namespace, name, selector, action, rules: rules.map((r, i) => parseRule(r, `spec.rules[${i}]`)) }
  } catch (err) {
    return { namespace, name, invalid: (err as Error).message }
  }
}

export interface Connection {
  source: WorkloadIdentity
  destination: { namespace: string; labels: Record<string, string> }
  port: number
}

export type Decision = { allowed: true; policy?: string } | { allowed: false; policy?: string; reason: string }

function sourceMatches(s: Source, c: Connection): boolean {
  if (s.serviceAccounts && !s.serviceAccounts.has(`${c.source.namespace}/${c.source.serviceAccount}`)) return false
  if (s.namespaces && !s.namespaces.has(c.source.namespace)) return false
  if (s.principals && !s.principals.has(spiffeId(c.source))) return false
  return true
}

function ruleMatches(r: Rule, c: Connection): boolean {
  if (r.ports && !r.ports.has(c.port)) return false
  return !r.from || r.from.some((s) => sourceMatches(s, c))
}

/** The policies of each namespace, parsed once per change. */
export class AuthorizationIndex {
  readonly #byNamespace = new Map<string, ParsedAuthorization[]>()

  constructor(policies: Iterable<ParsedAuthorization>) {
    for (const p of policies) {
      const list = this.#byNamespace.get(p.namespace)
      if (list) list.push(p)
      else this.#byNamespace.set(p.namespace, [p])
    }
    for (const list of this.#byNamespace.values()) list.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  }

  decide(c: Connection): Decision {
    const policies = this.#byNamespace.get(c.destination.namespace) ?? []
    const invalid = policies.find((p) => 'invalid' in p)
    if (invalid) return { allowed: false, policy: `${invalid.namespace}/${invalid.name}`, reason: `MeshAuthorization ${invalid.namespace}/${invalid.name} is invalid (${(invalid as { invalid: string }).invalid}); its namespace's pods are closed to the mesh until it is fixed` }
    const selecting = policies.filter((p): p is Extract<ParsedAuthorization, { selector: LabelSelector }> => 'selector' in p && matchesLabels(p.selector, c.destination.labels))
    for (const p of selecting) {
      if (p.action === 'DENY' && p.rules.some((r) => ruleMatches(r, c))) return { allowed: false, policy: `${p.namespace}/${p.name}`, reason: `denied by MeshAuthorization ${p.namespace}/${p.name}` }
    }
    const allows = selecting.filter((p) => p.action === 'ALLOW')
    if (allows.length === 0) return { allowed: true }
    const match = allows.find((p) => p.rules.some((r) => ruleMatches(r, c)))
    if (match) return { allowed: true, policy: `${match.namespace}/${match.name}` }
    return { allowed: false, reason: `no MeshAuthorization of ${c.destination.namespace} allows it (${allows.map((p) => p.name).join(', ')} select the pod)` }
  }
}

/** The CustomResourceDefinition the API server installs at bootstrap. */
export function meshAuthorizationCrd(): Record<string, unknown> {
  const stringList = { type: 'array', maxItems: MAX_ITEMS, items: { type: 'string' } }
  const schema = {
    type: 'object',
    properties: {
      spec: {
        type: 'object',
        properties: {
          selector: {
            type: 'object',
            properties: {
              matchLabels: { type: 'object', additionalProperties: { type: 'string' } },
              matchExpressions: {
                type: 'array',
                items: { type: 'object', required: ['key', 'operator'], properties: { key: { type: 'string' }, operator: { type: 'string', enum: ['In', 'NotIn', 'Exists', 'DoesNotExist'] }, values: stringList } },
              },
            },
          },
          action: { type: 'string', enum: ['ALLOW', 'DENY'] },
          rules: {
            type: 'array',
            maxItems: MAX_ITEMS,
            items: {
              type: 'object',
              properties: {
                from: { type: 'array', maxItems: MAX_ITEMS, items: { type: 'object', properties: { serviceAccounts: stringList, namespaces: stringList, principals: stringList } } },
                ports: { type: 'array', maxItems: MAX_ITEMS, items: { type: 'integer', minimum: 1, maximum: 65535 } },
              },
            },
          },
        },
      },
    },
  }
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${AUTHORIZATION_PLURAL}.${MESH_GROUP}` },
    spec: {
      group: MESH_GROUP,
      names: { plural: AUTHORIZATION_PLURAL, singular: 'meshauthorization', kind: AUTHORIZATION_KIND, listKind: `${AUTHORIZATION_KIND}List`, shortNames: ['meshauthz'] },
      scope: 'Namespaced',
      versions: [
        {
          name: MESH_VERSION,
          served: true,
          storage: true,
          schema: { openAPIV3Schema: schema },
          additionalPrinterColumns: [
            { name: 'Action', type: 'string', jsonPath: '.spec.action' },
            { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
          ],
        },
      ],
    },
  }
}
