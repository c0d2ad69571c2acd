// What is wrong with an API object, from a node component's side, as Warning Events on it:
// each distinct problem once (not on every sync), again only after it went away and came
// back. Events are posted one at a time in the background; a sync never waits for them, and
// at most MAX_QUEUED wait (past it, an API server that is down, they are only logged). The
// proxy reports on Services; the agent on Nodes; NetworkPolicy enforcement on NetworkPolicies;
// the mesh on MeshAuthorizations.
import type { V1ObjectMeta } from '@kubernetes/client-node'
import { resources } from '../src/api/registry.ts'
import type { RestClient } from '../src/client/index.ts'
import { eventObject } from '../src/controllers/apply-actions.ts'
import type { KubeObject } from '../src/controllers/actions.ts'
import type { Logger } from '../src/util/log.ts'

export const EVENT_COMPONENT = 'weft-proxy'
const eventInfo = resources.find((r) => r.kind === 'Event')!
/** Events waiting to be posted at most; beyond it (an API server that is down) they are logged only. */
export const MAX_QUEUED = 1000

export interface ServiceProblem {
  /** The Event reason (`InvalidServiceField`, `ServiceRulesRefused`, …). */
  reason: string
  message: string
}

export interface ProblemReporterOptions {
  client: RestClient
  nodeName: string
  log: Logger
  /** The kind of the objects reported on (default Service); also the log field that names them (`service`, `node`, `networkpolicy`). */
  kind?: ReportedKind
  /** The Events' source and reporting component (default weft-proxy). */
  component?: string
}

export type ReportedKind = 'Service' | 'Node' | 'NetworkPolicy' | 'MeshAuthorization'
const API_VERSIONS: Record<ReportedKind, string> = { Service: 'v1', Node: 'v1', NetworkPolicy: 'networking.k8s.io/v1', MeshAuthorization: 'mesh.weft.dev/v1alpha1' }

/** What the reporter needs of an object to post an Event on it. */
export interface ReportedObject {
  metadata?: V1ObjectMeta
}

export class ProblemReporter {
  readonly #options: ProblemReporterOptions
  /** Service key → source → ids of the problems already reported. */
  readonly #reported = new Map<string, Map<string, Set<string>>>()
  #queue: Promise<void> = Promise.resolve()
  #queued = 0

  constructor(options: ProblemReporterOptions) {
    this.#options = options
  }

  /**
   * Replaces what `source` (the parser, a family's rule renderer, the health check server)
   * says is wrong with the object `key` (`namespace/name` of a Service; a Node's name);
   * returns the problems not reported before, after logging them and queueing an Event on
   * `object` for each (none without it).
   */
  set(key: string, source: string, object: ReportedObject | undefined, problems: readonly ServiceProblem[]): ServiceProblem[] {
    let sources = this.#reported.get(key)
    if (problems.length === 0) {
      sources?.delete(source)
      if (sources?.size === 0) this.#reported.delete(key)
      return []
    }
    if (!sources) this.#reported.set(key, (sources = new Map()))
    const before = sources.get(source) ?? new Set<string>()
    const now = new Set<string>()
    const fresh: ServiceProblem[] = []
    for (const p of problems) {
      const id = `${p.reason}\u0000${p.message}`
      now.add(id)
      if (!before.has(id) && !fresh.some((f) => f.reason === p.reason && f.message === p.message)) fresh.push(p)
    }
    sources.set(source, now)
    for (const p of fresh) {
      this.#options.log.warn({ [this.#field]: key, reason: p.reason }, p.message)
      if (object) this.#post(key, object, p)
    }
    return fresh
  }

  get #kind(): ReportedKind {
    return this.#options.kind ?? 'Service'
  }

  get #field(): string {
    return this.#kind.toLowerCase()
  }

  /** Forgets an object (deleted): its problems are reported anew should it come back. */
  forget(key: string): void {
    this.#reported.delete(key)
  }

  /** Resolves once the Events queued so far are posted (or failed). */
  flush(): Promise<void> {
    return this.#queue
  }

  #post(key: string, object: ReportedObject, p: ServiceProblem): void {
    if (this.#queued >= MAX_QUEUED) {
      this.#options.log.warn({ [this.#field]: key, reason: p.reason }, 'too many Events waiting to be posted: this one is only logged')
      return
    }
    const { client, nodeName, log } = this.#options
    const component = this.#options.component ?? EVENT_COMPONENT
    const event = eventObject({ involved: { apiVersion: API_VERSIONS[this.#kind], kind: this.#kind, ...(object as KubeObject) }, type: 'Warning', reason: p.reason, message: p.message }, component, new Date())
    // As kube-proxy's recorder: the instance and the source host name the node.
    event.reportingInstance = `${component}-${nodeName}`
    event.source = { component, host: nodeName }
    this.#queued++
    this.#queue = this.#queue
      .then(() => client.create(eventInfo, event, {}))
      .then(
        () => undefined,
        (err: unknown) => log.warn({ err, [this.#field]: key }, 'could not record an Event'),
      )
      .finally(() => this.#queued--)
  }
}
