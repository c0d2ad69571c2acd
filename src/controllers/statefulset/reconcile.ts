// The StatefulSet controller's pure reconcile (pkg/controller/statefulset: sync,
// UpdateStatefulSet, updateStatefulSet, processReplica, processCondemned,
// updateStatefulSetAfterInvariantEstablished, truncateHistory).
//
// Pods are `<set>-<ordinal>` for ordinals start … start+replicas-1. OrderedReady makes one
// change per pass: it creates the lowest missing pod and waits for it to be Running, Ready
// and available before the next, and removes pods above the range highest first, each once
// every lower pod is healthy. Parallel creates and removes all at once. A RollingUpdate
// replaces pods from the highest ordinal down to `partition`, at most maxUnavailable at a
// time (MaxUnavailableStatefulSet on, with upstream's two passes for Parallel); OnDelete
// leaves old pods until someone deletes them. A pod made anew gets the current revision
// below the partition and the update revision from it up.
//
// Differences from upstream, by design of a pure function:
// - The runner's expectations stand in for upstream's: it does not reconcile a set again
//   until its informer has seen the pods this pass created or deleted.
// - A set being deleted gets no actions at all (upstream still writes its status); its pods
//   go with it through the garbage collector.
// - Claims are created and their owner references kept only when `claims` is given (see
//   volume-claims.ts: weft does not serve PersistentVolumeClaims yet).
// - A failed write records no Failed* Event (the runner logs it and retries with backoff).
import type { V1ControllerRevision, V1Pod, V1PodTemplateSpec, V1StatefulSet, V1StatefulSetStatus } from '@kubernetes/client-node'
import { resources } from '../../api/registry.ts'
import { isEverything, labelSelectorFromObject, type LabelSelector } from '../../api/selectors.ts'
import type { Action, KubeObject } from '../actions.ts'
import { scaledValue } from '../deployment/rollout-math.ts'
import { revisionsToTruncate, sortRevisions } from '../history/revisions.ts'
import { claim, claimPatches, type OwnerInfo } from '../replicaset/owner-refs.ts'
import { identityMatches, isMemberOf, newStatefulSetPod, ordinalOf, replicasOf, revisionOf, startOrdinal, statefulSetOwner, withIdentity } from './pod-identity.ts'
import { revisionTemplate, statefulSetRevisions } from './set-revisions.ts'
import {
  availableAt,
  completeRollingUpdate,
  countPods,
  isCreated,
  isFailed,
  isHealthy,
  isPending,
  isRunningAndAvailable,
  isRunningAndReady,
  isSucceeded,
  isTerminating,
  statusDiffers,
  type Revisions,
} from './set-status.ts'
import { missingClaims, podClaimIsStale, retentionUpdates, storageMatches, withClaimVolumes, type ClaimView } from './volume-claims.ts'

const podInfo = resources.find((r) => r.kind === 'Pod')!
const setInfo = resources.find((r) => r.kind === 'StatefulSet')!
const revisionInfo = resources.find((r) => r.kind === 'ControllerRevision')!

export interface StatefulSetInput {
  set: V1StatefulSet | undefined
  /** The pods it may claim: those it controls and those its selector matches. */
  pods: V1Pod[]
  /** The ControllerRevisions it may claim, likewise. */
  revisions: V1ControllerRevision[]
  /** Any ControllerRevision of the set's namespace by name: revision names collide across owners. */
  revisionNamed: (name: string) => V1ControllerRevision | undefined
  /** PersistentVolumeClaims, once the kind is served; without them no claim is created or updated. */
  claims?: ClaimView
  now: Date
}

export interface StatefulSetResult {
  actions: Action[]
  /** Reconcile again then: a Ready pod turns available (minReadySeconds). */
  recheck?: Date
}

export function involvedStatefulSet(set: V1StatefulSet): KubeObject {
  const m = set.metadata ?? {}
  return { apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name: m.name, namespace: m.namespace, uid: m.uid, resourceVersion: m.resourceVersion } }
}

function selectorOf(set: V1StatefulSet): LabelSelector | undefined {
  try {
    const s = labelSelectorFromObject(set.spec?.selector)
    return isEverything(s) ? undefined : s
  } catch {
    return undefined
  }
}


export function reconcileStatefulSet(input: StatefulSetInput): StatefulSetResult {
  const { set, now } = input
  if (!set || set.metadata?.deletionTimestamp) return { actions: [] }
  const involved = involvedStatefulSet(set)
  const selector = selectorOf(set)
  if (!selector) return { actions: [{ verb: 'event', event: { involved, type: 'Warning', reason: 'SelectorParsingFailed', message: 'invalid spec.selector' } }] }
  const ns = set.metadata?.namespace
  const owner = statefulSetOwner(set)
  const inNamespace = <T extends { metadata?: { namespace?: string } }>(o: T) => o.metadata?.namespace === ns
  const pods = claim(owner, selector, input.pods.filter(inNamespace), (p) => isMemberOf(set, p))
  const history = claim(owner, selector, input.revisions.filter(inNamespace))
  const actions = [...claimPatches(podInfo, owner, pods), ...claimPatches(revisionInfo, owner, history)]

  const sorted = sortRevisions(history.owned)
  const revisions = statefulSetRevisions(set, sorted, input.revisionNamed)
  actions.push(...revisions.actions)
  const currentTemplate = revisionTemplate(revisions.current)
  const updateTemplate = revisionTemplate(revisions.update)
  if (!currentTemplate || !updateTemplate) {
    const bad = currentTemplate ? revisions.update : revisions.current
    const message = `ControllerRevision ${bad.metadata?.name} holds no pod template (data.spec.template)`
    return { actions: [...actions, { verb: 'event', event: { involved, type: 'Warning', reason: 'FailedApplyRevision', message } }] }
  }

  const names: Revisions = { current: revisions.current.metadata?.name ?? '', update: revisions.update.metadata?.name ?? '' }
  const plan = new PodPlan(set, names, { current: currentTemplate, update: updateTemplate }, input.claims, involved, now)
  const counts = plan.run(pods.owned)
  actions.push(...plan.actions)

  const status: V1StatefulSetStatus = completeRollingUpdate(set, {
    observedGeneration: set.metadata?.generation,
    ...counts,
    currentRevision: names.current,
    updateRevision: names.update,
    collisionCount: revisions.collisionCount,
  })
  if (statusDiffers(set, status)) {
    actions.push({ verb: 'updateStatus', info: setInfo, object: { ...structuredClone(set), apiVersion: 'apps/v1', kind: 'StatefulSet', status } as KubeObject })
  }

  const live = new Set([names.current, names.update, ...pods.owned.map(revisionOf)])
  for (const r of revisionsToTruncate(sorted, live, set.spec?.revisionHistoryLimit ?? 10)) {
    actions.push({ verb: 'delete', info: revisionInfo, namespace: r.metadata?.namespace, name: r.metadata?.name ?? '', uid: r.metadata?.uid })
  }
  return { actions, recheck: availableAt(set, pods.owned, now) }
}

/** getStatefulSetMaxUnavailable: the int or a percentage of replicas rounded down, at least 1. */
export function maxUnavailableOf(set: V1StatefulSet): number {
  const ru = set.spec?.updateStrategy?.rollingUpdate
  if (!ru) return 1
  return Math.max(1, scaledValue(ru.maxUnavailable ?? 1, replicasOf(set), false))
}

/** One pass of updateStatefulSet over the set's pods, recording the actions it takes. */
class PodPlan {
  readonly actions: Action[] = []
  private readonly set: V1StatefulSet
  private readonly revisions: Revisions
  private readonly templates: { current: V1PodTemplateSpec; update: V1PodTemplateSpec }
  private readonly claims: ClaimView | undefined
  private readonly involved: KubeObject
  private readonly now: Date
  private readonly monotonic: boolean
  private readonly minReady: number

  constructor(set: V1StatefulSet, revisions: Revisions, templates: { current: V1PodTemplateSpec; update: V1PodTemplateSpec }, claims: ClaimView | undefined, involved: KubeObject, now: Date) {
    this.set = set
    this.revisions = revisions
    this.templates = templates
    this.claims = claims
    this.involved = involved
    this.now = now
    this.monotonic = set.spec?.podManagementPolicy !== 'Parallel'
    this.minReady = set.spec?.minReadySeconds ?? 0
  }

  /** Runs the pass; returns the counts for status (current replicas net of the pods it replaced). */
  run(owned: V1Pod[]): ReturnType<typeof countPods> {
    const set = this.set
    const start = startOrdinal(set)
    const replicas: V1Pod[] = new Array(replicasOf(set))
    const condemned: V1Pod[] = []
    for (const p of owned) {
      const ordinal = ordinalOf(p)
      if (ordinal >= start && ordinal < start + replicas.length) replicas[ordinal - start] = p
      else if (ordinal >= 0) condemned.push(p)
    }
    for (let i = 0; i < replicas.length; i++) replicas[i] ??= this.planned(start + i)
    condemned.sort((a, b) => ordinalOf(b) - ordinalOf(a))
    const firstUnhealthy = replicas.find((p) => !isHealthy(p)) ?? [...condemned].reverse().find((p) => !isHealthy(p))
    const counts = () => countPods(set, [...replicas, ...condemned], this.revisions, this.now)

    if (this.runForAll(replicas, (p, i) => this.processReplica(replicas, i))) return counts()
    if (this.claims && this.runForAll(condemned, (p) => this.fixClaims(p))) return counts()
    if (this.runForAll(condemned, (p) => this.processCondemned(p, firstUnhealthy))) return counts()
    const result = counts()
    if (set.spec?.updateStrategy?.type === 'OnDelete') return result
    result.currentReplicas = (result.currentReplicas ?? 0) - this.rollingUpdate(replicas)
    return result
  }

  /** runForAll: OrderedReady stops at the first pod that blocks; Parallel visits them all. */
  private runForAll(pods: V1Pod[], fn: (p: V1Pod, i: number) => boolean): boolean {
    for (let i = 0; i < pods.length; i++) if (fn(pods[i], i) && this.monotonic) return true
    return false
  }

  /** newVersionedStatefulSetPod: below the partition (or below the current count without one) at the current revision. */
  private planned(ordinal: number): V1Pod {
    const set = this.set
    const strategy = set.spec?.updateStrategy
    const ru = strategy?.rollingUpdate
    const start = startOrdinal(set)
    const atCurrent =
      (strategy?.type === 'RollingUpdate' && !ru && ordinal < start + (set.status?.currentReplicas ?? 0)) || (ru !== undefined && ordinal < start + (ru.partition ?? 0))
    return atCurrent
      ? (newStatefulSetPod(set, this.templates.current, ordinal, this.revisions.current) as V1Pod)
      : (newStatefulSetPod(set, this.templates.update, ordinal, this.revisions.update) as V1Pod)
  }

  private event(reason: string, message: string, type: 'Normal' | 'Warning' = 'Normal'): Action {
    return { verb: 'event', event: { involved: this.involved, type, reason, message } }
  }

  private deletePod(pod: V1Pod): void {
    const name = pod.metadata?.name ?? ''
    this.actions.push({ verb: 'delete', info: podInfo, namespace: pod.metadata?.namespace, name, uid: pod.metadata?.uid })
    this.actions.push(this.event('SuccessfulDelete', `delete Pod ${name} in StatefulSet ${this.set.metadata?.name} successful`))
  }

  /** Claims missing for `pod`; false (with a Warning) when one of them is still being deleted. */
  private ensureClaims(pod: V1Pod): boolean {
    if (!this.claims) return true
    const { actions, blocked } = missingClaims(this.set, pod, this.claims, this.involved)
    this.actions.push(...actions)
    if (blocked) this.actions.push(this.event('FailedCreate', `create Pod ${pod.metadata?.name} in StatefulSet ${this.set.metadata?.name} failed error: ${blocked}`, 'Warning'))
    return blocked === undefined
  }

  /** processReplica: true when the pass must stop here (OrderedReady). */
  private processReplica(replicas: V1Pod[], i: number): boolean {
    const pod = replicas[i]
    const set = this.set
    if (isFailed(pod) || isSucceeded(pod)) {
      if (!isTerminating(pod)) this.deletePod(pod)
      return true
    }
    if (!isCreated(pod)) {
      if (this.claims && podClaimIsStale(set, pod, (n) => this.claims!.get(n))) return true
      if (!this.ensureClaims(pod)) return true
      const name = pod.metadata?.name ?? ''
      this.actions.push({ verb: 'create', info: podInfo, object: pod as KubeObject, event: { involved: this.involved, type: 'Normal', reason: 'SuccessfulCreate', message: `create Pod ${name} in StatefulSet ${set.metadata?.name} successful` } })
      if (this.monotonic) return true
    }
    if (isPending(pod) && !this.ensureClaims(pod)) return true
    if (this.monotonic && (isTerminating(pod) || !isRunningAndReady(pod) || !isRunningAndAvailable(pod, this.minReady, this.now))) return true
    const retention = this.claims && isCreated(pod) ? retentionUpdates(set, pod, this.claims) : []
    const identity = identityMatches(set, pod)
    const storage = storageMatches(set, pod)
    if (identity && storage && retention.length === 0) return false
    // UpdateStatefulPod: a pod whose identity or claim volumes are off is brought in line.
    let fixed = identity ? pod : withIdentity(pod)
    if (!storage) {
      fixed = withClaimVolumes(set, fixed)
      if (!this.ensureClaims(fixed)) return true
    }
    this.actions.push(...retention)
    if (fixed !== pod) {
      this.actions.push({ verb: 'update', info: podInfo, object: { ...fixed, apiVersion: 'v1', kind: 'Pod' } as KubeObject })
      this.actions.push(this.event('SuccessfulUpdate', `update Pod ${pod.metadata?.name} in StatefulSet ${set.metadata?.name} successful`))
    }
    return false
  }

  /** fixPodClaim: a condemned pod's claims get the owners the retention policy wants (whenScaled). */
  private fixClaims(pod: V1Pod): boolean {
    this.actions.push(...retentionUpdates(this.set, pod, this.claims!))
    return false
  }

  /** processCondemned: OrderedReady removes the highest first, and only while all below are healthy. */
  private processCondemned(pod: V1Pod, firstUnhealthy: V1Pod | undefined): boolean {
    if (isTerminating(pod)) return this.monotonic
    if (this.monotonic && pod !== firstUnhealthy && (!isRunningAndReady(pod) || !isRunningAndAvailable(pod, this.minReady, this.now))) return true
    this.deletePod(pod)
    return true
  }

  private unavailable(pod: V1Pod): boolean {
    return !isHealthy(pod) || !isRunningAndAvailable(pod, this.minReady, this.now)
  }

  /**
   * updateStatefulSetAfterInvariantEstablished: deletes old pods from the top down to the
   * partition; returns how many of them were counted as current (upstream subtracts every
   * deleted pod, which can take the count below zero when a pod is at neither revision).
   */
  private rollingUpdate(replicas: V1Pod[]): number {
    const ru = this.set.spec?.updateStrategy?.rollingUpdate
    const updateMin = ru?.partition ?? 0
    const maxUnavailable = maxUnavailableOf(this.set)
    const old = (p: V1Pod) => revisionOf(p) !== this.revisions.update && !isTerminating(p)
    const unavailable = replicas.filter((p) => this.unavailable(p)).length
    if (this.monotonic) {
      let budget = maxUnavailable - unavailable
      let currentGone = 0
      for (let i = replicas.length - 1; i >= updateMin && budget > 0; i--) {
        if (!old(replicas[i]) || !isCreated(replicas[i])) continue
        this.deletePod(replicas[i])
        budget--
        if (revisionOf(replicas[i]) === this.revisions.current) currentGone++
      }
      return currentGone
    }
    // Parallel: old pods already unavailable are replaced whatever the budget, so that the
    // budget is not spent on good pods while broken ones wait; then available ones within it.
    let currentGone = 0
    for (let i = replicas.length - 1; i >= updateMin; i--) {
      const p = replicas[i]
      if (old(p) && isCreated(p) && !isRunningAndAvailable(p, this.minReady, this.now)) {
        this.deletePod(p)
        if (revisionOf(p) === this.revisions.current) currentGone++
      }
    }
    let budget = maxUnavailable - unavailable
    for (let i = replicas.length - 1; i >= updateMin && budget > 0; i--) {
      const p = replicas[i]
      if (old(p) && isCreated(p) && isRunningAndAvailable(p, this.minReady, this.now)) {
        this.deletePod(p)
        budget--
        if (revisionOf(p) === this.revisions.current) currentGone++
      }
    }
    return currentGone
  }
}
