// The Ingress route table: built once from the served Ingresses, queried per request.
//
// Host precedence: an exact rule host beats a wildcard (`*.example.com`, exactly one extra
// label) which beats rules without host; only the winning group's paths are considered.
// A rule with a host but no `http` still claims its host (its requests get the default
// backend), like an ingress-nginx server block with no locations.
// Path precedence inside a group: see PathIndex (an Exact match, else the Prefix match with
// the most path elements); among Prefix rules with the same elements, the longer path
// string wins (`/foo/` over `/foo`), then Prefix over ImplementationSpecific, then the
// older Ingress.
// Ingresses are ordered by metadata.creationTimestamp (missing = newest), then namespace/name.
// The same (host, path, pathType) in two Ingresses: the older wins, the other is a Conflict.

import type { V1Ingress, V1IngressBackend } from '@kubernetes/client-node'
import { routeOptions, type RouteOptions } from './annotations.ts'
import { isPathType, PathIndex, requestPath, type PathType } from './paths.ts'

export interface Backend {
  namespace: string
  service: string
  port: { number?: number; name?: string }
}

export interface Route {
  /** namespace/name of the Ingress. */
  ingress: string
  /** '' for any host; may be a wildcard like '*.example.com'. */
  host: string
  path: string
  pathType: PathType
  backend: Backend
  options: RouteOptions
}

export interface DefaultBackend {
  ingress: string
  backend: Backend
  options: RouteOptions
}

export interface Conflict {
  host: string
  path: string
  pathType: PathType
  winner: string
  loser: string
}

export interface TlsHost {
  host: string
  secret: { namespace: string; name: string }
}

export interface BuildError {
  ingress: string
  message: string
}

export type RouteResult =
  | { route: Route; tlsHost: boolean }
  | { defaultBackend: DefaultBackend; tlsHost: boolean }
  | { notFound: true; tlsHost: boolean }

export interface RouteTable {
  route(host: string, path: string): RouteResult
  /** Whether the (request) host is covered by a spec.tls entry, exactly or by a wildcard. */
  isTlsHost(host: string): boolean
  /** Hosts named in spec.tls of served Ingresses (exact and wildcard), with their secret, sorted by host. */
  tlsHosts(): TlsHost[]
  /** The reachable routes: exact hosts, then wildcards, then host-less; longest path first within a host. */
  routes(): Route[]
  readonly defaultBackend: DefaultBackend | undefined
}

export function route(table: RouteTable, host: string, path: string): RouteResult {
  return table.route(host, path)
}

/** Host header → lookup key: lower-cased, port stripped (`[::1]:8443` → `::1`), trailing dot stripped. */
export function normalizeHost(host: string): string {
  let h = host
  if (h.charCodeAt(0) === 91 /* '[' */) {
    const end = h.indexOf(']')
    h = end === -1 ? h.slice(1) : h.slice(1, end)
  } else {
    const colon = h.indexOf(':')
    if (colon !== -1 && h.indexOf(':', colon + 1) === -1) h = h.slice(0, colon)
  }
  if (h.charCodeAt(h.length - 1) === 46 /* '.' */) h = h.slice(0, -1)
  return h.toLowerCase()
}

/** The suffix a `*.suffix` rule must have to match this host (one extra, non-empty label), or undefined. */
function wildcardSuffix(host: string): string | undefined {
  const dot = host.indexOf('.')
  return dot > 0 && dot < host.length - 1 ? host.slice(dot + 1) : undefined
}

const label = '[a-z0-9]([-a-z0-9]*[a-z0-9])?'
const hostPattern = new RegExp(`^(\\*\\.)?${label}(\\.${label})*$`)

/** A rule or TLS host: lower-cased, trailing dot stripped; undefined when it is not a DNS name or `*.`-wildcard. */
function ruleHost(host: string): string | undefined {
  let h = host.toLowerCase()
  if (h.endsWith('.')) h = h.slice(0, -1)
  return hostPattern.test(h) && h.length <= 253 ? h : undefined
}

function ingressKey(ing: V1Ingress): string {
  return `${ing.metadata?.namespace ?? 'default'}/${ing.metadata?.name ?? ''}`
}

function creationTime(ing: V1Ingress): number {
  const ts: unknown = ing.metadata?.creationTimestamp
  if (ts === undefined || ts === null) return Number.POSITIVE_INFINITY
  const ms = ts instanceof Date ? ts.getTime() : new Date(String(ts)).getTime()
  return Number.isNaN(ms) ? Number.POSITIVE_INFINITY : ms
}

/** Sorts oldest first: creationTimestamp, then namespace/name. */
export function byAge(a: V1Ingress, b: V1Ingress): number {
  const d = creationTime(a) - creationTime(b)
  if (d !== 0 && !Number.isNaN(d)) return d < 0 ? -1 : 1
  const ka = ingressKey(a)
  const kb = ingressKey(b)
  return ka < kb ? -1 : ka > kb ? 1 : 0
}

function parseBackend(b: V1IngressBackend | undefined, namespace: string): Backend | string {
  if (!b) return 'has no backend'
  if (!b.service) return b.resource ? 'uses a resource backend, which weft does not support; use a service backend' : 'has no service backend'
  const { name, port } = b.service
  if (!name) return 'backend service has no name'
  if (port?.number !== undefined && port.name) return 'backend service port sets both number and name; set one'
  if (port?.number !== undefined) {
    if (!Number.isInteger(port.number) || port.number < 1 || port.number > 65535) return `backend service port ${port.number} is not in 1-65535`
    return { namespace, service: name, port: { number: port.number } }
  }
  if (port?.name) return { namespace, service: name, port: { name: port.name } }
  return 'backend service has no port (set port.number or port.name)'
}

interface Group {
  paths: PathIndex<Route>
  routes: Route[]
}

const typeRank: Record<PathType, number> = { Exact: 0, Prefix: 0, ImplementationSpecific: 1 }

class Table implements RouteTable {
  readonly defaultBackend: DefaultBackend | undefined
  readonly #exact: Map<string, Group>
  readonly #wildcard: Map<string, Group>
  readonly #any: Group | undefined
  readonly #tls: Map<string, TlsHost>
  readonly #tlsWildcard: Set<string>

  constructor(groups: Map<string, Group>, tls: Map<string, TlsHost>, defaultBackend: DefaultBackend | undefined) {
    this.#exact = new Map()
    this.#wildcard = new Map()
    for (const [host, group] of groups) {
      if (host.startsWith('*.')) this.#wildcard.set(host.slice(2), group)
      else if (host !== '') this.#exact.set(host, group)
    }
    this.#any = groups.get('')
    this.#tls = tls
    this.#tlsWildcard = new Set([...tls.keys()].filter((h) => h.startsWith('*.')).map((h) => h.slice(2)))
    this.defaultBackend = defaultBackend
  }

  #tlsNormalized(host: string): boolean {
    if (this.#tls.size === 0) return false
    if (this.#tls.has(host)) return true
    const suffix = wildcardSuffix(host)
    return suffix !== undefined && this.#tlsWildcard.has(suffix)
  }

  isTlsHost(host: string): boolean {
    return this.#tlsNormalized(normalizeHost(host))
  }

  route(rawHost: string, target: string): RouteResult {
    const host = normalizeHost(rawHost)
    const tlsHost = this.#tlsNormalized(host)
    const path = requestPath(target)
    if (path === undefined) return { notFound: true, tlsHost }
    let group = this.#exact.get(host)
    if (!group && this.#wildcard.size > 0) {
      const suffix = wildcardSuffix(host)
      if (suffix !== undefined) group = this.#wildcard.get(suffix)
    }
    group ??= this.#any
    const found = group?.paths.lookup(path)
    if (found) return { route: found, tlsHost }
    if (this.defaultBackend) return { defaultBackend: this.defaultBackend, tlsHost }
    return { notFound: true, tlsHost }
  }

  tlsHosts(): TlsHost[] {
    return [...this.#tls.values()].sort((a, b) => (a.host < b.host ? -1 : a.host > b.host ? 1 : 0))
  }

  routes(): Route[] {
    const all: Route[] = []
    for (const g of [...this.#exact.values(), ...this.#wildcard.values()]) all.push(...g.routes)
    if (this.#any) all.push(...this.#any.routes)
    return all
  }
}

export function buildRouteTable(ingresses: Iterable<V1Ingress>): { table: RouteTable; conflicts: Conflict[]; errors: BuildError[] } {
  const sorted = [...ingresses].sort(byAge)
  const conflicts: Conflict[] = []
  const errors: BuildError[] = []
  const owners = new Map<string, string>()
  const candidates: { route: Route; order: number }[] = []
  const groups = new Map<string, Group>()
  const tls = new Map<string, TlsHost & { ingress: string }>()
  let defaultBackend: DefaultBackend | undefined

  const groupOf = (host: string): Group => {
    let g = groups.get(host)
    if (!g) groups.set(host, (g = { paths: new PathIndex(), routes: [] }))
    return g
  }

  sorted.forEach((ing, order) => {
    const key = ingressKey(ing)
    const namespace = ing.metadata?.namespace ?? 'default'
    const fail = (message: string): void => {
      errors.push({ ingress: key, message })
    }
    const opts = routeOptions(ing.metadata?.annotations)
    for (const message of opts.errors) fail(message)
    const options = opts.options

    if (ing.spec?.defaultBackend) {
      const b = parseBackend(ing.spec.defaultBackend, namespace)
      if (typeof b === 'string') fail(`spec.defaultBackend ${b}; it is ignored`)
      else defaultBackend ??= { ingress: key, backend: b, options }
    }

    const ruleHosts: string[] = []
    ;(ing.spec?.rules ?? []).forEach((rule, r) => {
      const where = `spec.rules[${r}]`
      let host = ''
      if (rule.host) {
        const h = ruleHost(rule.host)
        if (h === undefined) {
          fail(`${where}.host ${JSON.stringify(rule.host)} is not a DNS name or a wildcard like *.example.com; the rule is skipped`)
          return
        }
        host = h
        ruleHosts.push(h)
      }
      groupOf(host)
      ;(rule.http?.paths ?? []).forEach((p, i) => {
        const at = `${where}.http.paths[${i}]`
        const pathType: unknown = p.pathType ?? 'ImplementationSpecific'
        if (!isPathType(pathType)) {
          fail(`${at}.pathType ${JSON.stringify(pathType)} is not Exact, Prefix or ImplementationSpecific; the path is skipped`)
          return
        }
        const path = p.path ?? (pathType === 'ImplementationSpecific' ? '/' : '')
        if (!path.startsWith('/')) {
          fail(`${at}.path ${JSON.stringify(path)} must start with "/"; the path is skipped`)
          return
        }
        const backend = parseBackend(p.backend, namespace)
        if (typeof backend === 'string') {
          fail(`${at} ${backend}; the path is skipped`)
          return
        }
        const id = `${host}\0${path}\0${pathType}`
        const owner = owners.get(id)
        if (owner === key) {
          fail(`${at} repeats host ${JSON.stringify(host)} path ${JSON.stringify(path)} (${pathType}); only the first is used`)
          return
        }
        if (owner !== undefined) {
          conflicts.push({ host, path, pathType, winner: owner, loser: key })
          return
        }
        owners.set(id, key)
        candidates.push({ route: { ingress: key, host, path, pathType, backend, options }, order })
      })
    })

    ;(ing.spec?.tls ?? []).forEach((entry, e) => {
      const where = `spec.tls[${e}]`
      if (!entry.secretName) {
        fail(`${where} has no secretName; weft has no default certificate, so the entry is ignored`)
        return
      }
      const secret = { namespace, name: entry.secretName }
      const hosts = entry.hosts && entry.hosts.length > 0 ? entry.hosts : ruleHosts
      for (const raw of hosts) {
        const host = ruleHost(raw)
        if (host === undefined) {
          fail(`${where}.hosts: ${JSON.stringify(raw)} is not a DNS name or a wildcard like *.example.com; it is ignored`)
          continue
        }
        const prev = tls.get(host)
        if (!prev) tls.set(host, { host, secret, ingress: key })
        else if (prev.ingress !== key && (prev.secret.namespace !== namespace || prev.secret.name !== secret.name)) {
          fail(`${where}: host ${host} already uses secret ${prev.secret.namespace}/${prev.secret.name} from the older Ingress ${prev.ingress}; this entry is ignored for it`)
        }
      }
    })
  })

  candidates.sort((a, b) => b.route.path.length - a.route.path.length || typeRank[a.route.pathType] - typeRank[b.route.pathType] || a.order - b.order)
  for (const { route: r } of candidates) {
    const g = groupOf(r.host)
    const held = g.paths.add(r.pathType === 'Exact' ? 'Exact' : 'Prefix', r.path, r)
    if (held === r) g.routes.push(r)
    else {
      const by = `${JSON.stringify(held.path)} (${held.pathType})${held.ingress === r.ingress ? '' : ` of ${held.ingress}`}`
      errors.push({ ingress: r.ingress, message: `path ${JSON.stringify(r.path)} (${r.pathType}) on host ${JSON.stringify(r.host)} matches the same requests as ${by}, which takes precedence; it is never used` })
    }
  }

  const tlsHosts = new Map<string, TlsHost>()
  for (const [host, { secret }] of tls) tlsHosts.set(host, { host, secret })
  return { table: new Table(groups, tlsHosts, defaultBackend), conflicts, errors }
}
