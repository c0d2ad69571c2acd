// Collects Service and EndpointSlice events between syncs and turns them into the proxy's
// per-family ServiceEntry maps plus the ids of the Service ports that changed, so a sync only
// rebuilds what moved (kube-proxy's ServiceChangeTracker and EndpointsChangeTracker).
import type { V1EndpointSlice, V1Service } from '@kubernetes/client-node'
import type { Family, ServiceEntry } from './model.ts'
import { parseService, parseSlices, serviceEntries, serviceKey, sliceServiceKey, type FieldProblem } from './service-entries.ts'

export interface ProblemUpdate {
  /** The Service now (undefined: deleted). */
  service: V1Service | undefined
  /** Everything the proxy dropped from it and its slices (empty: nothing, or deleted). */
  problems: FieldProblem[]
}

export class ChangeTracker {
  readonly families: readonly Family[]
  #nodeName: string
  #services = new Map<string, V1Service>()
  #slices = new Map<string, Map<string, V1EndpointSlice>>()
  #dirty = new Set<string>()
  #entries = new Map<Family, Map<string, ServiceEntry>>()
  /** Service key → the ids of its ports last built, per family. */
  #portIds = new Map<Family, Map<string, string[]>>()
  /** Service key → its health check port, for the Services that have one. */
  #healthPorts = new Map<string, number>()
  #problemUpdates = new Map<string, ProblemUpdate>()

  constructor(families: readonly Family[], nodeName: string) {
    this.families = families
    this.#nodeName = nodeName
    for (const f of families) {
      this.#entries.set(f, new Map())
      this.#portIds.set(f, new Map())
    }
  }

  /** The Service stored under `key` (`namespace/name`). */
  service(key: string): V1Service | undefined {
    return this.#services.get(key)
  }

  /** Services with changes not yet taken. */
  get pending(): number {
    return this.#dirty.size
  }

  setService(service: V1Service): void {
    const key = serviceKey(service.metadata?.namespace, service.metadata?.name)
    this.#services.set(key, service)
    this.#dirty.add(key)
  }

  deleteService(service: V1Service): void {
    const key = serviceKey(service.metadata?.namespace, service.metadata?.name)
    this.#services.delete(key)
    this.#dirty.add(key)
  }

  setSlice(slice: V1EndpointSlice): void {
    const key = sliceServiceKey(slice)
    if (!key) return
    let slices = this.#slices.get(key)
    if (!slices) this.#slices.set(key, (slices = new Map()))
    slices.set(slice.metadata?.name ?? '', slice)
    this.#dirty.add(key)
  }

  deleteSlice(slice: V1EndpointSlice): void {
    const key = sliceServiceKey(slice)
    const slices = key ? this.#slices.get(key) : undefined
    if (!key || !slices) return
    slices.delete(slice.metadata?.name ?? '')
    if (slices.size === 0) this.#slices.delete(key)
    this.#dirty.add(key)
  }

  /** The current entries of `family`, by ServicePort id (updated in place by take()). */
  entries(family: Family): ReadonlyMap<string, ServiceEntry> {
    return this.#entries.get(family)!
  }

  /** Rebuilds the entries of every changed Service; returns the changed port ids per family. */
  take(): Map<Family, Set<string>> {
    const changed = new Map<Family, Set<string>>(this.families.map((f) => [f, new Set()]))
    for (const key of this.#dirty) {
      const service = this.#services.get(key)
      const slices = [...(this.#slices.get(key)?.values() ?? [])]
      // Parsed once for every family; what it dropped is kept for the shell to report.
      const parsed = service ? parseService(service) : undefined
      if (parsed && !parsed.skip && parsed.healthCheckNodePort > 0) this.#healthPorts.set(key, parsed.healthCheckNodePort)
      else this.#healthPorts.delete(key)
      // The slices too, once for every port and family.
      const endpoints = parsed && !parsed.skip ? parseSlices(slices, this.#nodeName) : undefined
      this.#problemUpdates.set(key, { service, problems: parsed ? [...parsed.problems, ...(endpoints?.problems ?? [])] : [] })
      for (const family of this.families) {
        const entries = this.#entries.get(family)!
        const ids = this.#portIds.get(family)!
        const fresh = parsed && endpoints ? serviceEntries(parsed, endpoints.slices, family) : []
        const before = ids.get(key) ?? []
        for (const id of before) entries.delete(id)
        for (const entry of fresh) entries.set(entry.port.id, entry)
        const after = fresh.map((e) => e.port.id)
        if (after.length) ids.set(key, after)
        else ids.delete(key)
        const out = changed.get(family)!
        for (const id of before) out.add(id)
        for (const id of after) out.add(id)
      }
    }
    this.#dirty.clear()
    return changed
  }

  /** The problems of every Service rebuilt since the last call, by Service key. */
  takeProblems(): Map<string, ProblemUpdate> {
    const out = this.#problemUpdates
    this.#problemUpdates = new Map()
    return out
  }

  /** The health check port of every Service that has one (LoadBalancer, externalTrafficPolicy Local), by Service key; kept up to date by take(). */
  healthCheckNodePorts(): ReadonlyMap<string, number> {
    return this.#healthPorts
  }

  /** The entries of one Service (`namespace/name`) in `family`. */
  serviceEntries(family: Family, key: string): ServiceEntry[] {
    const entries = this.#entries.get(family)!
    return (this.#portIds.get(family)!.get(key) ?? []).map((id) => entries.get(id)!)
  }
}
