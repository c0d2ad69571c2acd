// The Ingress route table: built from the served Ingresses (incrementally, RouteTableBuilder),
// queried per request.
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
// spec.defaultBackend serves only the hosts its own Ingress claims (a request whose path no
// rule of the winning host group matches), never another Ingress's (another namespace's)
// hosts; an Ingress without rules claims the requests for hosts no rule names (the catch-all,
// as host-less rules do). Among the claimants of a host, the oldest one's defaultBackend wins.

import type { V1Ingress, V1IngressBackend } from '@kubernetes/client-node'
import { routeOptions, type RouteOptions } from './annotations.ts'
import { normalizeTarget } from './normalize-path.ts'
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
  /** The default backends some host (or the catch-all) uses. */
  defaultBackends(): DefaultBackend[]
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
  /** The oldest claimant's spec.defaultBackend. */
  defaultBackend: DefaultBackend | undefined
}

const typeRank: Record<PathType, number> = { Exact: 0, Prefix: 0, ImplementationSpecific: 1 }

class Table implements RouteTable {
  readonly #exact: Map<string, Group>
  readonly #wildcard: Map<string, Group>
  readonly #any: Group | undefined
  readonly #tls: Map<string, TlsHost>
  readonly #tlsWildcard: Set<string>

  constructor(groups: Map<string, Group>, tls: Map<string, TlsHost>) {
    this.#exact = new Map()
    this.#wildcard = new Map()
    for (const [host, group] of groups) {
      if (host.startsWith('*.')) this.#wildcard.set(host.slice(2), group)
      else if (host !== '') this.#exact.set(host, group)
    }
    this.#any = groups.get('')
    this.#tls = tls
    this.#tlsWildcard = new Set([...tls.keys()].filter((h) => h.startsWith('*.')).map((h) => h.slice(2)))
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
    if (!group) return { notFound: true, tlsHost }
    const found = group.paths.lookup(path)
    if (found) return { route: found, tlsHost }
    if (group.defaultBackend) return { defaultBackend: group.defaultBackend, tlsHost }
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

  defaultBackends(): DefaultBackend[] {
    const all = new Set<DefaultBackend>()
    for (const g of [...this.#exact.values(), ...this.#wildcard.values()]) if (g.defaultBackend) all.add(g.defaultBackend)
    if (this.#any?.defaultBackend) all.add(this.#any.defaultBackend)
    return [...all]
  }
}

/** What one Ingress contributes, worked out once per version of the object. */
interface Compiled {
  key: string
  source: V1Ingress
  /** Problems found in this Ingress alone; `pos` orders them as the spec declares the fields. */
  errors: { pos: number; message: string }[]
  defaultBackend: DefaultBackend | undefined
  /** Every host its rules claim ('' for host-less rules, and for an Ingress without rules). */
  hosts: Set<string>
  paths: { pos: number; at: string; host: string; path: string; pathType: PathType; backend: Backend; options: RouteOptions }[]
  tls: { where: string; secret: { namespace: string; name: string }; hosts: { pos: number; host: string }[] }[]
}

function compileIngress(ing: V1Ingress): Compiled {
  const key = ingressKey(ing)
  const namespace = ing.metadata?.namespace ?? 'default'
  const c: Compiled = { key, source: ing, errors: [], defaultBackend: undefined, hosts: new Set(), paths: [], tls: [] }
  let pos = 0
  const fail = (message: string): void => {
    c.errors.push({ pos: pos++, message })
  }
  const opts = routeOptions(ing.metadata?.annotations)
  for (const message of opts.errors) fail(message)
  const options = opts.options

  if (ing.spec?.defaultBackend) {
    const b = parseBackend(ing.spec.defaultBackend, namespace)
    if (typeof b === 'string') fail(`spec.defaultBackend ${b}; it is ignored`)
    else c.defaultBackend = { ingress: key, backend: b, options }
  }

  const ruleHosts: string[] = []
  if ((ing.spec?.rules ?? []).length === 0) c.hosts.add('')
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
    c.hosts.add(host)
    ;(rule.http?.paths ?? []).forEach((p, i) => {
      const at = `${where}.http.paths[${i}]`
      const pathType: unknown = p.pathType ?? 'ImplementationSpecific'
      if (!isPathType(pathType)) {
        fail(`${at}.pathType ${JSON.stringify(pathType)} is not Exact, Prefix or ImplementationSpecific; the path is skipped`)
        return
      }
      const given = p.path ?? (pathType === 'ImplementationSpecific' ? '/' : '')
      if (!given.startsWith('/')) {
        fail(`${at}.path ${JSON.stringify(given)} must start with "/"; the path is skipped`)
        return
      }
      // Normalised as request paths are (normalize-path.ts), so `/%7Euser` and `/~user` are one rule.
      const path = normalizeTarget(given)
      if (path === undefined) {
        fail(`${at}.path ${JSON.stringify(given)} has a malformed percent-escape ('%' must be followed by two hex digits); the path is skipped`)
        return
      }
      const backend = parseBackend(p.backend, namespace)
      if (typeof backend === 'string') {
        fail(`${at} ${backend}; the path is skipped`)
        return
      }
      c.paths.push({ pos: pos++, at, host, path, pathType, backend, options })
    })
  })

  ;(ing.spec?.tls ?? []).forEach((entry, e) => {
    const where = `spec.tls[${e}]`
    if (!entry.secretName) {
      fail(`${where} has no secretName; weft has no default certificate, so the entry is ignored`)
      return
    }
    const hosts: { pos: number; host: string }[] = []
    for (const raw of entry.hosts && entry.hosts.length > 0 ? entry.hosts : ruleHosts) {
      const host = ruleHost(raw)
      if (host === undefined) fail(`${where}.hosts: ${JSON.stringify(raw)} is not a DNS name or a wildcard like *.example.com; it is ignored`)
      else hosts.push({ pos: pos++, host })
    }
    c.tls.push({ where, secret: { namespace, name: entry.secretName }, hosts })
  })
  return c
}

/** One host's routes, merged from the Ingresses (oldest first) that claim it. */
type PlacedError = BuildError & { pos: number }

interface HostRoutes {
  group: Group
  conflicts: Conflict[]
  errors: PlacedError[]
}

function mergeHost(host: string, claimants: readonly Compiled[]): HostRoutes {
  const conflicts: Conflict[] = []
  const errors: PlacedError[] = []
  const owners = new Map<string, string>()
  const candidates: { route: Route; order: number }[] = []
  claimants.forEach((c, order) => {
    for (const p of c.paths) {
      if (p.host !== host) continue
      const id = `${p.path}\0${p.pathType}`
      const owner = owners.get(id)
      if (owner === c.key) {
        errors.push({ ingress: c.key, pos: p.pos, message: `${p.at} repeats host ${JSON.stringify(host)} path ${JSON.stringify(p.path)} (${p.pathType}); only the first is used` })
        continue
      }
      if (owner !== undefined) {
        conflicts.push({ host, path: p.path, pathType: p.pathType, winner: owner, loser: c.key })
        continue
      }
      owners.set(id, c.key)
      candidates.push({ route: { ingress: c.key, host, path: p.path, pathType: p.pathType, backend: p.backend, options: p.options }, order })
    }
  })
  candidates.sort((a, b) => b.route.path.length - a.route.path.length || typeRank[a.route.pathType] - typeRank[b.route.pathType] || a.order - b.order)
  const withDefault = claimants.filter((c) => c.defaultBackend !== undefined)
  const group: Group = { paths: new PathIndex(), routes: [], defaultBackend: withDefault[0]?.defaultBackend }
  for (const c of withDefault.slice(1)) {
    const what = host === '' ? 'requests no rule claims' : `host ${JSON.stringify(host)}`
    const why = host === '' && c.paths.length === 0 ? 'also has no rules' : 'also claims it'
    errors.push({ ingress: c.key, pos: Number.MAX_SAFE_INTEGER, message: `spec.defaultBackend is not used for ${what}: the older Ingress ${withDefault[0]!.key} ${why} and its defaultBackend serves ${host === '' ? 'them' : 'it'}` })
  }
  for (const { route: r } of candidates) {
    const held = group.paths.add(r.pathType === 'Exact' ? 'Exact' : 'Prefix', r.path, r)
    if (held === r) group.routes.push(r)
    else {
      const by = `${JSON.stringify(held.path)} (${held.pathType})${held.ingress === r.ingress ? '' : ` of ${held.ingress}`}`
      errors.push({ ingress: r.ingress, pos: Number.MAX_SAFE_INTEGER, message: `path ${JSON.stringify(r.path)} (${r.pathType}) on host ${JSON.stringify(r.host)} matches the same requests as ${by}, which takes precedence; it is never used` })
    }
  }
  return { group, conflicts, errors }
}

export interface BuildResult {
  table: RouteTable
  conflicts: Conflict[]
  errors: BuildError[]
}

/**
 * Builds route tables incrementally: each Ingress object is compiled once (until the
 * informer hands over a new version of it), and only the hosts that a changed, added or
 * removed Ingress claims (or claimed) are merged again; every other host keeps its routes.
 * Each `update` returns a new, immutable table, so a request never sees half a change.
 */
export class RouteTableBuilder {
  #compiled = new Map<string, Compiled>()
  #hosts = new Map<string, HostRoutes>()

  update(ingresses: Iterable<V1Ingress>): BuildResult {
    const next = new Map<string, Compiled>()
    const dirty = new Set<string>()
    for (const ing of ingresses) {
      const key = ingressKey(ing)
      const prev = this.#compiled.get(key)
      if (prev?.source === ing) {
        next.set(key, prev)
        continue
      }
      const c = compileIngress(ing)
      next.set(key, c)
      for (const h of c.hosts) dirty.add(h)
      if (prev) for (const h of prev.hosts) dirty.add(h)
    }
    for (const [key, prev] of this.#compiled) if (!next.has(key)) for (const h of prev.hosts) dirty.add(h)
    this.#compiled = next

    if (dirty.size > 0) {
      const claimants = new Map<string, Compiled[]>()
      for (const c of next.values()) {
        for (const h of c.hosts) {
          if (!dirty.has(h)) continue
          const list = claimants.get(h)
          if (list) list.push(c)
          else claimants.set(h, [c])
        }
      }
      for (const h of dirty) {
        const list = claimants.get(h)
        if (list) this.#hosts.set(h, mergeHost(h, list.sort((a, b) => byAge(a.source, b.source))))
        else this.#hosts.delete(h)
      }
    }

    const sorted = [...next.values()].sort((a, b) => byAge(a.source, b.source))
    const errors: PlacedError[] = []
    const conflicts: Conflict[] = []
    const tls = new Map<string, TlsHost & { ingress: string }>()
    for (const c of sorted) {
      for (const e of c.errors) errors.push({ ingress: c.key, ...e })
      for (const entry of c.tls) {
        for (const { pos, host } of entry.hosts) {
          const prev = tls.get(host)
          if (!prev) tls.set(host, { host, secret: entry.secret, ingress: c.key })
          else if (prev.ingress !== c.key && (prev.secret.namespace !== entry.secret.namespace || prev.secret.name !== entry.secret.name)) {
            errors.push({ ingress: c.key, pos, message: `${entry.where}: host ${host} already uses secret ${prev.secret.namespace}/${prev.secret.name} from the older Ingress ${prev.ingress}; this entry is ignored for it` })
          }
        }
      }
    }
    const groups = new Map<string, Group>()
    for (const [h, built] of this.#hosts) {
      groups.set(h, built.group)
      conflicts.push(...built.conflicts)
      errors.push(...built.errors)
    }
    const tlsHosts = new Map<string, TlsHost>()
    for (const [host, { secret }] of tls) tlsHosts.set(host, { host, secret })
    // Reported oldest Ingress first, whatever order the hosts were merged in.
    const age = new Map(sorted.map((c, i) => [c.key, i]))
    conflicts.sort((a, b) => age.get(a.loser)! - age.get(b.loser)! || (a.host < b.host ? -1 : a.host > b.host ? 1 : 0))
    errors.sort((a, b) => age.get(a.ingress)! - age.get(b.ingress)! || a.pos - b.pos || (a.message < b.message ? -1 : a.message > b.message ? 1 : 0))
    return { table: new Table(groups, tlsHosts), conflicts, errors: errors.map(({ ingress, message }) => ({ ingress, message })) }
  }
}

/** A route table from scratch (a builder used once). */
export function buildRouteTable(ingresses: Iterable<V1Ingress>): BuildResult {
  return new RouteTableBuilder().update(ingresses)
}
