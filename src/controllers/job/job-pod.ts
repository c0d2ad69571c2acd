// The pods a Job creates from its template, and the patches and deletions it sends them.
import type { V1Container, V1Job, V1Pod } from '@kubernetes/client-node'
import type { Action, KubeObject } from '../actions.ts'
import { podInfo } from '../apply-actions.ts'
import { compareForDeletion } from '../replicaset/pod-ranking.ts'
import { newControllerRef, type OwnerInfo } from '../replicaset/owner-refs.ts'
import { COMPLETION_INDEX, completionIndex, INDEX_FAILURE_COUNT, INDEX_IGNORED_FAILURE_COUNT, JOB_TRACKING_FINALIZER } from './pod-status.ts'

const INDEX_ENV = 'JOB_COMPLETION_INDEX'
/** names.MaxGeneratedNameLength: 63 less the five random characters. */
const maxGeneratedNameLength = 58

export function jobOwner(job: V1Job): OwnerInfo {
  return { apiVersion: 'batch/v1', kind: 'Job', name: job.metadata?.name ?? '', uid: job.metadata?.uid ?? '', deleting: Boolean(job.metadata?.deletionTimestamp) }
}

export function involvedJob(job: V1Job): KubeObject {
  const m = job.metadata ?? {}
  return { apiVersion: 'batch/v1', kind: 'Job', metadata: { name: m.name, namespace: m.namespace, uid: m.uid, resourceVersion: m.resourceVersion } }
}

/** `<job>-<index>-`, the Job's name cut so the whole stays within a generated name's length. */
function generateNameWithIndex(job: string, index: number): string {
  const suffix = `-${index}-`
  const prefix = job + suffix
  return prefix.length > maxGeneratedNameLength ? job.slice(0, maxGeneratedNameLength - suffix.length) + suffix : prefix
}

function withIndexEnv(c: V1Container): V1Container {
  if ((c.env ?? []).some((e) => e.name === INDEX_ENV)) return c
  return { ...c, env: [...(c.env ?? []), { name: INDEX_ENV, valueFrom: { fieldRef: { fieldPath: `metadata.labels['${COMPLETION_INDEX}']` } } }] }
}

export interface IndexedPod {
  index: number
  /** The index's failures so far (backoffLimitPerIndex only). */
  failureCounts?: { counted: number; ignored: number }
}

/** The pod the Job creates: its template, the tracking finalizer, and for Indexed Jobs the index as annotation, label, hostname and env. */
export function podFromJob(job: V1Job, indexed?: IndexedPod): KubeObject {
  const t = job.spec?.template
  const name = job.metadata?.name ?? ''
  const labels: Record<string, string> = { ...(t?.metadata?.labels ?? {}) }
  const annotations: Record<string, string> = { ...(t?.metadata?.annotations ?? {}) }
  const finalizers = [...(t?.metadata?.finalizers ?? [])]
  if (!finalizers.includes(JOB_TRACKING_FINALIZER)) finalizers.push(JOB_TRACKING_FINALIZER)
  const spec = structuredClone(t?.spec ?? { containers: [] })
  let generateName = `${name}-`
  if (indexed) {
    const index = String(indexed.index)
    annotations[COMPLETION_INDEX] = index
    labels[COMPLETION_INDEX] = index
    spec.hostname = `${name}-${index}`
    spec.containers = (spec.containers ?? []).map(withIndexEnv)
    if (spec.initContainers) spec.initContainers = spec.initContainers.map(withIndexEnv)
    generateName = generateNameWithIndex(name, indexed.index)
    if (indexed.failureCounts) {
      annotations[INDEX_FAILURE_COUNT] = String(indexed.failureCounts.counted)
      if (indexed.failureCounts.ignored > 0) annotations[INDEX_IGNORED_FAILURE_COUNT] = String(indexed.failureCounts.ignored)
    }
  }
  const metadata: Record<string, unknown> = {
    generateName,
    namespace: job.metadata?.namespace,
    labels,
    finalizers,
    ownerReferences: [newControllerRef(jobOwner(job))],
  }
  if (Object.keys(annotations).length > 0) metadata.annotations = annotations
  return { apiVersion: 'v1', kind: 'Pod', metadata, spec }
}

/** Strategic merge patch taking the tracking finalizer off a pod (its uid a precondition). */
export function removeFinalizerAction(pod: V1Pod): Action {
  return {
    verb: 'patch',
    info: podInfo,
    namespace: pod.metadata?.namespace,
    name: pod.metadata?.name ?? '',
    type: 'strategic',
    patch: { metadata: { [`$deleteFromPrimitiveList/finalizers`]: [JOB_TRACKING_FINALIZER], uid: pod.metadata?.uid } },
  }
}

/** Adopting an orphan: the controller reference and the tracking finalizer. */
export function adoptAction(job: V1Job, pod: V1Pod): Action {
  return {
    verb: 'patch',
    info: podInfo,
    namespace: pod.metadata?.namespace,
    name: pod.metadata?.name ?? '',
    type: 'strategic',
    patch: { metadata: { ownerReferences: [newControllerRef(jobOwner(job))], finalizers: [JOB_TRACKING_FINALIZER], uid: pod.metadata?.uid } },
  }
}

/** Releasing a pod that no longer matches: the reference and the finalizer go. */
export function releaseAction(job: V1Job, pod: V1Pod): Action {
  return {
    verb: 'patch',
    info: podInfo,
    namespace: pod.metadata?.namespace,
    name: pod.metadata?.name ?? '',
    type: 'strategic',
    patch: { metadata: { ownerReferences: [{ $patch: 'delete', uid: job.metadata?.uid }], [`$deleteFromPrimitiveList/finalizers`]: [JOB_TRACKING_FINALIZER], uid: pod.metadata?.uid } },
  }
}

export function deleteAction(pod: V1Pod): Action {
  return { verb: 'delete', info: podInfo, namespace: pod.metadata?.namespace, name: pod.metadata?.name ?? '', uid: pod.metadata?.uid }
}

const byDeletionPreference = (a: V1Pod, b: V1Pod): number => compareForDeletion(a, b, () => 0)

/**
 * The active pods to delete, best candidates first (upstream's activePodsForRemoval): for an
 * Indexed Job every pod without a valid index and every duplicate of an index (the most
 * advanced copy stays), then the least advanced pods until `atLeast` are chosen.
 */
export function activePodsForRemoval(job: V1Job, active: V1Pod[], atLeast: number): V1Pod[] {
  const rm: V1Pod[] = []
  let left = active
  if (job.spec?.completionMode === 'Indexed') {
    const completions = job.spec.completions ?? 0
    left = []
    const byIndex = new Map<number, V1Pod[]>()
    for (const p of active) {
      const ix = completionIndex(p)
      if (ix < 0 || ix >= completions) rm.push(p)
      else byIndex.set(ix, [...(byIndex.get(ix) ?? []), p])
    }
    for (const ix of [...byIndex.keys()].sort((a, b) => a - b)) {
      const same = byIndex.get(ix)!.sort(byDeletionPreference)
      rm.push(...same.slice(0, -1))
      left.push(same[same.length - 1]!)
    }
  }
  if (rm.length < atLeast) rm.push(...[...left].sort(byDeletionPreference).slice(0, atLeast - rm.length))
  return rm
}
