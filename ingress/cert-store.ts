// The Ingress controller's certificates by SNI name: kubernetes.io/tls Secrets bound to Ingress
// spec.tls hosts, one SecureContext per Secret content (all its certificate chains: an RSA and
// an ECDSA one can share a Secret), swapped whole on every update, and the default certificate
// (self-signed.ts makes one) for names nothing covers. The TLS listener (tls-listener.ts)
// starts each connection with the context `select` picks.
import { createHash } from 'node:crypto'
import { createSecureContext } from 'node:tls'
import type { SecureContext } from 'node:tls'
import type { V1Secret } from '@kubernetes/client-node'
import { parseTlsSecret } from './tls-secret.ts'
import type { ParsedCertificate } from './tls-secret.ts'

export interface TlsBinding {
  /** An exact host or a one-label wildcard '*.example.com'. */
  host: string
  secret: { namespace: string; name: string }
}

export interface CertStoreOptions {
  minVersion?: 'TLSv1.2' | 'TLSv1.3'
  /** Offered by the TLS listener (ALPN is a connection option, not a SecureContext one). */
  alpn?: string[]
}

export interface CertError {
  /** 'namespace/name' */
  secret: string
  message: string
}

interface Loaded {
  secret: string
  context: SecureContext
  contentKey: string
  parsed: ParsedCertificate
}

/** What came of parsing one Secret object. */
type Outcome = { source: V1Secret; loaded: Loaded } | { source: V1Secret; error: string }

interface Snapshot {
  exact: ReadonlyMap<string, Loaded>
  /** Keyed by the parent domain: '*.b.test' is stored under 'b.test'. */
  wildcard: ReadonlyMap<string, Loaded>
  sanExact: ReadonlyMap<string, Loaded>
  sanWildcard: ReadonlyMap<string, Loaded>
}

const EMPTY: Snapshot = { exact: new Map(), wildcard: new Map(), sanExact: new Map(), sanWildcard: new Map() }

/**
 * Server certificates by SNI name, from the `kubernetes.io/tls` Secrets that Ingress
 * `spec.tls` entries name. `update` builds a complete new mapping and swaps it in one
 * assignment; `select` reads whichever mapping is current.
 */
export class CertStore {
  readonly minVersion: 'TLSv1.2' | 'TLSv1.3'
  readonly alpn: readonly string[]
  readonly #defaultContext: SecureContext
  #snapshot: Snapshot = EMPTY
  /** The certificate each referenced Secret serves, kept while the Secret is invalid. */
  #serving = new Map<string, Loaded>()
  #contexts = new Map<string, SecureContext>()
  /**
   * Each Secret object as last parsed, and what came of it: an unchanged Secret is not parsed
   * again, neither while its certificate is valid nor while it stays invalid (update runs on
   * every change of any watched object, and a hostile Secret may be costly to refuse).
   */
  #parsed = new Map<string, Outcome>()

  constructor(defaultCert: { cert: string; key: string }, options: CertStoreOptions = {}) {
    this.minVersion = options.minVersion ?? 'TLSv1.2'
    this.alpn = [...(options.alpn ?? ['h2', 'http/1.1'])]
    this.#defaultContext = createSecureContext({ cert: defaultCert.cert, key: defaultCert.key, minVersion: this.minVersion })
  }

  /**
   * Applies the current bindings (first binding of a host wins) and Secrets. An invalid Secret
   * keeps serving its previous certificate if it had one; a missing Secret serves nothing.
   */
  update(bindings: readonly TlsBinding[], secrets: ReadonlyMap<string, V1Secret>): { errors: CertError[] } {
    const now = new Date()
    const errors: CertError[] = []
    const serving = new Map<string, Loaded>()
    /** The Secrets bound and present: the parse results of the others are dropped. */
    const present = new Set<string>()
    for (const binding of bindings) {
      const id = `${binding.secret.namespace}/${binding.secret.name}`
      if (serving.has(id) || errors.some((e) => e.secret === id)) continue
      const secret = secrets.get(id)
      if (!secret) {
        errors.push({ secret: id, message: `Secret ${id} not found; create a kubernetes.io/tls Secret with tls.crt and tls.key` })
        continue
      }
      present.add(id)
      const last = this.#parsed.get(id)
      const cached = last?.source === secret ? last : undefined
      if (cached && 'loaded' in cached && now >= cached.loaded.parsed.notBefore && now <= cached.loaded.parsed.notAfter) {
        serving.set(id, cached.loaded)
        continue
      }
      // A refusal lasts as long as the object (it depends on the time only when the certificate expired).
      const outcome = cached && 'error' in cached ? cached : this.#parse(id, secret, now)
      if ('loaded' in outcome) {
        serving.set(id, outcome.loaded)
        continue
      }
      errors.push({ secret: id, message: outcome.error })
      const previous = this.#serving.get(id)
      if (previous) serving.set(id, previous)
    }

    const exact = new Map<string, Loaded>()
    const wildcard = new Map<string, Loaded>()
    for (const binding of bindings) {
      const loaded = serving.get(`${binding.secret.namespace}/${binding.secret.name}`)
      const host = normalize(binding.host)
      if (loaded && host) addName(exact, wildcard, host, loaded)
    }
    const sanExact = new Map<string, Loaded>()
    const sanWildcard = new Map<string, Loaded>()
    for (const loaded of serving.values()) {
      for (const name of loaded.parsed.names) addName(sanExact, sanWildcard, name, loaded)
    }

    const contexts = new Map<string, SecureContext>()
    for (const loaded of serving.values()) contexts.set(loaded.contentKey, loaded.context)
    this.#contexts = contexts
    this.#serving = serving
    for (const id of this.#parsed.keys()) if (!present.has(id)) this.#parsed.delete(id)
    this.#snapshot = { exact, wildcard, sanExact, sanWildcard }
    return { errors }
  }

  /** Exact binding, else wildcard binding (one label), else a bound certificate whose own SAN covers the name, else the default. */
  select(servername: string | undefined): SecureContext {
    return this.#pick(servername)?.context ?? this.#defaultContext
  }

  /** What select would pick: 'ns/name' or 'default'. */
  describe(servername: string | undefined): string {
    return this.#pick(servername)?.secret ?? 'default'
  }

  #pick(servername: string | undefined): Loaded | undefined {
    const name = normalize(servername ?? '')
    if (!name) return undefined
    const s = this.#snapshot
    const dot = name.indexOf('.')
    const parent = dot > 0 ? name.slice(dot + 1) : undefined
    return (
      s.exact.get(name) ??
      (parent === undefined ? undefined : s.wildcard.get(parent)) ??
      s.sanExact.get(name) ??
      (parent === undefined ? undefined : s.sanWildcard.get(parent))
    )
  }

  /** Parses and loads a Secret object, and remembers the outcome against it. */
  #parse(id: string, secret: V1Secret, now: Date): Outcome {
    let outcome: Outcome
    try {
      outcome = { source: secret, loaded: this.#load(id, parseTlsSecret(secret, now)) }
    } catch (err) {
      outcome = { source: secret, error: (err as Error).message }
    }
    this.#parsed.set(id, outcome)
    return outcome
  }

  /** One SecureContext per distinct set of chains and keys, reused across updates while it is served. */
  #load(secret: string, parsed: ParsedCertificate): Loaded {
    const hash = createHash('sha256')
    for (const c of parsed.chains) hash.update(c.cert).update('\0').update(c.key).update('\0')
    const contentKey = hash.digest('hex')
    let context = this.#contexts.get(contentKey)
    if (!context) {
      try {
        context = createSecureContext({ cert: parsed.chains.map((c) => c.cert), key: parsed.chains.map((c) => c.key), minVersion: this.minVersion })
      } catch (err) {
        throw new Error(`Secret ${secret}: the TLS library rejects the certificate or key: ${(err as Error).message}`)
      }
      this.#contexts.set(contentKey, context)
    }
    return { secret, context, contentKey, parsed }
  }
}

function normalize(host: string): string {
  const lower = host.trim().toLowerCase()
  return lower.endsWith('.') ? lower.slice(0, -1) : lower
}

function addName(exact: Map<string, Loaded>, wildcard: Map<string, Loaded>, name: string, loaded: Loaded): void {
  if (name.startsWith('*.')) {
    const parent = name.slice(2)
    if (parent && !wildcard.has(parent)) wildcard.set(parent, loaded)
  } else if (!name.includes('*') && !exact.has(name)) {
    exact.set(name, loaded)
  }
}
