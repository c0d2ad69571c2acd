// The loop every controller runs: informer events name keys; a work queue dedupes them;
// a worker reconciles a key from cached state and applies the actions; failures are
// retried with per-key backoff, never in a hot loop. Nothing is kept but the caches, so
// a restarted controller re-derives everything from the API.
import type { ResourceInfo } from '../api/registry.ts'
import { Informer, WorkQueue, type KubeObject as ClientObject, type RestClient } from '../client/index.ts'
import type { Logger } from '../util/log.ts'
import type { Action } from './actions.ts'
import { applyActions } from './apply-actions.ts'

export interface ReconcileResult {
  actions: Action[]
  /** Reconcile this key again after this long (e.g. when a toleration or timeout expires). */
  requeueAfterMs?: number
}

/**
 * The controllers and the scheduler never read managedFields, and an update that leaves
 * them out keeps the stored ones: the cache drops them, as kube-controller-manager's and
 * kube-scheduler's informers do (they are often the biggest part of an object).
 */
export function withoutManagedFields<T extends ClientObject>(obj: T): T {
  if (obj.metadata?.managedFields === undefined) return obj
  const { managedFields: _, ...metadata } = obj.metadata
  return { ...obj, metadata }
}

/** One informer per kind, shared by every controller in the process. */
export class InformerFactory {
  readonly client: RestClient
  private readonly informers = new Map<string, Informer>()
  private readonly log: Logger
  private started = false

  constructor(client: RestClient, log: Logger) {
    this.client = client
    this.log = log
  }

  for<T extends ClientObject = ClientObject>(info: ResourceInfo): Informer<T> {
    const key = `${info.group}/${info.plural}`
    let informer = this.informers.get(key)
    if (!informer) {
      informer = new Informer(this.client, info, { logger: this.log, transform: withoutManagedFields })
      this.informers.set(key, informer)
      // One asked for later (a custom resource's, once its CRD is established) starts at once.
      if (this.started) informer.start()
    }
    return informer as unknown as Informer<T>
  }

  /** Stops and forgets a kind's informer (a custom resource whose CRD went). */
  async remove(info: ResourceInfo): Promise<void> {
    const key = `${info.group}/${info.plural}`
    const informer = this.informers.get(key)
    this.informers.delete(key)
    await informer?.stop()
  }

  start(): void {
    this.started = true
    for (const informer of this.informers.values()) informer.start()
  }

  async waitForSync(signal?: AbortSignal): Promise<boolean> {
    const results = await Promise.all([...this.informers.values()].map((i) => i.waitForSync(signal)))
    return results.every(Boolean)
  }

  async stop(): Promise<void> {
    await Promise.all([...this.informers.values()].map((i) => i.stop()))
  }
}

/** `namespace/name`, or `name` for cluster-scoped objects: the key informers use. */
export function keyOf(obj: ClientObject): string {
  const meta = obj.metadata ?? {}
  return meta.namespace ? `${meta.namespace}/${meta.name}` : String(meta.name)
}

export function splitKey(key: string): { namespace: string | undefined; name: string } {
  const i = key.indexOf('/')
  return i < 0 ? { namespace: undefined, name: key } : { namespace: key.slice(0, i), name: key.slice(i + 1) }
}

export interface ControllerOptions {
  name: string
  client: RestClient
  log: Logger
  reconcile: (key: string) => ReconcileResult | Promise<ReconcileResult>
  workers?: number
}

export class Controller {
  readonly name: string
  private readonly queue = new WorkQueue<string>()
  private readonly options: ControllerOptions
  private readonly workers: Promise<void>[] = []
  private running = false

  constructor(options: ControllerOptions) {
    this.options = options
    this.name = options.name
  }

  enqueue(key: string): void {
    this.queue.add(key)
  }

  enqueueAfter(key: string, ms: number): void {
    this.queue.addAfter(key, ms)
  }

  /** Enqueues, for every add, update and delete the informer sees, the keys `keysOf` names. */
  watch<T extends ClientObject>(informer: Informer<T>, keysOf: (obj: T) => Iterable<string>): void {
    const push = (obj: T) => {
      for (const key of keysOf(obj)) this.enqueue(key)
    }
    informer.addHandlers({
      onAdd: push,
      onUpdate: (oldObj, newObj) => {
        push(oldObj)
        push(newObj)
      },
      onDelete: push,
    })
  }

  start(): void {
    if (this.running || this.queue.shuttingDown) return
    this.running = true
    for (let i = 0; i < (this.options.workers ?? 2); i++) this.workers.push(this.work())
  }

  /** Stops the workers (after the reconciles in flight) but keeps the queue: `start()` resumes. */
  async pause(): Promise<void> {
    this.running = false
    this.queue.releaseWaiters()
    await Promise.all(this.workers.splice(0))
  }

  async stop(): Promise<void> {
    this.running = false
    this.queue.shutDown()
    await Promise.all(this.workers.splice(0))
  }

  private async work(): Promise<void> {
    const { log, client, name } = this.options
    while (this.running) {
      const key = await this.queue.get()
      if (key === undefined) return
      try {
        const result = await this.options.reconcile(key)
        await applyActions({ client, component: name }, result.actions)
        this.queue.forget(key)
        if (result.requeueAfterMs !== undefined) this.queue.addAfter(key, result.requeueAfterMs)
      } catch (err) {
        if (!this.queue.shuttingDown) {
          log.debug({ err, key, controller: name }, 'reconcile failed; retrying with backoff')
          this.queue.addRateLimited(key)
        }
      } finally {
        this.queue.done(key)
      }
    }
  }
}
