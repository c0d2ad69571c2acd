// Node lifecycle: heartbeat staleness → Unknown conditions, condition taints, pods marked
// not ready, and NoExecute taint eviction (upstream node lifecycle controller + taint manager).
import type { V1Lease, V1Node, V1NodeCondition, V1Pod, V1Taint } from '@kubernetes/client-node'
import type { Action } from '../actions.ts'
import { resources, type ResourceInfo } from '../../api/registry.ts'
import {
  TAINT_DISK_PRESSURE,
  TAINT_MEMORY_PRESSURE,
  TAINT_NETWORK_UNAVAILABLE,
  TAINT_NOT_READY,
  TAINT_PID_PRESSURE,
  TAINT_UNREACHABLE,
  TAINT_UNSCHEDULABLE,
  sameTaint,
  toleratesTaint,
} from './taints.ts'

export interface NodeLifecycleOptions {
  /** How long a node may go without a heartbeat before it is Unknown (kube-controller-manager --node-monitor-grace-period). */
  gracePeriodSeconds: number
  /** When this controller last saw the node's heartbeat change, by its own clock (NodeHealth.lastHeard). */
  lastHeardMs: number
  /** Whether a NoExecute taint, which evicts, may be put on the node now (its zone's rate limiter); default: yes. */
  mayTaintNoExecute?: () => { ok: boolean; retryMs: number }
  /** Every zone is down at once (a control-plane or network fault, most likely): no NoExecute taints at all. */
  allDisrupted?: boolean
}

export interface NodeReconcileResult {
  actions: Action[]
  /** When the node must be looked at again even if nothing changes (staleness or a toleration running out). */
  requeueAfterMs?: number
}

/** A taint as JSON: `timeAdded` is an RFC 3339 string on the wire. */
type TaintJson = Omit<V1Taint, 'timeAdded'> & { timeAdded?: string | Date }
type ConditionJson = Record<string, unknown> & { type: string; status: string }

const nodeInfo = info('Node')
const podInfo = info('Pod')
const watchedConditions = ['Ready', 'MemoryPressure', 'DiskPressure', 'PIDPressure']
const managedNoSchedule = [TAINT_NOT_READY, TAINT_UNREACHABLE, TAINT_UNSCHEDULABLE, TAINT_MEMORY_PRESSURE, TAINT_DISK_PRESSURE, TAINT_PID_PRESSURE, TAINT_NETWORK_UNAVAILABLE]
const managedNoExecute = [TAINT_NOT_READY, TAINT_UNREACHABLE]

function info(kind: string): ResourceInfo {
  const found = resources.find((r) => r.kind === kind)
  if (!found) throw new Error(`kind ${kind} is not in the registry`)
  return found
}

function timestamp(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z')
}

function millis(value: unknown): number | undefined {
  if (value instanceof Date) return value.getTime()
  if (typeof value !== 'string') return undefined
  const ms = Date.parse(value)
  return Number.isNaN(ms) ? undefined : ms
}

export function reconcileNode(
  node: V1Node | undefined,
  lease: V1Lease | undefined,
  pods: V1Pod[],
  now: Date,
  opts: NodeLifecycleOptions,
): NodeReconcileResult {
  if (!node?.metadata?.name) return { actions: [] }
  const name = node.metadata.name
  const actions: Action[] = []
  const requeue: number[] = []
  const nowMs = now.getTime()
  const graceMs = opts.gracePeriodSeconds * 1000

  // 1. Heartbeat: when this controller last saw the Lease or the Ready condition's heartbeat change.
  const conditions = (node.status?.conditions ?? []) as unknown as ConditionJson[]
  const ready = conditions.find((c) => c.type === 'Ready')
  const lastBeat = opts.lastHeardMs
  const stale = nowMs - lastBeat > graceMs
  if (!stale) requeue.push(lastBeat + graceMs - nowMs + 1)

  const effective = new Map(conditions.map((c) => [c.type, c]))
  if (stale) {
    const changed: ConditionJson[] = []
    for (const type of watchedConditions) {
      const current = effective.get(type)
      let next: ConditionJson | undefined
      if (!current) {
        next = { type, status: 'Unknown', reason: 'NodeStatusNeverUpdated', message: 'Kubelet never posted node status.', lastHeartbeatTime: timestamp(new Date(lastBeat)), lastTransitionTime: timestamp(now) }
      } else if (current.status !== 'Unknown') {
        next = { ...current, status: 'Unknown', reason: 'NodeStatusUnknown', message: 'Kubelet stopped posting node status.', lastTransitionTime: timestamp(now) }
      }
      if (next) {
        changed.push(next)
        effective.set(type, next)
      }
    }
    if (changed.length) {
      actions.push({ verb: 'patch', info: nodeInfo, namespace: undefined, name, type: 'strategic', subresource: 'status', patch: { status: { conditions: changed } } })
      if (ready?.status === 'True') {
        actions.push({ verb: 'event', event: { involved: node, type: 'Normal', reason: 'NodeNotReady', message: `Node ${name} status is now: NodeNotReady` } })
      }
    }
  }

  // 2. Taints follow the (updated) conditions; taints nobody here manages are kept as they are.
  const readyStatus = effective.get('Ready')?.status ?? 'Unknown'
  const wanted: { key: string; effect: 'NoSchedule' | 'NoExecute' }[] = []
  const readyKey = readyStatus === 'False' ? TAINT_NOT_READY : readyStatus === 'Unknown' ? TAINT_UNREACHABLE : undefined
  const currentTaints = (node.spec?.taints ?? []) as TaintJson[]
  if (readyKey) {
    // Evicting taints: none while every zone is down; a new one only as the zone's rate allows
    // (swapping not-ready for unreachable is no new eviction).
    const evicting = currentTaints.some((t) => t.effect === 'NoExecute' && managedNoExecute.includes(t.key))
    if (!opts.allDisrupted) {
      const gate = evicting ? { ok: true, retryMs: 0 } : (opts.mayTaintNoExecute?.() ?? { ok: true, retryMs: 0 })
      if (gate.ok) wanted.push({ key: readyKey, effect: 'NoExecute' })
      else requeue.push(gate.retryMs)
    }
    wanted.push({ key: readyKey, effect: 'NoSchedule' })
  }
  const pressure: [string, string][] = [['MemoryPressure', TAINT_MEMORY_PRESSURE], ['DiskPressure', TAINT_DISK_PRESSURE], ['PIDPressure', TAINT_PID_PRESSURE], ['NetworkUnavailable', TAINT_NETWORK_UNAVAILABLE]]
  for (const [type, key] of pressure) if (effective.get(type)?.status === 'True') wanted.push({ key, effect: 'NoSchedule' })
  if (node.spec?.unschedulable) wanted.push({ key: TAINT_UNSCHEDULABLE, effect: 'NoSchedule' })

  const isManaged = (t: TaintJson): boolean =>
    (t.effect === 'NoSchedule' && managedNoSchedule.includes(t.key)) || (t.effect === 'NoExecute' && managedNoExecute.includes(t.key))
  const nextTaints: TaintJson[] = currentTaints.filter((t) => !isManaged(t) || wanted.some((w) => sameTaint(w, t as V1Taint)))
  for (const w of wanted) {
    if (!nextTaints.some((t) => sameTaint(t as V1Taint, w))) nextTaints.push({ key: w.key, effect: w.effect, timeAdded: timestamp(now) })
  }
  const taintsChanged = nextTaints.length !== currentTaints.length || nextTaints.some((t, i) => t !== currentTaints[i])
  if (taintsChanged) {
    // Taints are an atomic list: replace it whole, guarded by the resourceVersion read.
    // This goes before the status patch, which would move the resourceVersion on.
    actions.unshift({
      verb: 'patch', info: nodeInfo, namespace: undefined, name, type: 'merge',
      patch: { metadata: { resourceVersion: node.metadata.resourceVersion }, spec: { taints: nextTaints.length ? nextTaints : null } },
    })
  }

  // 3. Pods on a node that is not Ready turn not-ready at once (upstream MarkPodsNotReady).
  const onNode = pods.filter((p) => p.spec?.nodeName === name && p.metadata?.name)
  if (readyStatus !== 'True') {
    for (const pod of onNode) {
      const podReady = pod.status?.conditions?.find((c) => c.type === 'Ready')
      if (!podReady || podReady.status === 'False') continue
      actions.push({
        verb: 'patch', info: podInfo, namespace: pod.metadata!.namespace, name: pod.metadata!.name!, type: 'strategic', subresource: 'status',
        patch: { status: { conditions: [{ type: 'Ready', status: 'False', lastTransitionTime: timestamp(now) }] } },
      })
      actions.push({ verb: 'event', event: { involved: pod, type: 'Warning', reason: 'NodeNotReady', message: 'Node is not ready' } })
    }
  }

  // 4. NoExecute taints evict pods that do not tolerate them, or once their tolerationSeconds ran out.
  const noExecute = nextTaints.filter((t) => t.effect === 'NoExecute')
  if (noExecute.length) {
    for (const pod of onNode) {
      if (pod.metadata?.deletionTimestamp) continue
      const due = evictionTime(pod, noExecute, nowMs)
      if (due === undefined) continue
      if (due > nowMs) {
        requeue.push(due - nowMs)
        continue
      }
      const ns = pod.metadata!.namespace ?? 'default'
      const podName = pod.metadata!.name!
      actions.push({ verb: 'event', event: { involved: pod, type: 'Normal', reason: 'TaintManagerEviction', message: `Marking for deletion Pod ${ns}/${podName}` } })
      actions.push({
        verb: 'patch', info: podInfo, namespace: ns, name: podName, type: 'strategic', subresource: 'status',
        patch: { status: { conditions: [{ type: 'DisruptionTarget', status: 'True', reason: 'DeletionByTaintManager', message: 'Taint manager: deleting due to NoExecute taint', lastTransitionTime: timestamp(now) }] } },
      })
      actions.push({ verb: 'delete', info: podInfo, namespace: ns, name: podName, uid: pod.metadata!.uid })
    }
  }

  return requeue.length ? { actions, requeueAfterMs: Math.min(...requeue) } : { actions }
}

/**
 * When a pod must go because of the node's NoExecute taints: now if a taint is not
 * tolerated, else the earliest taint's timeAdded plus the tolerationSeconds of the first
 * toleration matching it; undefined when every taint is tolerated forever.
 */
export function evictionTime(pod: V1Pod, noExecute: TaintJson[], nowMs: number): number | undefined {
  const tolerations = pod.spec?.tolerations ?? []
  let due: number | undefined
  for (const taint of noExecute) {
    const toleration = tolerations.find((t) => toleratesTaint(t, taint as V1Taint))
    if (!toleration) return nowMs
    if (toleration.tolerationSeconds === undefined || toleration.tolerationSeconds === null) continue
    const added = millis(taint.timeAdded) ?? nowMs
    const at = added + Math.max(0, toleration.tolerationSeconds) * 1000
    due = due === undefined ? at : Math.min(due, at)
  }
  return due
}
