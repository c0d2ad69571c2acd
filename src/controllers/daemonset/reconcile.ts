// The DaemonSet controller's pure reconcile (pkg/controller/daemon syncDaemonSet): one pod
// per eligible node, history in ControllerRevisions (history.ts), rolling updates within
// maxUnavailable or, with maxSurge, new pods started beside the old ones (rolling-update.ts),
// status.
//
// Differences from upstream, by design of a pure function:
// - No expectations: the runner must not reconcile a key again until its informer has seen
//   the pods this reconcile created/deleted. As upstream (whose expectations are unmet
//   right after manage acts), the rolling update only runs when manage asked for nothing.
// - No backoff for deleting failed pods; the runner rate-limits the key.
// - Nodes being deleted are left out entirely.
import type { V1ControllerRevision, V1DaemonSet, V1DaemonSetStatus, V1Node, V1Pod } from '@kubernetes/client-node'
import { resources } from '../../api/registry.ts'
import { isEverything, labelSelectorFromObject, type LabelSelector } from '../../api/selectors.ts'
import type { Action, KubeObject } from '../actions.ts'
import { claim, claimPatches, type OwnerInfo } from '../replicaset/owner-refs.ts'
import { isPodAvailable, isPodReady, toMillis } from '../replicaset/pod-state.ts'
import { daemonSetOwner, isPodUpdated, newDaemonPod, nodeShouldRunDaemonPod, revisionHashLabel, targetNodeName, templateGeneration, type NodeFit } from './daemon-pod.ts'
import { constructHistory, historyToDelete } from './history.ts'
import { allowsSurge, rollingUpdate } from './rolling-update.ts'

export const burstReplicas = 250

const podInfo = resources.find((r) => r.kind === 'Pod')!
const dsInfo = resources.find((r) => r.kind === 'DaemonSet')!
const revisionInfo = resources.find((r) => r.kind === 'ControllerRevision')!

/** The ControllerRevisions a DaemonSet may claim (those it controls and those its selector matches), and any of its namespace by name. */
export interface RevisionView {
  revisions: V1ControllerRevision[]
  named: (name: string) => V1ControllerRevision | undefined
}

export function involvedDaemonSet(ds: V1DaemonSet): KubeObject {
  const m = ds.metadata ?? {}
  return { apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name: m.name, namespace: m.namespace, uid: m.uid, resourceVersion: m.resourceVersion } }
}

/** Bound pods first, then oldest, then by name (podByCreationTimestampAndPhase). */
export function compareDaemonPods(a: V1Pod, b: V1Pod): number {
  const ab = a.spec?.nodeName ? 0 : 1
  const bb = b.spec?.nodeName ? 0 : 1
  if (ab !== bb) return ab - bb
  const at = toMillis(a.metadata?.creationTimestamp as Date | string | undefined) ?? 0
  const bt = toMillis(b.metadata?.creationTimestamp as Date | string | undefined) ?? 0
  if (at !== bt) return at - bt
  const an = a.metadata?.name ?? ''
  const bn = b.metadata?.name ?? ''
  return an < bn ? -1 : an > bn ? 1 : 0
}

const isTerminal = (p: V1Pod): boolean => p.status?.phase === 'Failed' || p.status?.phase === 'Succeeded'

/** Owned pods by target node, leaving out terminal pods already being deleted (getNodesToDaemonPods). */
function podsByNode(owned: V1Pod[]): Map<string, V1Pod[]> {
  const out = new Map<string, V1Pod[]>()
  for (const p of owned) {
    if (isTerminal(p) && p.metadata?.deletionTimestamp) continue
    const node = targetNodeName(p)
    if (node === undefined) continue
    const list = out.get(node)
    if (list) list.push(p)
    else out.set(node, [p])
  }
  return out
}

interface Plan {
  createOn: string[]
  remove: V1Pod[]
  events: Action[]
}

function manage(ds: V1DaemonSet, nodes: V1Node[], fits: Map<string, NodeFit>, byNode: Map<string, V1Pod[]>, hash: string, involved: KubeObject, now: Date): Plan {
  const plan: Plan = { createOn: [], remove: [], events: [] }
  const surge = allowsSurge(ds)
  for (const node of nodes) {
    const name = node.metadata?.name ?? ''
    const fit = fits.get(name)!
    const pods = byNode.get(name)
    if (fit.shouldRun && !pods) {
      plan.createOn.push(name)
    } else if (fit.shouldContinueRunning) {
      const running: V1Pod[] = []
      for (const p of pods ?? []) {
        if (p.metadata?.deletionTimestamp) continue
        const phase = p.status?.phase
        if (phase === 'Failed' || phase === 'Succeeded') {
          const failed = phase === 'Failed'
          const message = `Found ${failed ? 'failed' : 'succeeded'} daemon pod ${p.metadata?.namespace}/${p.metadata?.name} on node ${name}, will try to ${failed ? 'kill' : 'delete'} it`
          plan.events.push({ verb: 'event', event: { involved, type: failed ? 'Warning' : 'Normal', reason: failed ? 'FailedDaemonPod' : 'SucceededDaemonPod', message } })
          plan.remove.push(p)
        } else {
          running.push(p)
        }
      }
      if (!surge) {
        if (running.length > 1) plan.remove.push(...running.sort(compareDaemonPods).slice(1))
      } else if (running.length === 0) {
        if (fit.shouldRun) plan.createOn.push(name)
      } else if (running.length > 1) {
        plan.remove.push(...surgePrune(ds, running, hash, now))
      }
    } else if (pods) {
      plan.remove.push(...pods.filter((p) => !p.metadata?.deletionTimestamp))
    }
  }
  // Unbound pods pinned to nodes that no longer exist would never be scheduled (getUnscheduledPodsWithoutNode).
  const known = new Set(nodes.map((n) => n.metadata?.name ?? ''))
  for (const [node, pods] of [...byNode].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (known.has(node)) continue
    plan.remove.push(...pods.filter((p) => !p.spec?.nodeName && !p.metadata?.deletionTimestamp))
  }
  return plan
}

/**
 * Surging, a node keeps its oldest new pod and its oldest old pod, and the old one only while
 * it is Ready and the new one not yet available; every other running pod goes.
 */
function surgePrune(ds: V1DaemonSet, running: V1Pod[], hash: string, now: Date): V1Pod[] {
  const remove: V1Pod[] = []
  let oldestNew: V1Pod | undefined
  let oldestOld: V1Pod | undefined
  for (const p of [...running].sort(compareDaemonPods)) {
    if (p.metadata?.labels?.[revisionHashLabel] === hash) {
      if (!oldestNew) {
        oldestNew = p
        continue
      }
    } else if (!oldestOld) {
      oldestOld = p
      continue
    }
    remove.push(p)
  }
  if (oldestNew && oldestOld && (!isPodReady(oldestOld) || isPodAvailable(oldestNew, ds.spec?.minReadySeconds ?? 0, now))) remove.push(oldestOld)
  return remove
}

/** The status for the pods as they are now (updateDaemonSetStatus). */
export function daemonSetStatus(ds: V1DaemonSet, nodes: V1Node[], fits: Map<string, NodeFit>, byNode: Map<string, V1Pod[]>, hash: string, now: Date): V1DaemonSetStatus {
  const minReady = ds.spec?.minReadySeconds ?? 0
  const generation = templateGeneration(ds)
  let desired = 0
  let current = 0
  let misscheduled = 0
  let ready = 0
  let available = 0
  let updated = 0
  for (const node of nodes) {
    const name = node.metadata?.name ?? ''
    const pods = byNode.get(name) ?? []
    if (!fits.get(name)!.shouldRun) {
      if (pods.length > 0) misscheduled++
      continue
    }
    desired++
    if (pods.length === 0) continue
    current++
    const pod = [...pods].sort(compareDaemonPods)[0]
    if (isPodReady(pod)) {
      ready++
      if (isPodAvailable(pod, minReady, now)) available++
    }
    if (isPodUpdated(pod, hash, generation)) updated++
  }
  const status: V1DaemonSetStatus = {
    ...structuredClone(ds.status ?? { currentNumberScheduled: 0, desiredNumberScheduled: 0, numberMisscheduled: 0, numberReady: 0 }),
    desiredNumberScheduled: desired,
    currentNumberScheduled: current,
    numberMisscheduled: misscheduled,
    numberReady: ready,
    numberAvailable: available,
    numberUnavailable: desired - available,
    updatedNumberScheduled: updated,
  }
  if (ds.metadata?.generation !== undefined) status.observedGeneration = ds.metadata.generation
  return status
}

const statusFields = ['desiredNumberScheduled', 'currentNumberScheduled', 'numberMisscheduled', 'numberReady', 'numberAvailable', 'numberUnavailable', 'updatedNumberScheduled', 'observedGeneration'] as const

function statusChanged(a: V1DaemonSetStatus | undefined, b: V1DaemonSetStatus): boolean {
  return statusFields.some((k) => (a?.[k] ?? 0) !== (b[k] ?? 0))
}

function selectorOf(ds: V1DaemonSet): LabelSelector | undefined {
  try {
    return labelSelectorFromObject(ds.spec?.selector)
  } catch {
    return undefined
  }
}


export function reconcileDaemonSet(ds: V1DaemonSet | undefined, nodes: V1Node[], pods: V1Pod[], now: Date, history: RevisionView): Action[] {
  if (!ds || ds.metadata?.deletionTimestamp) return []
  const involved = involvedDaemonSet(ds)
  const selector = selectorOf(ds)
  if (!selector) {
    return [{ verb: 'event', event: { involved, type: 'Warning', reason: 'SelectorParsingFailed', message: 'invalid spec.selector' } }]
  }
  if (isEverything(selector)) {
    return [{ verb: 'event', event: { involved, type: 'Warning', reason: 'SelectingAll', message: 'This daemon set is selecting all pods. A non-empty selector is required.' } }]
  }
  const owner = daemonSetOwner(ds)
  const ns = ds.metadata?.namespace
  const inNamespace = <T extends { metadata?: { namespace?: string } }>(o: T) => ns === undefined || o.metadata?.namespace === ns
  const claimed = claim(owner, selector, pods.filter(inNamespace))
  const revisions = claim(owner, selector, history.revisions.filter(inNamespace))
  const actions = [...claimPatches(podInfo, owner, claimed), ...claimPatches(revisionInfo, owner, revisions)]

  const constructed = constructHistory(ds, revisions.owned, history.named, claimed.owned)
  actions.push(...constructed.actions)
  if (constructed.wait) return actions
  const hash = constructed.hash

  const live = nodes.filter((n) => !n.metadata?.deletionTimestamp)
  const fits = new Map(live.map((n) => [n.metadata?.name ?? '', nodeShouldRunDaemonPod(n, ds)]))
  const byNode = podsByNode(claimed.owned)

  const plan = manage(ds, live, fits, byNode, hash, involved, now)
  let remove = plan.remove
  let createOn = plan.createOn
  if (createOn.length === 0 && remove.length === 0 && (ds.spec?.updateStrategy?.type ?? 'RollingUpdate') === 'RollingUpdate') {
    ;({ remove, createOn } = rollingUpdate(ds, live, fits, byNode, hash, now))
  }
  actions.push(...plan.events)
  for (const node of createOn.slice(0, burstReplicas)) {
    actions.push({
      verb: 'create',
      info: podInfo,
      object: newDaemonPod(ds, node, hash),
      event: { involved, type: 'Normal', reason: 'SuccessfulCreate', message: 'Created pod: {name}' },
    })
  }
  for (const p of remove.slice(0, burstReplicas)) {
    const name = p.metadata?.name ?? ''
    actions.push({ verb: 'delete', info: podInfo, namespace: p.metadata?.namespace, name, uid: p.metadata?.uid })
    actions.push({ verb: 'event', event: { involved, type: 'Normal', reason: 'SuccessfulDelete', message: `Deleted pod: ${name}` } })
  }
  actions.push(...historyToDelete(ds, constructed.old, claimed.owned))

  const status = daemonSetStatus(ds, live, fits, byNode, hash, now)
  if (statusChanged(ds.status, status)) {
    const object = structuredClone(ds) as KubeObject
    object.apiVersion = 'apps/v1'
    object.kind = 'DaemonSet'
    object.status = status
    actions.push({ verb: 'updateStatus', info: dsInfo, object })
  }
  return actions
}
