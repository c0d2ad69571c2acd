// Resource arithmetic as kube-scheduler's framework.Resource: cpu in millicores, everything
// else in whole units, requests computed like k8s.io/component-helpers resource.PodRequests.
import type { V1Container, V1Pod } from '@kubernetes/client-node'
import { parseQuantityMilli, parseQuantityValue } from '../api/quantity.ts'

export interface Resources {
  milliCPU: number
  memory: number
  ephemeralStorage: number
  /** Extended and other named resources (hugepages-*, example.com/gpu), in whole units. */
  scalar: Map<string, number>
}

/** Used only for scoring, for containers that leave cpu or memory unset (upstream DefaultMilliCPURequest/DefaultMemoryRequest). */
export const defaultMilliCPURequest = 100
export const defaultMemoryRequest = 200 * 1024 * 1024

type ResourceList = Record<string, string | number> | undefined

export function emptyResources(): Resources {
  return { milliCPU: 0, memory: 0, ephemeralStorage: 0, scalar: new Map() }
}

const milliCache = new Map<string | number, number>()
const valueCache = new Map<string | number, number>()

function milli(q: string | number): number {
  let v = milliCache.get(q)
  if (v === undefined) {
    v = parseQuantityMilli(q)
    if (milliCache.size < 10_000) milliCache.set(q, v)
  }
  return v
}

export function quantityValue(q: string | number): number {
  let v = valueCache.get(q)
  if (v === undefined) {
    v = parseQuantityValue(q)
    if (valueCache.size < 10_000) valueCache.set(q, v)
  }
  return v
}

/** A ResourceList as Resources; `pods` is left out (see allocatablePods). */
export function resourcesFromList(list: ResourceList): Resources {
  const r = emptyResources()
  if (!list) return r
  for (const [name, q] of Object.entries(list)) {
    if (name === 'cpu') r.milliCPU = milli(q)
    else if (name === 'memory') r.memory = quantityValue(q)
    else if (name === 'ephemeral-storage') r.ephemeralStorage = quantityValue(q)
    else if (name !== 'pods') r.scalar.set(name, quantityValue(q))
  }
  return r
}

export function addInto(into: Resources, r: Resources, sign = 1): void {
  into.milliCPU += sign * r.milliCPU
  into.memory += sign * r.memory
  into.ephemeralStorage += sign * r.ephemeralStorage
  for (const [name, v] of r.scalar) {
    const next = (into.scalar.get(name) ?? 0) + sign * v
    if (next === 0) into.scalar.delete(name)
    else into.scalar.set(name, next)
  }
}

function maxInto(into: Resources, r: Resources): void {
  into.milliCPU = Math.max(into.milliCPU, r.milliCPU)
  into.memory = Math.max(into.memory, r.memory)
  into.ephemeralStorage = Math.max(into.ephemeralStorage, r.ephemeralStorage)
  for (const [name, v] of r.scalar) into.scalar.set(name, Math.max(into.scalar.get(name) ?? 0, v))
}

function copy(r: Resources): Resources {
  return { ...r, scalar: new Map(r.scalar) }
}

function containerRequests(c: V1Container, nonMissing: boolean): Resources {
  const list = c.resources?.requests as ResourceList
  const r = resourcesFromList(list)
  if (nonMissing) {
    if (list?.cpu === undefined) r.milliCPU = defaultMilliCPURequest
    if (list?.memory === undefined) r.memory = defaultMemoryRequest
  }
  return r
}

/**
 * The pod's effective request: the sum over containers and sidecars (restartable init
 * containers), the max with each init container (plus the sidecars started before it),
 * plus `spec.overhead`. With `nonMissing`, unset cpu/memory requests count as the
 * scheduler's scoring defaults.
 */
export function podRequests(pod: V1Pod, nonMissing = false): Resources {
  const reqs = emptyResources()
  for (const c of pod.spec?.containers ?? []) addInto(reqs, containerRequests(c, nonMissing))
  const restartable = emptyResources()
  const initMax = emptyResources()
  for (const c of pod.spec?.initContainers ?? []) {
    const r = containerRequests(c, nonMissing)
    if (c.restartPolicy === 'Always') {
      addInto(reqs, r)
      addInto(restartable, r)
      maxInto(initMax, restartable)
    } else {
      const withSidecars = copy(r)
      addInto(withSidecars, restartable)
      maxInto(initMax, withSidecars)
    }
  }
  maxInto(reqs, initMax)
  addInto(reqs, resourcesFromList(pod.spec?.overhead as ResourceList))
  return reqs
}

export function isZero(r: Resources): boolean {
  return r.milliCPU === 0 && r.memory === 0 && r.ephemeralStorage === 0 && r.scalar.size === 0
}
