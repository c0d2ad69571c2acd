// A pod's QoS class as upstream's GetPodQOS computes it, from the cpu and memory requests
// and limits of all its containers (init ones included), comparing quantities by value
// (`1` and `1000m` are the same CPU). The API server sets it on create; the kubelet reports it.
import { isQuantity, parseQuantityMilli } from './quantity.ts'

type Resources = { requests?: Record<string, unknown>; limits?: Record<string, unknown> } | undefined
type Container = { resources?: Resources }

const COMPUTE = ['cpu', 'memory'] as const

function milli(v: unknown): number | undefined {
  return (typeof v === 'string' || typeof v === 'number') && isQuantity(v) ? parseQuantityMilli(v) : undefined
}

export function podQOSClass(spec: { containers?: Container[]; initContainers?: Container[] } | undefined): 'Guaranteed' | 'Burstable' | 'BestEffort' {
  const containers = [...(spec?.initContainers ?? []), ...(spec?.containers ?? [])]
  let any = false
  let guaranteed = containers.length > 0
  for (const c of containers) {
    for (const r of COMPUTE) {
      const limit = milli(c.resources?.limits?.[r])
      const request = milli(c.resources?.requests?.[r]) ?? limit
      if ((limit ?? 0) !== 0 || (request ?? 0) !== 0) any = true
      // Guaranteed: a limit for both, and a request (when given) equal to it.
      if (limit === undefined || limit === 0 || request !== limit) guaranteed = false
    }
  }
  if (guaranteed) return 'Guaranteed'
  return any ? 'Burstable' : 'BestEffort'
}
