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

const priorityClassInfo = resources.find((r) => r.kind === 'PriorityClass')!
const podsRef = { group: '', resource: 'pods' }
const classesRef = { group: 'scheduling.k8s.io', resource: 'priorityclasses' }

export class PriorityAdmission implements Admission {
  readonly #objects: ObjectStore

  constructor(objects: ObjectStore) {
    this.#objects = objects
  }

  async mutate(r: AdmissionRequest): Promise<void> {
    if (r.info.kind !== 'Pod' || r.old || r.subresource) return
    const pod = r.obj as V1Pod & KObject
    const spec = pod.spec!
    let pc: V1PriorityClass | undefined
    if (spec.priorityClassName) {
      pc = (await this.#objects.get(priorityClassInfo, undefined, spec.priorityClassName)) as V1PriorityClass | undefined
      if (!pc) throw forbidden(podsRef, pod.metadata.name ?? '', `no PriorityClass with name ${spec.priorityClassName} was found`)
    } else {
      pc = await this.#globalDefault()
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
    const other = await this.#globalDefault()
    if (other && other.metadata?.name !== pc.metadata.name) {
      throw forbidden(classesRef, pc.metadata.name ?? '', `PriorityClass ${other.metadata?.name} is already marked as default. Only one default can exist`)
    }
  }

  async #globalDefault(): Promise<V1PriorityClass | undefined> {
    const page = await this.#objects.list(priorityClassInfo, undefined)
    let found: V1PriorityClass | undefined
    for (const kv of page.items) {
      const pc = fromKeyValue(kv) as V1PriorityClass
      // Several defaults can only come from before this check; the lowest wins, as upstream's getDefaultPriorityClass.
      if (pc.globalDefault && (found === undefined || (pc.value ?? 0) < (found.value ?? 0))) found = pc
    }
    return found
  }
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
