// Per-node scheduling state kept incrementally (kube-scheduler's cache + NodeInfo): the caller
// feeds node and pod changes in, and each decision reads precomputed sums instead of scanning pods.
import type { V1Node, V1Pod, V1Taint } from '@kubernetes/client-node'
import { type HostPort, bindAllHostIP, podInfo, podKey } from './pod-info.ts'
import { addInto, emptyResources, quantityValue, type Resources, resourcesFromList } from './resources.ts'
import { isDoNotSchedule, isPreferNoSchedule } from './taints.ts'
import { hasTerms, type NamespaceLabels, type PlacedPod } from './pod-affinity.ts'

export const taintNodeNotReady = 'node.kubernetes.io/not-ready'
export const taintNodeUnreachable = 'node.kubernetes.io/unreachable'
export const taintNodeUnschedulable = 'node.kubernetes.io/unschedulable'

export interface BoundPod extends PlacedPod {
  key: string
  name: string
  uid: string | undefined
  priority: number
  nodeName: string
  requests: Resources
  nonZeroMilliCPU: number
  nonZeroMemory: number
  hostPorts: HostPort[]
  ownerUid: string | undefined
}

export class NodeInfo {
  readonly name: string
  node: V1Node | undefined
  labels: Record<string, string> = {}
  allocatable: Resources = emptyResources()
  allocatablePods = 0
  unschedulable = false
  /** NoSchedule/NoExecute taints, including the implicit not-ready one. */
  doNotScheduleTaints: V1Taint[] = []
  preferNoScheduleTaints: V1Taint[] = []
  requested: Resources = emptyResources()
  nonZeroMilliCPU = 0
  nonZeroMemory = 0
  podCount = 0
  /** ip → `${protocol}/${port}` → number of pods using it */
  usedPorts = new Map<string, Map<string, number>>()
  ownerCounts = new Map<string, number>()
  /** The pods bound here, by key (for inter-pod affinity and topology spread). */
  readonly pods = new Map<string, BoundPod>()
  readonly podsWithTerms = new Set<BoundPod>()

  constructor(name: string) {
    this.name = name
  }

  hasPortConflict(ports: readonly HostPort[]): boolean {
    for (const p of ports) {
      if (p.ip === bindAllHostIP) {
        for (const m of this.usedPorts.values()) if (m.has(p.protocolPort)) return true
      } else if (this.usedPorts.get(bindAllHostIP)?.has(p.protocolPort) || this.usedPorts.get(p.ip)?.has(p.protocolPort)) {
        return true
      }
    }
    return false
  }

  account(b: BoundPod, sign: 1 | -1): void {
    if (sign > 0) this.pods.set(b.key, b)
    else this.pods.delete(b.key)
    if (hasTerms(b.terms)) {
      if (sign > 0) this.podsWithTerms.add(b)
      else this.podsWithTerms.delete(b)
    }
    addInto(this.requested, b.requests, sign)
    this.nonZeroMilliCPU += sign * b.nonZeroMilliCPU
    this.nonZeroMemory += sign * b.nonZeroMemory
    this.podCount += sign
    for (const p of b.hostPorts) {
      let m = this.usedPorts.get(p.ip)
      if (!m) this.usedPorts.set(p.ip, (m = new Map()))
      const n = (m.get(p.protocolPort) ?? 0) + sign
      if (n > 0) m.set(p.protocolPort, n)
      else {
        m.delete(p.protocolPort)
        if (m.size === 0) this.usedPorts.delete(p.ip)
      }
    }
    if (b.ownerUid !== undefined) {
      const n = (this.ownerCounts.get(b.ownerUid) ?? 0) + sign
      if (n > 0) this.ownerCounts.set(b.ownerUid, n)
      else this.ownerCounts.delete(b.ownerUid)
    }
  }
}

export interface SnapshotOptions {
  /**
   * Treat a node whose Ready condition is not True as carrying a NoSchedule taint
   * `node.kubernetes.io/not-ready` (Ready False or missing) or `node.kubernetes.io/unreachable`
   * (Ready Unknown), unless it already has that taint. Upstream the node lifecycle controller
   * adds these taints and the scheduler only sees taints; this keeps NotReady nodes out even
   * without that controller, with the message users know. Default true.
   */
  implicitNotReadyTaints?: boolean
}

function readinessTaint(node: V1Node): string | undefined {
  const ready = node.status?.conditions?.find((c) => c.type === 'Ready')
  if (ready?.status === 'True') return undefined
  return ready?.status === 'Unknown' ? taintNodeUnreachable : taintNodeNotReady
}

export function isTerminal(pod: V1Pod): boolean {
  const phase = pod.status?.phase
  return phase === 'Succeeded' || phase === 'Failed'
}

function boundPod(pod: V1Pod, key: string, nodeName: string): BoundPod {
  const pi = podInfo(pod)
  return {
    key,
    name: pod.metadata?.name ?? '',
    uid: pod.metadata?.uid,
    priority: pi.priority,
    namespace: pod.metadata?.namespace ?? 'default',
    labels: pod.metadata?.labels,
    terms: pi.terms,
    terminating: Boolean(pod.metadata?.deletionTimestamp),
    nodeName,
    requests: pi.requests,
    nonZeroMilliCPU: pi.nonZeroMilliCPU,
    nonZeroMemory: pi.nonZeroMemory,
    hostPorts: pi.hostPorts,
    ownerUid: pi.ownerUid,
  }
}

export class ClusterSnapshot {
  /** Nodes in the order they were added: the order in which schedule() samples them. */
  readonly list: NodeInfo[] = []
  /** Where the next schedule() starts its round-robin scan (upstream nextStartNodeIndex). */
  nextStartNodeIndex = 0
  private readonly infos = new Map<string, NodeInfo>()
  private readonly pods = new Map<string, BoundPod>()
  /** Pending pods with a nominatedNodeName (preemptors waiting for their victims to go), by key. */
  private readonly nominations = new Map<string, BoundPod>()
  private readonly nominatedByNode = new Map<string, Set<BoundPod>>()
  private readonly implicitNotReady: boolean
  /** Bound pods with affinity terms of their own: while there are any, every decision looks at them. */
  podsWithTerms = 0
  /** Namespace labels, for terms with a namespaceSelector (the scheduler feeds them from its informer). */
  namespaceLabels: NamespaceLabels = () => undefined

  constructor(nodes: readonly V1Node[] = [], pods: readonly V1Pod[] = [], opts: SnapshotOptions = {}) {
    this.implicitNotReady = opts.implicitNotReadyTaints ?? true
    for (const n of nodes) this.upsertNode(n)
    for (const p of pods) this.upsertPod(p)
  }

  get(name: string): NodeInfo | undefined {
    const info = this.infos.get(name)
    return info?.node ? info : undefined
  }

  get nodeCount(): number {
    return this.list.length
  }

  upsertNode(node: V1Node): void {
    const name = node.metadata?.name ?? ''
    let info = this.infos.get(name)
    if (!info) this.infos.set(name, (info = new NodeInfo(name)))
    if (!info.node) this.list.push(info)
    info.node = node
    info.labels = node.metadata?.labels ?? {}
    const alloc = (node.status?.allocatable ?? node.status?.capacity) as Record<string, string | number> | undefined
    info.allocatable = resourcesFromList(alloc)
    info.allocatablePods = alloc?.pods === undefined ? 0 : quantityValue(alloc.pods)
    info.unschedulable = node.spec?.unschedulable === true
    const taints = node.spec?.taints ?? []
    info.doNotScheduleTaints = taints.filter(isDoNotSchedule)
    info.preferNoScheduleTaints = taints.filter(isPreferNoSchedule)
    const implicit = this.implicitNotReady ? readinessTaint(node) : undefined
    if (implicit && !info.doNotScheduleTaints.some((t) => t.key === implicit && t.effect === 'NoSchedule')) {
      info.doNotScheduleTaints.push({ key: implicit, effect: 'NoSchedule' })
    }
  }

  removeNode(name: string): void {
    const info = this.infos.get(name)
    if (!info?.node) return
    info.node = undefined
    this.list.splice(this.list.indexOf(info), 1)
    if (info.podCount === 0) this.infos.delete(name)
  }

  /**
   * Adds or updates a pod. A bound pod holds room on its node; a pending one nominated to a
   * node reserves room there against pods of its priority or lower; terminal pods hold nothing.
   */
  upsertPod(pod: V1Pod): void {
    const key = podKey(pod)
    this.removePodKey(key)
    this.removeNomination(key)
    if (isTerminal(pod)) return
    const nodeName = pod.spec?.nodeName
    if (nodeName) {
      const b = boundPod(pod, key, nodeName)
      let info = this.infos.get(nodeName)
      if (!info) this.infos.set(nodeName, (info = new NodeInfo(nodeName)))
      info.account(b, 1)
      this.pods.set(key, b)
      if (hasTerms(b.terms)) this.podsWithTerms++
      return
    }
    const nominated = pod.status?.nominatedNodeName
    if (!nominated || pod.metadata?.deletionTimestamp) return
    const b = boundPod(pod, key, nominated)
    this.nominations.set(key, b)
    let onNode = this.nominatedByNode.get(nominated)
    if (!onNode) this.nominatedByNode.set(nominated, (onNode = new Set()))
    onNode.add(b)
  }

  /** Pods nominated to `nodeName` that `pod` must leave room for: those of its priority or higher, other than itself (upstream addNominatedPods). */
  nominatedAhead(pod: { key: string; priority: number }, nodeName: string): BoundPod[] {
    const onNode = this.nominatedByNode.get(nodeName)
    if (!onNode) return []
    return [...onNode].filter((b) => b.key !== pod.key && b.priority >= pod.priority)
  }

  private removeNomination(key: string): void {
    const b = this.nominations.get(key)
    if (!b) return
    this.nominations.delete(key)
    const onNode = this.nominatedByNode.get(b.nodeName)!
    onNode.delete(b)
    if (onNode.size === 0) this.nominatedByNode.delete(b.nodeName)
  }

  removePod(pod: V1Pod): void {
    const key = podKey(pod)
    this.removePodKey(key)
    this.removeNomination(key)
  }


  private removePodKey(key: string): void {
    const b = this.pods.get(key)
    if (!b) return
    this.pods.delete(key)
    if (hasTerms(b.terms)) this.podsWithTerms--
    const info = this.infos.get(b.nodeName)
    if (!info) return
    info.account(b, -1)
    if (!info.node && info.podCount === 0) this.infos.delete(b.nodeName)
  }
}
