// The LimitRanger admission plugin: a new pod gets its namespace's LimitRange defaults
// (mutate), then pods and PersistentVolumeClaims are held to the LimitRanges' limits
// (validate, 403 with upstream's messages). LimitRanges come from a store feed; when the
// feed has none for a namespace, the store is asked and the answer kept up to 30 s (until
// the feed brings a change there), as upstream's live lookup covers an informer that lags.
import type { V1LimitRange, V1PersistentVolumeClaim, V1Pod } from '@kubernetes/client-node'
import { podQOSClass } from '../../api/qos.ts'
import { resources } from '../../api/registry.ts'
import { aggregateMessage, applyLimitRangeDefaults, claimLimitViolations, podLimitViolations } from '../../quota/limit-ranger.ts'
import { forbidden } from '../../util/errors.ts'
import type { Logger } from '../../util/log.ts'
import { fromKeyValue, resourceRef, type KObject, type ObjectStore } from '../objects.ts'
import type { Admission, AdmissionRequest } from '../resource-handler.ts'
import { NamespacedCache } from './namespaced-cache.ts'

const limitRangeInfo = resources.find((r) => r.kind === 'LimitRange')!
const LIVE_LOOKUP_TTL_MS = 30_000

/** Pods on create (their containers cannot change later) and claims, never a subresource. */
function applies(r: AdmissionRequest): boolean {
  if (r.subresource || !r.info.namespaced || r.info.group !== '') return false
  if (r.old?.metadata.deletionTimestamp) return false
  return (r.info.kind === 'Pod' && !r.old) || r.info.kind === 'PersistentVolumeClaim'
}

export class LimitRangerAdmission implements Admission {
  readonly #objects: ObjectStore
  readonly #cache: NamespacedCache
  readonly #live = new Map<string, { until: number; items: Promise<V1LimitRange[]> }>()

  constructor(objects: ObjectStore, log: Logger) {
    this.#objects = objects
    // What the feed brings is newer than any answer the store gave before.
    this.#cache = new NamespacedCache(objects, limitRangeInfo, log, (ns) => this.#live.delete(ns))
  }

  start(): Promise<void> {
    return this.#cache.start()
  }

  stop(): void {
    this.#cache.stop()
  }

  async #limitRanges(namespace: string): Promise<V1LimitRange[]> {
    const cached = this.#cache.inNamespace(namespace)
    if (cached.length > 0) return cached as V1LimitRange[]
    const now = Date.now()
    let entry = this.#live.get(namespace)
    if (!entry || entry.until < now) {
      const items = this.#objects.list(limitRangeInfo, namespace).then((page) => page.items.map((kv) => fromKeyValue(kv) as V1LimitRange))
      entry = { until: now + LIVE_LOOKUP_TTL_MS, items }
      this.#live.set(namespace, entry)
      items.catch(() => this.#live.delete(namespace))
      for (const [ns, e] of this.#live) if (e.until < now) this.#live.delete(ns)
    }
    return entry.items
  }

  async mutate(r: AdmissionRequest): Promise<void> {
    if (!applies(r) || r.info.kind !== 'Pod') return
    const pod = r.obj as V1Pod & KObject
    let changed = false
    for (const lr of await this.#limitRanges(pod.metadata.namespace!)) changed = applyLimitRangeDefaults(lr, pod) || changed
    // The QoS class was worked out from what the pod said before its defaults.
    if (changed && pod.status) pod.status.qosClass = podQOSClass(pod.spec)
  }

  async validate(r: AdmissionRequest): Promise<void> {
    if (!applies(r)) return
    for (const lr of await this.#limitRanges(r.obj.metadata.namespace!)) {
      const errs = r.info.kind === 'Pod' ? podLimitViolations(lr, r.obj as V1Pod) : claimLimitViolations(lr, r.obj as V1PersistentVolumeClaim)
      if (errs.length > 0) throw forbidden(resourceRef(r.info), r.obj.metadata.name ?? '', aggregateMessage(errs))
    }
  }
}
