// The tracking finalizer of a pod no running Job will count (upstream's syncOrphanPod): the
// pod has no controller, or its Job is gone, replaced or finished. Pods of another kind of
// controller, and of Jobs managed elsewhere, are left alone.
import type { V1Job, V1Pod } from '@kubernetes/client-node'
import type { Action } from '../actions.ts'
import { controllerRefOf } from '../replicaset/owner-refs.ts'
import { isJobFinished } from './conditions.ts'
import { removeFinalizerAction } from './job-pod.ts'
import { hasTrackingFinalizer } from './pod-status.ts'
import { JOB_CONTROLLER_NAME } from './reconcile.ts'

export function reconcileTrackedPod(pod: V1Pod | undefined, jobNamed: (namespace: string, name: string) => V1Job | undefined): Action[] {
  if (!pod || !hasTrackingFinalizer(pod)) return []
  const ref = controllerRefOf(pod)
  if (ref) {
    if (ref.kind !== 'Job' || ref.apiVersion !== 'batch/v1') return []
    const job = jobNamed(pod.metadata?.namespace ?? '', ref.name)
    if (job && job.metadata?.uid === ref.uid) {
      const managedBy = job.spec?.managedBy
      if (managedBy !== undefined && managedBy !== null && managedBy !== JOB_CONTROLLER_NAME) return []
      if (!isJobFinished(job)) return []
    }
  }
  return [removeFinalizerAction(pod)]
}

