// The Priority admission plugin: a new pod's priorityClassName becomes its spec.priority
// (and preemptionPolicy), from the named PriorityClass or else the cluster's globalDefault
// one; a pod may not state a priority of its own that differs. And at most one
// PriorityClass is the globalDefault.
import type { V1Pod, V1PriorityClass } from '@kubernetes/client-node'
import { resources } from '../../api/registry.ts'
import { forbidden } from '../../util/errors.ts'
import type { KObject, ObjectStore } from '../objects.ts'
import { fromKeyValue } from '../objects.ts'
import type { Admission, AdmissionRequest } from '../resource-handler.ts'
import { StoreFeed } from '../store-feed.ts'
import type { Logger } from '../../util/log.ts'

const priorityClassInfo = resources.find((r) => r.kind === 'PriorityClass')!
const podsRef = { group: '', resource: 'pods' }
const classesRef = { group: 'scheduling.k8s.io', resource: 'priorityclasses' }

export class PriorityAdmission implements Admission {
  readonly #objects: ObjectStore
  /** The PriorityClasses, kept in step with the store: a pod create reads them, not the store. */
  readonly #classes = new Map<string, V1PriorityClass>()
  readonly #feed: StoreFeed

  constructor(objects: ObjectStore, log: Logger) {
    this.#objects = objects
    this.#feed = new StoreFeed(
      objects.store,
      priorityClassInfo,
      { upsert: (o) => void this.#classes.set(o.metadata.name!, o as V1PriorityClass), remove: (o) => void this.#classes.delete(o.metadata.name!) },
      log,
    )
  }

  start(): Promise<void> {
    return this.#feed.start()
  }

  stop(): void {
    this.#feed.stop()
  }

  async mutate(r: AdmissionRequest): Promise<void> {
    if (r.info.kind !== 'Pod' || r.old || r.subresource) return
    const pod = r.obj as V1Pod & KObject
    const spec = pod.spec!
    let pc: V1PriorityClass | undefined
    if (spec.priorityClassName) {
      // A class made a moment ago may not have reached the feed yet: the store has the last word.
      pc = this.#classes.get(spec.priorityClassName) ?? ((await this.#objects.get(priorityClassInfo, undefined, spec.priorityClassName)) as V1PriorityClass | undefined)
      if (!pc) throw forbidden(podsRef, pod.metadata.name ?? '', `no PriorityClass with name ${spec.priorityClassName} was found`)
    } else {
      pc = lowestDefault(this.#classes.values())
      if (pc) spec.priorityClassName = pc.metadata!.name
    }
    const value = pc?.value ?? 0
    if (spec.priority !== undefined && spec.priority !== null && spec.priority !== value) {
      throw forbidden(podsRef, pod.metadata.name ?? '', `the integer value of priority (${spec.priority}) must not be provided in pod spec; priority admission controller computed ${value} from the given PriorityClass name`)
    }
    spec.priority = value
    spec.preemptionPolicy = pc?.preemptionPolicy ?? spec.preemptionPolicy ?? 'PreemptLowerPriority'
  }

  async validate(r: AdmissionRequest): Promise<void> {
    if (r.info.kind !== 'PriorityClass' || r.subresource) return
    const pc = r.obj as V1PriorityClass & KObject
    if (!pc.globalDefault) return
    // Read from the store, not the feed: two defaults must not both get through.
    const page = await this.#objects.list(priorityClassInfo, undefined)
    const other = lowestDefault(page.items.map((kv) => fromKeyValue(kv) as V1PriorityClass))
    if (other && other.metadata?.name !== pc.metadata.name) {
      throw forbidden(classesRef, pc.metadata.name ?? '', `PriorityClass ${other.metadata?.name} is already marked as default. Only one default can exist`)
    }
  }
}

/** The globalDefault class; of several (possible only from before the check), the lowest, as upstream's getDefaultPriorityClass. */
function lowestDefault(classes: Iterable<V1PriorityClass>): V1PriorityClass | undefined {
  let found: V1PriorityClass | undefined
  for (const pc of classes) if (pc.globalDefault && (found === undefined || (pc.value ?? 0) < (found.value ?? 0))) found = pc
  return found
}

/** Admission plugins in order: every mutate, then every validate. */
export function admissionChain(...plugins: Admission[]): Admission {
  return {
    mutate: async (r) => {
      for (const p of plugins) await p.mutate(r)
    },
    validate: async (r) => {
      for (const p of plugins) await p.validate(r)
    },
  }
}
