// The LimitRanger admission plugin: a new pod gets its namespace's LimitRange defaults
// (mutate), then pods and PersistentVolumeClaims are held to the LimitRanges' limits
// (validate, 403 with upstream's messages, every LimitRange's complaints in one). The
// LimitRanges come from a NamespacedCache (a store feed, with a store lookup while the feed
// has none for the namespace). A LimitRange that cannot be read is passed over alone.
import type { V1LimitRange, V1PersistentVolumeClaim, V1Pod } from '@kubernetes/client-node'
import { podQOSClass } from '../../api/qos.ts'
import { resources } from '../../api/registry.ts'
import { aggregateMessage, applyLimitRangeDefaults, claimLimitViolations, podLimitViolations } from '../../quota/limit-ranger.ts'
import { validateLimitRange } from '../../api/validation/quota.ts'
import { forbidden } from '../../util/errors.ts'
import type { Logger } from '../../util/log.ts'
import { resourceRef, type KObject, type ObjectStore } from '../objects.ts'
import type { Admission, AdmissionRequest } from '../resource-handler.ts'
import { causeTexts, NamespacedCache } from './namespaced-cache.ts'

const limitRangeInfo = resources.find((r) => r.kind === 'LimitRange')!

/** Pods on create (their containers cannot change later) and claims, never a subresource. */
function applies(r: AdmissionRequest): boolean {
  if (r.subresource || !r.info.namespaced || r.info.group !== '') return false
  if (r.old?.metadata.deletionTimestamp) return false
  return (r.info.kind === 'Pod' && !r.old) || r.info.kind === 'PersistentVolumeClaim'
}

export class LimitRangerAdmission implements Admission {
  readonly #cache: NamespacedCache

  constructor(objects: ObjectStore, log: Logger) {
    this.#cache = new NamespacedCache(objects, limitRangeInfo, log, (lr) => causeTexts(validateLimitRange(lr)))
  }

  start(): Promise<void> {
    return this.#cache.start()
  }

  stop(): void {
    this.#cache.stop()
  }

  async mutate(r: AdmissionRequest): Promise<void> {
    if (!applies(r) || r.info.kind !== 'Pod') return
    const pod = r.obj
    let changed = false
    for (const lr of (await this.#cache.lookup(pod.metadata.namespace!)) as (V1LimitRange & KObject)[]) {
      // Defaults go onto a copy first: a LimitRange that fails halfway leaves the pod as it was.
      const trial = this.#cache.guarded(
        lr,
        () => {
          const copy: KObject = { ...pod, metadata: structuredClone(pod.metadata), spec: structuredClone(pod.spec) }
          return applyLimitRangeDefaults(lr, copy as V1Pod) ? copy : undefined
        },
        undefined,
      )
      if (!trial) continue
      pod.metadata = trial.metadata
      pod.spec = trial.spec
      changed = true
    }
    // The QoS class was worked out from what the pod said before its defaults.
    if (changed && pod.status) pod.status.qosClass = podQOSClass(pod.spec)
  }

  async validate(r: AdmissionRequest): Promise<void> {
    if (!applies(r)) return
    const errs: string[] = []
    for (const lr of (await this.#cache.lookup(r.obj.metadata.namespace!)) as (V1LimitRange & KObject)[]) {
      const found = this.#cache.guarded(lr, () => (r.info.kind === 'Pod' ? podLimitViolations(lr, r.obj as V1Pod) : claimLimitViolations(lr, r.obj as V1PersistentVolumeClaim)), [])
      errs.push(...found)
    }
    if (errs.length > 0) throw forbidden(resourceRef(r.info), r.obj.metadata.name ?? '', aggregateMessage(errs))
  }
}
