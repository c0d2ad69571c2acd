// Informers → what the Ingress server serves: watches Ingresses, IngressClasses, Services,
// EndpointSlices and Secrets, and after each batch of changes swaps in a new route table
// (built incrementally), updates the certificate store and the balancer's endpoints, and
// reports what is wrong with an Ingress as an Event on it (once per distinct message).
import type { V1EndpointSlice, V1Ingress, V1IngressClass, V1Secret, V1Service } from '@kubernetes/client-node'
import { resources } from '../src/api/registry.ts'
import { Informer, objectKey, type RestClient } from '../src/client/index.ts'
import { eventObject } from '../src/controllers/apply-actions.ts'
import type { Logger } from '../src/util/log.ts'
import type { Balancer } from './balancer.ts'
import type { CertStore } from './cert-store.ts'
import { backendEndpoints, backendKey, type Endpoint } from './endpoints.ts'
import { servesIngress, type IngressClassConfig } from './ingress-class.ts'
import { RouteTableBuilder, type Backend, type RouteTable } from './route-table.ts'

const info = (kind: string) => resources.find((r) => r.kind === kind)!
const SERVICE_NAME_LABEL = 'kubernetes.io/service-name'
const COMPONENT = 'weft-ingress'

export interface IngressSourceOptions {
  client: RestClient
  classes: IngressClassConfig
  certs: CertStore
  balancer: Balancer
  onTable(table: RouteTable): void
  /** What the table was built from, after each build: for worker threads that build their own (workers.ts). */
  onState?(state: ServedState): void
  /** Any served Ingress changed, its status included (which does not rebuild the table). */
  onIngresses?(): void
  log: Logger
  /** Changes within this many ms are applied together (default 20). */
  batchMs?: number
}

/** The inputs of one route table: served Ingresses, the kubernetes.io/tls Secrets by 'namespace/name', and the endpoints of each backend (by backendKey). */
export interface ServedState {
  served: readonly V1Ingress[]
  secrets: ReadonlyMap<string, V1Secret>
  endpoints: ReadonlyMap<string, readonly Endpoint[]>
}

export class IngressSource {
  readonly options: IngressSourceOptions
  #ingresses: Informer<V1Ingress>
  #classes: Informer<V1IngressClass>
  #services: Informer<V1Service>
  #slices: Informer<V1EndpointSlice>
  #secrets: Informer<V1Secret>
  #timer: NodeJS.Timeout | undefined
  #ready = false
  #stopped = false
  /** Messages already reported as Events, per Ingress key. */
  #reported = new Map<string, Set<string>>()
  #table: RouteTable | undefined
  /** Compiles only the Ingresses that changed, and merges only the hosts they touch. */
  #builder = new RouteTableBuilder()
  /** 'namespace/name' of the Ingresses served: a new set only when they change. */
  #servedKeys: ReadonlySet<string> = new Set()
  /** The backends of the current table: the balancer forgets those a new table drops. */
  #backendKeys = new Set<string>()

  constructor(options: IngressSourceOptions) {
    this.options = options
    const log = options.log
    const changed = () => this.#changed()
    const handlers = { onAdd: changed, onUpdate: changed, onDelete: changed }
    this.#ingresses = new Informer<V1Ingress>(options.client, info('Ingress'), { logger: log })
    this.#classes = new Informer<V1IngressClass>(options.client, info('IngressClass'), { logger: log })
    this.#services = new Informer<V1Service>(options.client, info('Service'), { logger: log })
    this.#slices = new Informer<V1EndpointSlice>(options.client, info('EndpointSlice'), { logger: log, indexers: { service: (s) => [`${s.metadata?.namespace}/${s.metadata?.labels?.[SERVICE_NAME_LABEL] ?? ''}`] } })
    this.#secrets = new Informer<V1Secret>(options.client, info('Secret'), { logger: log, fieldSelector: 'type=kubernetes.io/tls' })
    for (const i of this.#informers()) if (i !== this.#ingresses) i.addHandlers(handlers)
    this.#ingresses.addHandlers({
      onAdd: changed,
      onDelete: changed,
      onUpdate: (old, now) => {
        if (routingChanged(old, now)) changed()
        else if (this.#ready) options.onIngresses?.()
      },
    })
  }

  /** The Ingresses served now, as the informer has them. */
  served(): V1Ingress[] {
    return [...this.#servedKeys].flatMap((k) => this.#ingresses.indexer.get(k) ?? [])
  }

  /** 'namespace/name' of the Ingresses served now; the same object until that set changes (so it can be compared by identity). */
  get servedKeys(): ReadonlySet<string> {
    return this.#servedKeys
  }

  get ready(): boolean {
    return this.#ready
  }

  get table(): RouteTable | undefined {
    return this.#table
  }

  async start(signal?: AbortSignal): Promise<void> {
    const informers = this.#informers()
    for (const i of informers) i.start()
    const synced = await Promise.all(informers.map((i) => i.waitForSync(signal)))
    if (!synced.every(Boolean) || this.#stopped) throw new Error('the Ingress controller stopped before it had listed Ingresses, IngressClasses, Services, EndpointSlices and Secrets')
    await this.#apply()
    this.#ready = true
  }

  async stop(): Promise<void> {
    this.#stopped = true
    clearTimeout(this.#timer)
    await Promise.all(this.#informers().map((i) => i.stop()))
  }

  #informers(): Informer<any>[] {
    return [this.#ingresses, this.#classes, this.#services, this.#slices, this.#secrets]
  }

  #changed(): void {
    if (!this.#ready || this.#timer || this.#stopped) return
    this.#timer = setTimeout(() => {
      this.#timer = undefined
      if (!this.#stopped) void this.#apply().catch((err: unknown) => this.options.log.error({ err }, 'applying Ingress changes failed'))
    }, this.options.batchMs ?? 20)
  }

  async #apply(): Promise<void> {
    const o = this.options
    const classes = this.#classes.indexer.list()
    const served = this.#ingresses.indexer.list().filter((ing) => servesIngress(ing, classes, o.classes))
    const keys = served.map(objectKey)
    if (keys.length !== this.#servedKeys.size || keys.some((k) => !this.#servedKeys.has(k))) this.#servedKeys = new Set(keys)
    const { table, conflicts, errors } = this.#builder.update(served)

    const secrets = new Map<string, V1Secret>()
    for (const s of this.#secrets.indexer.list()) secrets.set(objectKey(s), s)
    const certErrors = o.certs.update(table.tlsHosts(), secrets).errors

    const backends = new Map<string, Backend>()
    const addBackend = (b: Backend) => backends.set(backendKey(b), b)
    for (const r of table.routes()) addBackend(r.backend)
    for (const d of table.defaultBackends()) addBackend(d.backend)
    for (const key of this.#backendKeys) if (!backends.has(key)) o.balancer.setEndpoints(key, [])
    this.#backendKeys = new Set(backends.keys())
    const backendErrors = new Map<string, string>()
    const endpoints = new Map<string, Endpoint[]>()
    for (const [key, backend] of backends) {
      const service = this.#services.indexer.get(`${backend.namespace}/${backend.service}`)
      const found = backendEndpoints(backend, service, this.#slices.indexer.byIndex('service', `${backend.namespace}/${backend.service}`))
      const eps = 'endpoints' in found ? found.endpoints : []
      o.balancer.setEndpoints(key, eps)
      endpoints.set(key, eps)
      if ('error' in found) backendErrors.set(key, found.message)
    }

    this.#table = table
    o.onTable(table)
    o.onState?.({ served, secrets, endpoints })
    o.onIngresses?.()

    // What is wrong, as Events on the Ingresses concerned (each distinct message once).
    const problems = new Map<string, { reason: string; message: string }[]>()
    const add = (ingress: string, reason: string, message: string) => {
      const list = problems.get(ingress) ?? []
      list.push({ reason, message })
      problems.set(ingress, list)
    }
    for (const e of errors) add(e.ingress, 'InvalidRule', e.message)
    for (const c of conflicts) add(c.loser, 'RuleConflict', `${c.pathType} ${c.host || '*'}${c.path} is also claimed by the older Ingress ${c.winner}, which serves it`)
    for (const e of certErrors) {
      for (const ing of served) {
        if ((ing.spec?.tls ?? []).some((t) => `${ing.metadata?.namespace}/${t.secretName}` === e.secret)) add(objectKey(ing), 'InvalidCertificate', e.message)
      }
    }
    for (const r of table.routes()) {
      const message = backendErrors.get(backendKey(r.backend))
      if (message) add(r.ingress, 'BackendNotFound', message)
    }
    await this.#report(problems)
  }

  async #report(problems: Map<string, { reason: string; message: string }[]>): Promise<void> {
    for (const key of [...this.#reported.keys()]) if (!problems.has(key)) this.#reported.delete(key)
    for (const [key, list] of problems) {
      const ingress = this.#ingresses.indexer.get(key)
      if (!ingress) continue
      const seen = this.#reported.get(key) ?? new Set<string>()
      this.#reported.set(key, seen)
      for (const p of list) {
        const id = `${p.reason}:${p.message}`
        if (seen.has(id)) continue
        seen.add(id)
        this.options.log.warn({ ingress: key, reason: p.reason }, p.message)
        const event = eventObject({ involved: { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', ...ingress }, type: 'Warning', reason: p.reason, message: p.message }, COMPONENT, new Date())
        await this.options.client.create(info('Event'), event, {}).catch((err: unknown) => this.options.log.warn({ err, ingress: key }, 'could not record an Event'))
      }
    }
  }
}

/** Whether an update can change what is routed: not when only the status (or other bookkeeping) moved. */
function routingChanged(old: V1Ingress, now: V1Ingress): boolean {
  const a = old.metadata
  const b = now.metadata
  if (a?.generation !== b?.generation || a?.generation === undefined) return true
  return JSON.stringify(a?.annotations ?? {}) !== JSON.stringify(b?.annotations ?? {}) || JSON.stringify(a?.labels ?? {}) !== JSON.stringify(b?.labels ?? {}) || a?.creationTimestamp !== b?.creationTimestamp
}
