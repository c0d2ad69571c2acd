// The Job controller's pure reconcile (pkg/controller/job syncJob): from a Job and the pods
// it may claim, the pods to create or delete, the finalizers to take off, and the status.
//
// Pods carry the batch.kubernetes.io/job-tracking finalizer from creation until the status
// has counted them, so a finished pod cannot vanish (pod GC, a user) before it is counted.
// One reconcile writes the status at most once, before anything else it does: finished pods
// first enter status.uncountedTerminatedPods (Indexed: status.completedIndexes), then lose
// their finalizer; a later reconcile sees them without it and moves them to the counters. A
// status write is a compare-and-swap on the Job, so a reconcile from a stale cache fails
// there and acts on nothing. Complete and Failed come last, once no pod is uncounted or
// terminating, after the interim SuccessCriteriaMet or FailureTarget condition.
//
// As upstream with JobManagedBy and JobPodReplacementPolicy on (their defaults): terminating
// pods are counted in status.terminating and delay the terminal condition. The runner's
// expectations keep this from running while its own pod creates and deletes are unseen.
import type { V1Job, V1Pod } from '@kubernetes/client-node'
import { resources } from '../../api/registry.ts'
import { labelSelectorFromObject, type LabelSelector } from '../../api/selectors.ts'
import type { Action } from '../actions.ts'
import { podInfo } from '../apply-actions.ts'
import { plainJson, sameJson } from '../same-json.ts'
import { claim } from '../replicaset/owner-refs.ts'
import { isPodActive, isPodReady } from '../replicaset/pod-state.ts'
import { failuresSinceSuccess, remainingBackoffMs, remainingIndexBackoffMs, replacementFailureCounts } from './backoff.ts'
import { conditionTrue, ensureCondition, findCondition, isJobFinished, newCondition, timestamp, type JobCondition } from './conditions.ts'
import { matchPodFailurePolicy } from './failure-policy.ts'
import { coveredBy, formatIndexes, has, parseIndexes, total, withIndexes, type Intervals } from './indexes.ts'
import { activePodsForRemoval, adoptAction, deleteAction, involvedJob, jobOwner, podFromJob, releaseAction, removeFinalizerAction } from './job-pod.ts'
import { completionIndex, finishedTime, hasTrackingFinalizer, indexAbsoluteFailureCount, indexFailureCount, isPodFailed, isTerminating, JOB_TRACKING_FINALIZER, onlyReplaceFailedPods } from './pod-status.ts'

export const MAX_POD_CREATE_DELETE_PER_SYNC = 500
/** Keeps status.uncountedTerminatedPods near 20 KB. */
export const MAX_UNCOUNTED_PODS = 500
export const JOB_CONTROLLER_NAME = 'kubernetes.io/job-controller'
/** Upstream batches pod-driven syncs by a second; a delayed retry is never sooner. */
const minRequeueMs = 1000

const jobInfo = resources.find((r) => r.kind === 'Job')!

export interface JobReconcile {
  actions: Action[]
  requeueAfterMs?: number
}

interface Sync {
  job: V1Job
  now: Date
  pods: V1Pod[]
  active: V1Pod[]
  indexed: boolean
  completions: number | undefined
  perIndex: boolean
  /** status.uncountedTerminatedPods as the reconcile found it. */
  uncounted: { succeeded: Set<string>; failed: Set<string> }
  /** The status being built: JSON, as it is written. */
  status: Record<string, any>
  conditions: JobCondition[]
  succeeded: number
  failed: number
  activeCount: number
  ready: number
  terminating: number
  prevSucceededIndexes: Intervals
  succeededIndexes: Intervals
  failedIndexes?: Intervals
  /** Per index, the failed pod whose deletion waits for its replacement (backoffLimitPerIndex). */
  delayed: Map<number, V1Pod>
  finished?: JobCondition
  podActions: Action[]
  events: Action[]
  requeueAfterMs?: number
}

const suspended = (job: V1Job): boolean => job.spec?.suspend === true

function requeue(s: Sync, ms: number): void {
  const after = Math.max(ms, minRequeueMs)
  if (s.requeueAfterMs === undefined || after < s.requeueAfterMs) s.requeueAfterMs = after
}

function event(s: Sync, type: 'Normal' | 'Warning', reason: string, message: string): void {
  s.events.push({ verb: 'event', event: { involved: involvedJob(s.job), type, reason, message } })
}

function validIndex(s: Sync, pod: V1Pod): boolean {
  const ix = completionIndex(pod)
  return ix >= 0 && ix < (s.completions ?? 0)
}

/** Tracked (finalizer on, not yet in the uncounted lists) and, for Indexed Jobs, of a valid index. */
function uncountedYet(s: Sync, pod: V1Pod, inList: Set<string>): boolean {
  if (!hasTrackingFinalizer(pod) || inList.has(pod.metadata?.uid ?? '')) return false
  return !s.indexed || validIndex(s, pod)
}

/** Restarts of OnFailure pods still running count against backoffLimit. */
function pastBackoffLimitOnFailure(job: V1Job, pods: V1Pod[]): boolean {
  if (job.spec?.template?.spec?.restartPolicy !== 'OnFailure') return false
  let restarts = 0
  for (const p of pods) {
    if (p.status?.phase !== 'Running' && p.status?.phase !== 'Pending') continue
    for (const c of [...(p.status?.initContainerStatuses ?? []), ...(p.status?.containerStatuses ?? [])]) restarts += c.restartCount ?? 0
  }
  const limit = job.spec?.backoffLimit ?? 6
  return limit === 0 ? restarts > 0 : restarts >= limit
}

function startMs(s: Sync): number | undefined {
  return s.status.startTime ? Date.parse(s.status.startTime) : undefined
}

function pastActiveDeadline(s: Sync): boolean {
  const deadline = s.job.spec?.activeDeadlineSeconds
  const start = startMs(s)
  if (deadline === undefined || deadline === null || start === undefined || suspended(s.job)) return false
  return s.now.getTime() - start >= deadline * 1000
}

/** Type FailureTarget: the pods are deleted and counted first, then Failed follows. */
function failureCondition(s: Sync, reason: string, message: string): JobCondition {
  return newCondition('FailureTarget', 'True', reason, message, s.now)
}

function decideFailure(s: Sync): void {
  const job = s.job
  const conditions = s.conditions
  const met = conditions.find((c) => c.type === 'SuccessCriteriaMet' && c.status === 'True')
  if (met) {
    s.finished = met
    return
  }
  const target = conditions.find((c) => c.type === 'FailureTarget' && c.status === 'True')
  if (target) {
    s.finished = newCondition('Failed', 'True', target.reason ?? '', target.message ?? '', s.now)
    return
  }
  if (job.spec?.podFailurePolicy) {
    for (const p of s.pods) {
      if (!isPodFailed(p, job)) continue
      const message = matchPodFailurePolicy(job.spec.podFailurePolicy, p).failJobMessage
      if (message) {
        s.finished = newCondition('FailureTarget', 'True', 'PodFailurePolicy', message, s.now)
        return
      }
    }
  }
  if (s.failed > (job.spec?.backoffLimit ?? 6) || pastBackoffLimitOnFailure(job, s.pods)) {
    s.finished = failureCondition(s, 'BackoffLimitExceeded', 'Job has reached the specified backoff limit')
  } else if (pastActiveDeadline(s)) {
    s.finished = failureCondition(s, 'DeadlineExceeded', 'Job was active longer than specified deadline')
  } else if (job.spec?.activeDeadlineSeconds !== undefined && job.spec.activeDeadlineSeconds !== null && !suspended(job)) {
    requeue(s, job.spec.activeDeadlineSeconds * 1000 - (s.now.getTime() - (startMs(s) ?? s.now.getTime())))
  }
}

function isIndexFailed(s: Sync, pod: V1Pod): boolean {
  if (!isPodFailed(pod, s.job)) return false
  let counted = true
  if (s.job.spec?.podFailurePolicy) {
    const match = matchPodFailurePolicy(s.job.spec.podFailurePolicy, pod)
    if (match.action === 'FailIndex') return true
    counted = match.counts
  }
  return counted && indexFailureCount(pod) >= (s.job.spec?.backoffLimitPerIndex ?? 0)
}

/** Per index, the last failed pod not yet replaced: its finalizer stays until the replacement carries its count. */
function delayedDeletions(s: Sync): Map<number, V1Pod> {
  const activeIndexes = new Set(s.active.map(completionIndex))
  const out = new Map<number, V1Pod>()
  for (const p of s.pods) {
    if (!hasTrackingFinalizer(p) || !validIndex(s, p) || !isPodFailed(p, s.job)) continue
    const ix = completionIndex(p)
    if (has(s.succeededIndexes, ix) || has(s.failedIndexes ?? [], ix) || activeIndexes.has(ix)) continue
    const prev = out.get(ix)
    if (!prev || (indexAbsoluteFailureCount(prev) <= indexAbsoluteFailureCount(p) && finishedTime(p) >= finishedTime(prev))) out.set(ix, p)
  }
  return out
}

function decideIndexes(s: Sync): void {
  const job = s.job
  const completions = s.completions ?? 0
  s.prevSucceededIndexes = parseIndexes(job.status?.completedIndexes, completions)
  const newlySucceeded = s.pods.filter((p) => p.status?.phase === 'Succeeded' && validIndex(s, p) && hasTrackingFinalizer(p)).map(completionIndex)
  s.succeededIndexes = withIndexes(s.prevSucceededIndexes, newlySucceeded)
  s.succeeded = total(s.succeededIndexes)
  if (s.perIndex) {
    const failedNow = s.pods.filter((p) => validIndex(s, p) && hasTrackingFinalizer(p) && isIndexFailed(s, p)).map(completionIndex)
    s.failedIndexes = withIndexes(parseIndexes(job.status?.failedIndexes ?? undefined, completions), failedNow)
    const failedCount = total(s.failedIndexes)
    if (!s.finished) {
      const maxFailed = job.spec?.maxFailedIndexes
      if (maxFailed !== undefined && maxFailed !== null && failedCount > maxFailed) {
        s.finished = failureCondition(s, 'MaxFailedIndexesExceeded', 'Job has exceeded the specified maximal number of failed indexes')
      } else if (failedCount > 0 && failedCount + total(s.succeededIndexes) >= completions) {
        s.finished = failureCondition(s, 'FailedIndexes', 'Job has failed indexes')
      }
    }
    s.delayed = delayedDeletions(s)
  }
  const rules = job.spec?.successPolicy?.rules
  if (!s.finished && rules && s.succeededIndexes.length > 0) {
    for (const [i, rule] of rules.entries()) {
      const count = rule.succeededCount ?? undefined
      let met = false
      if (rule.succeededIndexes !== undefined && rule.succeededIndexes !== null) {
        const wanted = parseIndexes(rule.succeededIndexes, completions)
        met = wanted.length > 0 && coveredBy(wanted, s.succeededIndexes, count)
      } else if (count !== undefined) {
        met = total(s.succeededIndexes) >= count
      }
      if (met) {
        s.finished = newCondition('SuccessCriteriaMet', 'True', 'SuccessPolicy', `Matched rules at index ${i}`, s.now)
        break
      }
    }
  }
}

/** Deletes pods the Job no longer wants: the finalizer goes first, so they are not counted as failures. */
function deleteUnwanted(s: Sync, pods: V1Pod[]): void {
  for (const p of pods) {
    if (hasTrackingFinalizer(p)) s.podActions.push(removeFinalizerAction(p))
    s.podActions.push(deleteAction(p))
    event(s, 'Normal', 'SuccessfulDelete', `Deleted pod: ${p.metadata?.name ?? ''}`)
    if (isPodReady(p)) s.ready--
  }
  s.activeCount -= pods.length
  s.terminating += pods.length
}

/** The first `count` indexes below `completions` with no active, succeeded or failed pod. */
function pendingIndexes(s: Sync, count: number): number[] {
  const busy = new Set(s.active.map(completionIndex))
  if (onlyReplaceFailedPods(s.job)) for (const p of s.pods) if (isTerminating(p)) busy.add(completionIndex(p))
  const out: number[] = []
  for (let ix = 0; ix < (s.completions ?? 0) && out.length < count; ix++) {
    if (!busy.has(ix) && !has(s.succeededIndexes, ix) && !has(s.failedIndexes ?? [], ix)) out.push(ix)
  }
  return out
}

function createPods(s: Sync, wanted: number): void {
  const job = s.job
  let count = Math.min(wanted, MAX_POD_CREATE_DELETE_PER_SYNC)
  if (!s.perIndex) {
    const { failures, lastFailureMs } = failuresSinceSuccess(job, s.pods)
    const wait = remainingBackoffMs(failures, lastFailureMs, s.now.getTime())
    if (wait > 0) {
      requeue(s, wait)
      return
    }
  }
  let indexes: number[] | undefined
  if (s.indexed) {
    indexes = pendingIndexes(s, count)
    if (s.perIndex) {
      const waits = indexes.map((ix) => remainingIndexBackoffMs(s.delayed.get(ix), s.now.getTime()))
      const ready = indexes.filter((_, i) => waits[i] === 0)
      if (ready.length === 0 && indexes.length > 0) {
        requeue(s, Math.min(...waits))
        return
      }
      indexes = ready
    }
    count = indexes.length
  }
  const involved = involvedJob(job)
  for (let i = 0; i < count; i++) {
    const ix = indexes?.[i]
    const object = podFromJob(job, ix === undefined ? undefined : { index: ix, failureCounts: s.perIndex ? replacementFailureCounts(job, s.delayed.get(ix)) : undefined })
    s.podActions.push({ verb: 'create', info: podInfo, object, event: { involved, type: 'Normal', reason: 'SuccessfulCreate', message: 'Created pod: {name}' } })
  }
  s.activeCount += count
}

/** upstream's manageJob: pods towards parallelism and the completions left; all of them gone while suspended. */
function manage(s: Sync): void {
  const job = s.job
  if (suspended(job)) {
    deleteUnwanted(s, activePodsForRemoval(job, s.active, s.active.length))
    return
  }
  const parallelism = job.spec?.parallelism ?? 1
  let want: number
  if (s.completions === undefined) want = s.succeeded > 0 ? s.activeCount : parallelism
  else want = Math.max(0, Math.min(s.completions - s.succeeded, parallelism))
  const surplus = activePodsForRemoval(job, s.active, Math.max(0, s.activeCount - want)).slice(0, MAX_POD_CREATE_DELETE_PER_SYNC)
  if (surplus.length > 0) {
    // One sync either deletes or creates; deleting comes first.
    deleteUnwanted(s, surplus)
    return
  }
  const terminating = onlyReplaceFailedPods(job) ? s.terminating : 0
  const missing = want - terminating - s.activeCount
  if (missing > 0) createPods(s, missing)
}

function decideSuspension(s: Sync): void {
  if (suspended(s.job)) {
    if (ensureCondition(s.conditions, 'Suspended', 'True', 'JobSuspended', 'Job suspended', s.now)) event(s, 'Normal', 'Suspended', 'Job suspended')
  } else if (ensureCondition(s.conditions, 'Suspended', 'False', 'JobResumed', 'Job resumed', s.now)) {
    event(s, 'Normal', 'Resumed', 'Job resumed')
    // activeDeadlineSeconds counts from the resume: the time suspended does not count.
    s.status.startTime = timestamp(s.now)
  }
}

/** upstream's canRemoveFinalizer. */
function mayRemoveFinalizer(s: Sync, pod: V1Pod, failed: boolean): boolean {
  if (s.job.metadata?.deletionTimestamp || s.finished || pod.status?.phase === 'Succeeded') return true
  if (!failed) return false
  if (s.perIndex) {
    const waiting = s.delayed.get(completionIndex(pod))
    if (waiting && waiting.metadata?.uid === pod.metadata?.uid) return false
  }
  return true
}

/**
 * Counts finished pods (upstream's trackJobStatusAndRemoveFinalizers): pods whose finalizer
 * is gone move from uncountedTerminatedPods to the counters, newly finished ones are added
 * to it, and the finalizers of everything counted are taken off after the status write.
 */
function track(s: Sync): Action[] {
  const job = s.job
  const status = s.status
  const uncounted = { succeeded: [...(status.uncountedTerminatedPods?.succeeded ?? [])] as string[], failed: [...(status.uncountedTerminatedPods?.failed ?? [])] as string[] }
  const withFinalizer = new Set(s.pods.filter(hasTrackingFinalizer).map((p) => p.metadata?.uid ?? ''))
  const stillUncounted = (list: string[]) => list.filter((uid) => withFinalizer.has(uid))
  const keptSucceeded = stillUncounted(uncounted.succeeded)
  const keptFailed = stillUncounted(uncounted.failed)
  status.succeeded = (status.succeeded ?? 0) + uncounted.succeeded.length - keptSucceeded.length
  status.failed = (status.failed ?? 0) + uncounted.failed.length - keptFailed.length
  uncounted.succeeded = keptSucceeded
  uncounted.failed = keptFailed

  const removeFinalizers: Action[] = []
  const newSucceededIndexes: number[] = []
  let reachedMax = false
  const ordered = s.indexed ? [...s.pods].sort((a, b) => completionIndex(a) - completionIndex(b)) : s.pods
  for (const pod of ordered) {
    const uid = pod.metadata?.uid ?? ''
    if (!hasTrackingFinalizer(pod)) continue
    const failed = isPodFailed(pod, job)
    if (!mayRemoveFinalizer(s, pod, failed)) continue
    removeFinalizers.push(removeFinalizerAction(pod))
    if (pod.status?.phase === 'Succeeded' && !s.uncounted.failed.has(uid)) {
      if (s.indexed) {
        const ix = completionIndex(pod)
        if (validIndex(s, pod) && !has(s.prevSucceededIndexes, ix)) newSucceededIndexes.push(ix)
      } else if (!s.uncounted.succeeded.has(uid)) {
        uncounted.succeeded.push(uid)
      }
    } else if (failed || (s.finished && s.finished.type !== 'SuccessCriteriaMet')) {
      // Once the Job is finished, every pod not succeeded counts as failed.
      if (!s.uncounted.failed.has(uid) && (!s.indexed || validIndex(s, pod))) {
        if (matchPodFailurePolicy(job.spec?.podFailurePolicy, pod).counts) uncounted.failed.push(uid)
      }
    }
    if (newSucceededIndexes.length + uncounted.succeeded.length + uncounted.failed.length >= MAX_UNCOUNTED_PODS) {
      reachedMax = true
      break
    }
  }
  status.uncountedTerminatedPods = {
    ...(uncounted.succeeded.length > 0 ? { succeeded: uncounted.succeeded } : {}),
    ...(uncounted.failed.length > 0 ? { failed: uncounted.failed } : {}),
  }
  if (s.indexed) {
    s.succeededIndexes = withIndexes(s.succeededIndexes, newSucceededIndexes)
    status.succeeded = total(s.succeededIndexes)
    status.completedIndexes = formatIndexes(s.succeededIndexes)
    if (s.failedIndexes) status.failedIndexes = formatIndexes(s.failedIndexes)
    else delete status.failedIndexes
  }
  if (s.finished?.type === 'FailureTarget') {
    s.conditions.push(s.finished)
    s.finished = newCondition('Failed', 'True', s.finished.reason ?? '', s.finished.message ?? '', s.now)
  }
  if (s.finished?.type === 'SuccessCriteriaMet') {
    if (!conditionTrue(s.conditions, 'SuccessCriteriaMet')) s.conditions.push(s.finished)
    s.finished = newCondition('Complete', 'True', s.finished.reason ?? '', s.finished.message ?? '', s.now)
  }
  if (!reachedMax) enactFinished(s, uncounted.succeeded.length + uncounted.failed.length)
  return removeFinalizers
}

/** Complete or Failed, once every pod is counted and none is still terminating. */
function enactFinished(s: Sync, uncounted: number): void {
  const finished = s.finished
  if (!finished || uncounted > 0 || s.terminating > 0) return
  ensureCondition(s.conditions, finished.type, 'True', finished.reason ?? '', finished.message ?? '', s.now)
  if (finished.type === 'Complete') {
    s.status.completionTime = findCondition(s.conditions, 'Complete')?.lastTransitionTime
    const completions = s.job.spec?.completions
    if (completions !== undefined && completions !== null && (s.status.succeeded ?? 0) > completions)
      event(s, 'Warning', 'TooManySucceededPods', 'Too many succeeded pods running after completion count reached')
    event(s, 'Normal', 'Completed', 'Job completed')
  } else {
    event(s, 'Warning', finished.reason ?? '', finished.message ?? '')
  }
}

function selectorOf(job: V1Job): LabelSelector | undefined {
  try {
    return labelSelectorFromObject(job.spec?.selector)
  } catch {
    return undefined
  }
}

/**
 * One sync of `job` over `candidates` (the pods it controls and the orphans its selector
 * matches) at `now`. Pod creates carry their SuccessfulCreate event.
 */
export function reconcileJob(job: V1Job | undefined, candidates: V1Pod[], now: Date): JobReconcile {
  if (!job) return { actions: [] }
  const managedBy = job.spec?.managedBy
  if (managedBy !== undefined && managedBy !== null && managedBy !== JOB_CONTROLLER_NAME) return { actions: [] }
  if (isJobFinished(job)) return { actions: [] }
  const involved = involvedJob(job)
  const mode = job.spec?.completionMode ?? 'NonIndexed'
  if (mode !== 'NonIndexed' && mode !== 'Indexed') {
    return { actions: [{ verb: 'event', event: { involved, type: 'Warning', reason: 'UnknownCompletionMode', message: 'Skipped Job sync because completion mode is unknown' } }] }
  }
  const selector = selectorOf(job)
  if (!selector) return { actions: [] }

  const claimed = claim(jobOwner(job), selector, candidates.filter((p) => p.metadata?.namespace === job.metadata?.namespace))
  const claimActions: Action[] = [...claimed.adopt.map((p) => adoptAction(job, p)), ...claimed.release.map((p) => releaseAction(job, p))]
  const adopted = new Set(claimed.adopt)
  const pods = claimed.owned.map((p) => (adopted.has(p) && !hasTrackingFinalizer(p) ? { ...p, metadata: { ...p.metadata, finalizers: [...(p.metadata?.finalizers ?? []), JOB_TRACKING_FINALIZER] } } : p))
  const active = pods.filter(isPodActive)
  const status: Record<string, any> = structuredClone(plainJson(job.status ?? {}) as Record<string, any>)
  if (!status.uncountedTerminatedPods) status.uncountedTerminatedPods = {}
  const s: Sync = {
    job,
    now,
    pods,
    active,
    indexed: mode === 'Indexed',
    completions: job.spec?.completions ?? undefined,
    perIndex: mode === 'Indexed' && job.spec?.backoffLimitPerIndex !== undefined && job.spec.backoffLimitPerIndex !== null,
    uncounted: { succeeded: new Set(status.uncountedTerminatedPods.succeeded ?? []), failed: new Set(status.uncountedTerminatedPods.failed ?? []) },
    status,
    conditions: [...(status.conditions ?? [])],
    succeeded: 0,
    failed: 0,
    activeCount: active.length,
    ready: active.filter(isPodReady).length,
    terminating: pods.filter(isTerminating).length,
    prevSucceededIndexes: [],
    succeededIndexes: [],
    delayed: new Map(),
    podActions: [],
    events: [],
  }
  const newSucceeded = pods.filter((p) => uncountedYet(s, p, s.uncounted.succeeded) && p.status?.phase === 'Succeeded').length
  const newFailed = pods.filter((p) => uncountedYet(s, p, s.uncounted.failed) && isPodFailed(p, job) && matchPodFailurePolicy(job.spec?.podFailurePolicy, p).counts).length
  s.succeeded = (status.succeeded ?? 0) + newSucceeded + s.uncounted.succeeded.size
  s.failed = (status.failed ?? 0) + newFailed + s.uncounted.failed.size
  if (!status.startTime && !suspended(job)) status.startTime = timestamp(now)

  decideFailure(s)
  if (s.indexed) decideIndexes(s)
  if (s.finished) {
    // The Job is over: its active pods go, keeping their finalizers so they count as failed.
    for (const p of s.active) {
      s.podActions.push(deleteAction(p))
      event(s, 'Normal', 'SuccessfulDelete', `Deleted pod: ${p.metadata?.name ?? ''}`)
      if (isPodReady(p)) s.ready--
    }
    s.terminating += s.activeCount
    s.activeCount = 0
  } else {
    const managed = !job.metadata?.deletionTimestamp
    if (managed) manage(s)
    const complete = s.completions === undefined ? s.succeeded > 0 && s.activeCount === 0 : s.succeeded >= s.completions && s.activeCount === 0
    if (complete) s.finished = newCondition('SuccessCriteriaMet', 'True', 'CompletionsReached', 'Reached expected number of succeeded pods', now)
    else if (managed) decideSuspension(s)
  }
  status.active = s.activeCount
  status.ready = s.ready
  status.terminating = s.terminating
  const removeFinalizers = track(s)
  status.conditions = s.conditions
  // As Go writes them: these counters are omitted when zero, ready and terminating are not.
  for (const key of ['conditions', 'active', 'succeeded', 'failed']) if (status[key] === 0 || status[key]?.length === 0) delete status[key]

  const actions: Action[] = [...claimActions]
  if (!sameJson(status, job.status ?? {})) {
    actions.push({ verb: 'updateStatus', info: jobInfo, object: { ...structuredClone(job), apiVersion: 'batch/v1', kind: 'Job', status } })
  }
  actions.push(...removeFinalizers, ...s.podActions, ...s.events)
  return { actions, requeueAfterMs: s.requeueAfterMs }
}
