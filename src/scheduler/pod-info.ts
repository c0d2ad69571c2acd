// What the scheduler needs from a pod, computed once per pod (kube-scheduler's PodInfo).
import type { V1Pod, V1Toleration } from '@kubernetes/client-node'
import { type NodeMatcher, type PreferredTerm, preferredTerms, requiredNodeMatcher } from './node-affinity.ts'
import { isZero, podRequests, type Resources } from './resources.ts'
import { podTerms, type PodTerms } from './pod-affinity.ts'

export interface HostPort {
  /** '0.0.0.0' when unset. */
  ip: string
  /** `${protocol}/${port}`, protocol defaulting to TCP. */
  protocolPort: string
}

export interface PodInfo {
  pod: V1Pod
  /** namespace/name */
  key: string
  requests: Resources
  /** Requests with the scoring defaults for unset container cpu/memory. */
  nonZeroMilliCPU: number
  nonZeroMemory: number
  requestsZero: boolean
  tolerations: V1Toleration[]
  nodeMatcher: NodeMatcher | undefined
  preferred: PreferredTerm[]
  hostPorts: HostPort[]
  /** uid of the controller ownerReference, the key for spreading. */
  ownerUid: string | undefined
  /** Its inter-pod (anti-)affinity terms. */
  terms: PodTerms
  /** Whether it has topologySpreadConstraints. */
  spreads: boolean
  /** spec.priority (set from its PriorityClass at admission), 0 when unset. */
  priority: number
  /** The VolumeBinding filter for its claims (volume-binding.ts), set by the scheduler for a pod that has any. */
  volumes?: (node: { name: string; labels: Record<string, string> }) => string[] | undefined
}

export const bindAllHostIP = '0.0.0.0'

export function podKey(pod: V1Pod): string {
  return `${pod.metadata?.namespace ?? ''}/${pod.metadata?.name ?? ''}`
}

export function hostPorts(pod: V1Pod): HostPort[] {
  const out: HostPort[] = []
  for (const c of pod.spec?.containers ?? []) {
    for (const p of c.ports ?? []) {
      if (!p.hostPort || p.hostPort <= 0) continue
      out.push({ ip: p.hostIP || bindAllHostIP, protocolPort: `${p.protocol || 'TCP'}/${p.hostPort}` })
    }
  }
  return out
}

export function controllerUid(pod: V1Pod): string | undefined {
  return pod.metadata?.ownerReferences?.find((r) => r.controller === true)?.uid
}

export function podInfo(pod: V1Pod): PodInfo {
  const requests = podRequests(pod)
  const nonZero = podRequests(pod, true)
  return {
    pod,
    key: podKey(pod),
    requests,
    nonZeroMilliCPU: nonZero.milliCPU,
    nonZeroMemory: nonZero.memory,
    requestsZero: isZero(requests),
    tolerations: pod.spec?.tolerations ?? [],
    nodeMatcher: requiredNodeMatcher(pod),
    preferred: preferredTerms(pod),
    hostPorts: hostPorts(pod),
    ownerUid: controllerUid(pod),
    terms: podTerms(pod),
    spreads: (pod.spec?.topologySpreadConstraints?.length ?? 0) > 0,
    priority: pod.spec?.priority ?? 0,
  }
}
