// The TTL-after-finished controller (pkg/controller/ttlafterfinished): a finished Job with
// spec.ttlSecondsAfterFinished is deleted that many seconds after its Complete or Failed
// condition, with its pods (foreground propagation, as upstream), the uid a precondition.
import type { V1Job } from '@kubernetes/client-node'
import { resources } from '../../api/registry.ts'
import type { Action } from '../actions.ts'
import { toMillis } from '../replicaset/pod-state.ts'

const jobInfo = resources.find((r) => r.kind === 'Job')!

export interface TtlReconcile {
  actions: Action[]
  requeueAfterMs?: number
}

/** When the Job finished: its Complete or Failed condition's transition. */
export function jobFinishedAt(job: V1Job): number | undefined {
  const c = (job.status?.conditions ?? []).find((x) => (x.type === 'Complete' || x.type === 'Failed') && x.status === 'True')
  return c ? toMillis(c.lastTransitionTime as Date | string | undefined) : undefined
}

export function reconcileFinishedJobTtl(job: V1Job | undefined, now: Date): TtlReconcile {
  const ttl = job?.spec?.ttlSecondsAfterFinished
  if (!job || job.metadata?.deletionTimestamp || ttl === undefined || ttl === null) return { actions: [] }
  const finishedAt = jobFinishedAt(job)
  if (finishedAt === undefined) return { actions: [] }
  const left = finishedAt + ttl * 1000 - now.getTime()
  if (left > 0) return { actions: [], requeueAfterMs: left }
  const m = job.metadata ?? {}
  return { actions: [{ verb: 'delete', info: jobInfo, namespace: m.namespace, name: m.name ?? '', uid: m.uid, propagationPolicy: 'Foreground' }] }
}
