// The scheduler's shell: informers keep a cluster snapshot current; pending pods queue up;
// each is decided by the pure scheduleOnSnapshot and bound through pods/binding. A pod
// that fits nowhere is marked Unschedulable (with an Event) and parked until nodes or
// pods change, so it is retried on news, not in a loop.
import type { V1Namespace, V1Node, V1PersistentVolume, V1PersistentVolumeClaim, V1Pod } from '@kubernetes/client-node'
import { resources } from '../api/registry.ts'
import { WorkQueue, type RestClient } from '../client/index.ts'
import type { Action } from '../controllers/actions.ts'
import { applyActions } from '../controllers/apply-actions.ts'
import { keyOf, type InformerFactory } from '../controllers/controller.ts'
import type { Logger } from '../util/log.ts'
import { scheduleOnSnapshot } from './schedule.ts'
import { findPreemption, type Preemption } from './preemption.ts'
import { podInfo as schedulingInfo } from './pod-info.ts'
import { ClusterSnapshot } from './snapshot.ts'
import { storageInformers, type StorageInformers } from '../controllers/persistentvolume/lookups.ts'
import { findPodVolumes, podVolumeClaims, volumeBindingActions, type NodeVolumes } from './volume-binding.ts'
import { preFilterErrorMessage } from './fit-error.ts'

const podInfo = resources.find((r) => r.kind === 'Pod')!
const nodeInfo = resources.find((r) => r.kind === 'Node')!
const namespaceInfo = resources.find((r) => r.kind === 'Namespace')!

export const schedulerNames = ['default-scheduler', 'weft-scheduler']

/** How often parked pods are retried even without news. */
const flushUnschedulableMs = 60_000

export interface SchedulerOptions {
  client: RestClient
  informers: InformerFactory
  log: Logger
  /** Pods bound at once (each binding is one API call). */
  parallelism?: number
}

function isPending(pod: V1Pod): boolean {
  return (
    !pod.spec?.nodeName &&
    !pod.metadata?.deletionTimestamp &&
    schedulerNames.includes(pod.spec?.schedulerName ?? 'default-scheduler') &&
    pod.status?.phase !== 'Succeeded' &&
    pod.status?.phase !== 'Failed'
  )
}

const GATED_MESSAGE = 'Scheduling is blocked due to non-empty scheduling gates'

/** Upstream's preemption writes: the preemptor's nominatedNodeName, and each victim marked, told and deleted. */
function preemptionActions(pod: V1Pod, p: Preemption, now: Date): Action[] {
  const meta = pod.metadata!
  const at = now.toISOString().replace(/\.\d{3}Z$/, 'Z')
  const actions: Action[] = [{ verb: 'patch', info: podInfo, namespace: meta.namespace, name: meta.name!, subresource: 'status', type: 'merge', patch: { status: { nominatedNodeName: p.node } } }]
  for (const v of p.victims) {
    const involved = { apiVersion: 'v1', kind: 'Pod', metadata: { name: v.name, namespace: v.namespace, uid: v.uid } }
    actions.push(
      {
        verb: 'patch', info: podInfo, namespace: v.namespace, name: v.name, subresource: 'status', type: 'strategic',
        patch: { status: { conditions: [{ type: 'DisruptionTarget', status: 'True', reason: 'PreemptionByScheduler', message: `default-scheduler: preempting to accommodate a higher priority pod`, lastTransitionTime: at }] } },
      },
      { verb: 'event', event: { involved, type: 'Normal', reason: 'Preempted', message: `Preempted by pod ${meta.uid} on node ${p.node}` } },
      { verb: 'delete', info: podInfo, namespace: v.namespace, name: v.name, uid: v.uid },
    )
  }
  return actions
}

/** The Pending/PodScheduled=False condition as kube-scheduler writes it (with a FailedScheduling Event unless the pod is only gated). */
function unschedulableActions(pod: V1Pod, message: string, now: Date, reason: 'Unschedulable' | 'SchedulingGated' = 'Unschedulable'): Action[] {
  const current = pod.status?.conditions?.find((c) => c.type === 'PodScheduled')
  if (current?.status === 'False' && current.reason === reason && current.message === message) return []
  const meta = pod.metadata!
  return [
    {
      verb: 'patch',
      info: podInfo,
      namespace: meta.namespace,
      name: meta.name!,
      subresource: 'status',
      type: 'strategic',
      patch: {
        status: {
          conditions: [
            { type: 'PodScheduled', status: 'False', reason, message, lastProbeTime: null, lastTransitionTime: now.toISOString().replace(/\.\d{3}Z$/, 'Z') },
          ],
        },
      },
    },
    ...(reason === 'Unschedulable' ? [{ verb: 'event', event: { involved: { apiVersion: 'v1', kind: 'Pod', metadata: meta }, type: 'Warning', reason: 'FailedScheduling', message } } as const] : []),
  ]
}

export class Scheduler {
  readonly snapshot = new ClusterSnapshot()
  // As upstream's PrioritySort: higher-priority pods are tried first.
  private readonly queue = new WorkQueue<string>({ priority: (key) => this.options.informers.for<V1Pod>(podInfo).get(key)?.spec?.priority ?? 0 })
  private readonly unschedulable = new Set<string>()
  private readonly options: SchedulerOptions
  private readonly workers: Promise<void>[] = []
  /** Pods this scheduler bound whose update the informer has not shown yet. */
  private readonly assumed = new Map<string, V1Pod>()
  private running = false
  private flush: NodeJS.Timeout | undefined
  private readonly parkedOnPods = new Set<string>()
  /** Parked pods with claims: a claim, volume or class that changes may let them on. */
  private readonly parkedOnVolumes = new Set<string>()
  private readonly storage: StorageInformers

  constructor(options: SchedulerOptions) {
    this.options = options
    const pods = options.informers.for<V1Pod>(podInfo)
    const nodes = options.informers.for<V1Node>(nodeInfo)
    // Affinity terms with a namespaceSelector match namespaces by their labels.
    const namespaces = options.informers.for<V1Namespace>(namespaceInfo)
    this.snapshot.namespaceLabels = (ns) => namespaces.get(ns)?.metadata?.labels
    this.storage = storageInformers(options.informers)
    const claimChanged = (c: V1PersistentVolumeClaim) => this.retryClaimUsers(keyOf(c))
    this.storage.claims.addHandlers({ onAdd: claimChanged, onUpdate: (_o, c) => claimChanged(c), onDelete: claimChanged })
    // A volume bound to a claim matters to that claim's pods; a free one to any pod waiting for one.
    const volumeChanged = (v: V1PersistentVolume) => {
      const ref = v.spec?.claimRef
      if (ref) this.retryClaimUsers(`${ref.namespace}/${ref.name}`)
      else this.retryParkedOnVolumes()
    }
    this.storage.volumes.addHandlers({ onAdd: volumeChanged, onUpdate: (_o, v) => volumeChanged(v), onDelete: volumeChanged })
    this.storage.classes.addHandlers({ onAdd: () => this.retryParkedOnVolumes(), onUpdate: () => this.retryParkedOnVolumes() })
    nodes.addHandlers({
      onAdd: (n) => {
        this.snapshot.upsertNode(n)
        this.retryUnschedulable()
      },
      onUpdate: (_o, n) => {
        this.snapshot.upsertNode(n)
        this.retryUnschedulable()
      },
      onDelete: (n) => this.snapshot.removeNode(n.metadata!.name!),
    })
    pods.addHandlers({
      onAdd: (p) => this.podChanged(p),
      onUpdate: (o, p) => this.podChanged(p, o),
      onDelete: (p) => {
        const key = keyOf(p)
        this.assumed.delete(key)
        this.unschedulable.delete(key)
        this.parkedOnPods.delete(key)
        this.parkedOnVolumes.delete(key)
        this.snapshot.removePod(p)
        if (p.spec?.nodeName) this.retryUnschedulable()
      },
    })
  }

  private podChanged(pod: V1Pod, before?: V1Pod): void {
    const key = keyOf(pod)
    if (pod.spec?.nodeName) {
      this.assumed.delete(key)
      this.unschedulable.delete(key)
      this.snapshot.upsertPod(pod)
      // A bound pod that finished frees what it requested.
      const finished = (p?: V1Pod) => p?.status?.phase === 'Succeeded' || p?.status?.phase === 'Failed'
      if (finished(pod) && !finished(before)) this.retryUnschedulable()
      // A pod placed may be what a parked pod's affinity or spread waits for.
      else if (!before?.spec?.nodeName) this.retryParkedOnPods()
      return
    }
    if (this.assumed.has(key)) return
    // Pending: only a nomination (room a preemptor made) is kept for it.
    this.snapshot.upsertPod(pod)
    // A parked pod whose own spec changed (a new toleration, say) gets another try.
    if (this.unschedulable.has(key) && before && JSON.stringify(before.spec) !== JSON.stringify(pod.spec)) this.unschedulable.delete(key)
    if (isPending(pod) && !this.unschedulable.has(key)) this.queue.add(key)
  }

  /** Something changed that may make room: every parked pod gets another try. */
  private retryUnschedulable(): void {
    for (const key of this.unschedulable) this.queue.add(key)
    this.unschedulable.clear()
    this.parkedOnPods.clear()
    this.parkedOnVolumes.clear()
  }

  /** Parked pods that use the claim `<namespace>/<name>`. */
  private retryClaimUsers(claimKey: string): void {
    for (const p of this.storage.podsUsing(claimKey)) {
      const key = keyOf(p)
      if (!this.unschedulable.delete(key)) continue
      this.parkedOnVolumes.delete(key)
      this.queue.add(key)
    }
  }

  private retryParkedOnVolumes(): void {
    for (const key of this.parkedOnVolumes) {
      this.unschedulable.delete(key)
      this.queue.add(key)
    }
    this.parkedOnVolumes.clear()
  }

  /** Parked pods whose inter-pod affinity or topology spread other pods' placement can change. */
  private retryParkedOnPods(): void {
    for (const key of this.parkedOnPods) {
      this.unschedulable.delete(key)
      this.queue.add(key)
    }
    this.parkedOnPods.clear()
  }

  start(): void {
    if (this.running || this.queue.shuttingDown) return
    this.running = true
    // As upstream flushes its unschedulable queue: news can be missed, time is not.
    this.flush = setInterval(() => this.retryUnschedulable(), flushUnschedulableMs).unref()
    for (let i = 0; i < (this.options.parallelism ?? 64); i++) this.workers.push(this.work())
  }

  /** Stops the workers (after the pods in flight) but keeps the queue: `start()` resumes. */
  async pause(): Promise<void> {
    this.running = false
    clearInterval(this.flush)
    this.queue.releaseWaiters()
    await Promise.all(this.workers.splice(0))
  }

  async stop(): Promise<void> {
    this.running = false
    clearInterval(this.flush)
    this.queue.shutDown()
    await Promise.all(this.workers.splice(0))
  }

  private async work(): Promise<void> {
    const { client, log, informers } = this.options
    const pods = informers.for<V1Pod>(podInfo)
    while (this.running) {
      const key = await this.queue.get()
      if (key === undefined) return
      try {
        const pod = pods.get(key)
        if (!pod || !isPending(pod) || this.assumed.has(key)) continue
        // Gated (upstream's SchedulingGates PreEnqueue plugin): not tried until an update lifts the gates.
        if (pod.spec?.schedulingGates?.length) {
          await applyActions({ client, component: 'default-scheduler' }, unschedulableActions(pod, GATED_MESSAGE, new Date(), 'SchedulingGated'))
          continue
        }
        const pi = schedulingInfo(pod)
        // VolumeBinding's PreFilter, then its Filter per node (remembering how each node would bind the claims).
        const claims = podVolumeClaims(pod, this.storage)
        if ('unresolvable' in claims) {
          this.unschedulable.add(key)
          this.parkedOnVolumes.add(key)
          await applyActions({ client, component: 'default-scheduler' }, unschedulableActions(pod, preFilterErrorMessage(this.snapshot.list.length, claims.unresolvable), new Date()))
          continue
        }
        const perNode = new Map<string, NodeVolumes>()
        if (!('none' in claims)) {
          pi.volumes = (node) => {
            const found = findPodVolumes(claims, node, this.storage)
            if ('reasons' in found) return found.reasons
            perNode.set(node.name, found)
            return undefined
          }
        }
        const result = scheduleOnSnapshot(pi, this.snapshot, { random: Math.random })
        if ('unschedulable' in result) {
          this.unschedulable.add(key)
          if (pod.spec?.affinity?.podAffinity || pod.spec?.affinity?.podAntiAffinity || pod.spec?.topologySpreadConstraints?.length) this.parkedOnPods.add(key)
          if (pi.volumes) this.parkedOnVolumes.add(key)
          await applyActions({ client, component: 'default-scheduler' }, unschedulableActions(pod, result.message, new Date()))
          // PostFilter: make room by evicting lower-priority pods; the pod is tried again as they go.
          const preemption = findPreemption(pi, this.snapshot, result.reasons)
          if (preemption) await applyActions({ client, component: 'default-scheduler' }, preemptionActions(pod, preemption, new Date()))
          continue
        }
        // Claims still to bind on the chosen node: start their binding and wait for it (upstream's
        // PreBind); the pod comes back when its claims change, and is bound once they are.
        const pending = perNode.get(result.node)
        if (pending && (pending.staticBindings.length > 0 || pending.provisions.length > 0)) {
          this.unschedulable.add(key)
          this.parkedOnVolumes.add(key)
          await applyActions({ client, component: 'default-scheduler' }, volumeBindingActions(pending, result.node))
          this.queue.forget(key)
          continue
        }
        // Assume the binding at once, so the next decisions see the node's new load.
        const bound: V1Pod = { ...pod, spec: { ...pod.spec!, nodeName: result.node } }
        this.assumed.set(key, bound)
        this.snapshot.upsertPod(bound)
        try {
          await applyActions({ client, component: 'default-scheduler' }, [
            { verb: 'bind', namespace: pod.metadata!.namespace!, name: pod.metadata!.name!, uid: pod.metadata!.uid, node: result.node },
          ])
          // The Event is best effort and need not hold up the next pod.
          void applyActions({ client, component: 'default-scheduler' }, [
            {
              verb: 'event',
              event: { involved: { apiVersion: 'v1', kind: 'Pod', metadata: pod.metadata }, type: 'Normal', reason: 'Scheduled', message: `Successfully assigned ${key} to ${result.node}` },
            },
          ])
        } catch (err) {
          this.assumed.delete(key)
          this.snapshot.upsertPod(pod)
          throw err
        }
        this.queue.forget(key)
      } catch (err) {
        if (!this.queue.shuttingDown) {
          log.debug({ err, pod: key }, 'scheduling failed; retrying with backoff')
          this.queue.addRateLimited(key)
        }
      } finally {
        this.queue.done(key)
      }
    }
  }
}
