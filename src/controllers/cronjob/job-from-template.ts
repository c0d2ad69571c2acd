// The Job a CronJob creates for one scheduled time (upstream's getJobFromTemplate2): named
// after the CronJob and the time in minutes since the epoch, so one time never makes two.
import type { V1CronJob, V1Job } from '@kubernetes/client-node'
import { rfc3339In, resolveZone } from '../../api/cron/zone.ts'
import type { KubeObject } from '../actions.ts'
import { newControllerRef } from '../replicaset/owner-refs.ts'

export const SCHEDULED_TIMESTAMP_ANNOTATION = 'batch.kubernetes.io/cronjob-scheduled-timestamp'

export function jobName(cj: V1CronJob, scheduledMs: number): string {
  return `${cj.metadata?.name ?? ''}-${Math.floor(scheduledMs / 60_000)}`
}

/** The Job for `scheduledMs`; its scheduled-timestamp annotation is in spec.timeZone (UTC when unset). */
export function jobFromCronJob(cj: V1CronJob, scheduledMs: number): KubeObject & V1Job {
  const template = cj.spec?.jobTemplate
  const annotations: Record<string, string> = { ...(template?.metadata?.annotations ?? {}) }
  annotations[SCHEDULED_TIMESTAMP_ANNOTATION] = rfc3339In(scheduledMs, resolveZone(cj.spec?.timeZone ?? ''))
  const owner = { apiVersion: 'batch/v1', kind: 'CronJob', name: cj.metadata?.name ?? '', uid: cj.metadata?.uid ?? '', deleting: false }
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name: jobName(cj, scheduledMs),
      namespace: cj.metadata?.namespace,
      labels: { ...(template?.metadata?.labels ?? {}) },
      annotations,
      ownerReferences: [newControllerRef(owner)],
    },
    spec: structuredClone(template?.spec ?? { template: {} }),
  } as KubeObject & V1Job
}
