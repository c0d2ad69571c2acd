// Keeps status.loadBalancer.ingress of every served Ingress naming the addresses clients
// reach this controller on (status-addresses.ts). Every replica computes the same addresses
// from the same objects and writes only when an Ingress's status differs, so replicas agree
// without electing a leader.
import type { V1Ingress, V1IngressLoadBalancerIngress, V1Pod, V1Service } from '@kubernetes/client-node'
import { resources } from '../src/api/registry.ts'
import { Informer, objectKey, type RestClient } from '../src/client/index.ts'
import type { Logger } from '../src/util/log.ts'
import { siblingSelector, statusAddresses, statusIsCurrent, type PublishSource } from './status-addresses.ts'

const info = (kind: string) => resources.find((r) => r.kind === kind)!
const RETRY_MS = 1000

export class IngressStatusWriter {
  readonly source: PublishSource
  #client: RestClient
  #log: Logger
  #service: Informer<V1Service> | undefined
  #pods: Informer<V1Pod> | undefined
  #served: () => V1Ingress[]
  #timer: NodeJS.Timeout | undefined
  #writing: Promise<void> = Promise.resolve()
  #started = false
  #stopped = false

  /** `served` answers the Ingresses this controller serves, as they are now. */
  constructor(client: RestClient, source: PublishSource, served: () => V1Ingress[], log: Logger) {
    this.#client = client
    this.source = source
    this.#served = served
    this.#log = log
  }

  /** The addresses written now (undefined: statuses are left alone). */
  get addresses(): V1IngressLoadBalancerIngress[] | undefined {
    return statusAddresses(this.source, { service: this.#service?.indexer.list()[0], pods: this.#pods?.indexer.list() })
  }

  async start(signal?: AbortSignal): Promise<void> {
    const s = this.source
    const changed = () => this.changed()
    const handlers = { onAdd: changed, onUpdate: changed, onDelete: changed }
    if (s.kind === 'service') {
      this.#service = new Informer<V1Service>(this.#client, info('Service'), { namespace: s.namespace, fieldSelector: `metadata.name=${s.name}`, logger: this.#log })
      this.#service.addHandlers(handlers)
    } else if (s.kind === 'pods') {
      const self = await this.#client.get<V1Pod>(info('Pod'), s.podName, s.namespace)
      const selector = siblingSelector(self)
      this.#pods = new Informer<V1Pod>(this.#client, info('Pod'), { namespace: s.namespace, ...(selector ? { labelSelector: selector } : { fieldSelector: `metadata.name=${s.podName}` }), logger: this.#log })
      this.#pods.addHandlers(handlers)
    }
    for (const i of [this.#service, this.#pods]) {
      if (!i) continue
      i.start()
      if (!(await i.waitForSync(signal))) throw new Error('the Ingress status writer stopped before it had listed what it publishes')
    }
    this.#started = true
    this.changed()
  }

  /** The served Ingresses (or their statuses) changed. */
  changed(): void {
    this.#schedule(0)
  }

  async stop(): Promise<void> {
    this.#stopped = true
    clearTimeout(this.#timer)
    await Promise.all([this.#service?.stop(), this.#pods?.stop()])
    await this.#writing
  }

  #schedule(ms: number): void {
    if (!this.#started || this.#stopped || this.#timer) return
    this.#timer = setTimeout(() => {
      this.#timer = undefined
      this.#writing = this.#writing.then(() => this.#write())
    }, ms)
  }

  async #write(): Promise<void> {
    const wanted = this.addresses
    if (!wanted || this.#stopped) return
    let failed = false
    for (const ing of this.#served()) {
      if (this.#stopped) return
      if (statusIsCurrent(ing.status?.loadBalancer?.ingress, wanted)) continue
      const m = ing.metadata!
      try {
        // The resourceVersion precondition: a status computed from an older object is not written over a newer one.
        await this.#client.patch(info('Ingress'), m.name!, m.namespace, { metadata: { resourceVersion: m.resourceVersion }, status: { loadBalancer: { ingress: wanted.length ? wanted : null } } }, 'merge', { subresource: 'status' })
      } catch (err) {
        failed = true
        this.#log.debug({ err, ingress: objectKey(ing) }, 'could not update the Ingress status; retrying')
      }
    }
    if (failed) this.#schedule(RETRY_MS)
  }
}
