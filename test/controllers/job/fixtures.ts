// Jobs and pods for the Job controller's tests, as the API server and kubelet would write them.
import type { V1Job, V1Pod } from '@kubernetes/client-node'
import type { Action } from '../../../src/controllers/actions.ts'

export const t0 = new Date('2026-12-07T10:00:00Z')
export const at = (s: number): Date => new Date(t0.getTime() + s * 1000)
export const iso = (s: number): string => at(s).toISOString().replace('.000Z', 'Z')
export const JOB_UID = 'job-uid'
const FINALIZER = 'batch.kubernetes.io/job-tracking'

export function job(spec: Record<string, unknown> = {}, status: Record<string, unknown> = {}, meta: Record<string, unknown> = {}): V1Job {
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: 'work', namespace: 'ns', uid: JOB_UID, resourceVersion: '5', generation: 1, ...meta },
    spec: {
      completions: 1,
      parallelism: 1,
      backoffLimit: 6,
      completionMode: 'NonIndexed',
      suspend: false,
      podReplacementPolicy: 'TerminatingOrFailed',
      manualSelector: false,
      selector: { matchLabels: { 'batch.kubernetes.io/controller-uid': JOB_UID } },
      template: {
        metadata: { labels: { 'batch.kubernetes.io/controller-uid': JOB_UID, 'batch.kubernetes.io/job-name': 'work' } },
        spec: { containers: [{ name: 'main', image: 'busybox' }], restartPolicy: 'Never' },
      },
      ...spec,
    } as V1Job['spec'],
    status: { startTime: iso(0), ...status } as unknown as V1Job['status'],
  }
}

export interface PodOpts {
  phase?: 'Pending' | 'Running' | 'Succeeded' | 'Failed'
  ready?: boolean
  node?: string
  /** Seconds after t0 the pod finished. */
  finished?: number
  exitCode?: number
  index?: number
  finalizer?: boolean
  owned?: boolean
  deleting?: number
  created?: number
  annotations?: Record<string, string>
  conditions?: { type: string; status: string }[]
  restarts?: number
}

export function pod(name: string, o: PodOpts = {}): V1Pod {
  const phase = o.phase ?? 'Running'
  const annotations = { ...(o.index === undefined ? {} : { 'batch.kubernetes.io/job-completion-index': String(o.index) }), ...o.annotations }
  const terminated = o.finished === undefined ? undefined : { exitCode: o.exitCode ?? (phase === 'Succeeded' ? 0 : 1), finishedAt: iso(o.finished) }
  return {
    metadata: {
      name,
      namespace: 'ns',
      uid: `uid-${name}`,
      labels: { 'batch.kubernetes.io/controller-uid': JOB_UID, 'batch.kubernetes.io/job-name': 'work' },
      annotations,
      creationTimestamp: iso(o.created ?? 0),
      finalizers: o.finalizer === false ? [] : [FINALIZER],
      ownerReferences: o.owned === false ? undefined : [{ apiVersion: 'batch/v1', kind: 'Job', name: 'work', uid: JOB_UID, controller: true, blockOwnerDeletion: true }],
      ...(o.deleting === undefined ? {} : { deletionTimestamp: iso(o.deleting), deletionGracePeriodSeconds: 30 }),
    },
    spec: { nodeName: o.node ?? (phase === 'Pending' ? undefined : 'n1'), containers: [{ name: 'main', image: 'busybox' }] },
    status: {
      phase,
      conditions: [{ type: 'Ready', status: o.ready ? 'True' : 'False' }, ...(o.conditions ?? [])],
      containerStatuses: [{ name: 'main', image: 'busybox', imageID: '', ready: Boolean(o.ready), restartCount: o.restarts ?? 0, state: terminated ? { terminated } : { running: {} } }],
    },
  } as unknown as V1Pod
}

export const creates = (actions: Action[]) => actions.flatMap((a) => (a.verb === 'create' ? [a] : []))
export const deletes = (actions: Action[]) => actions.flatMap((a) => (a.verb === 'delete' ? [a.name] : []))
export const patched = (actions: Action[]) => actions.flatMap((a) => (a.verb === 'patch' ? [a] : []))
export const unfinalized = (actions: Action[]) =>
  patched(actions).flatMap((a) => ((a.patch as any).metadata?.['$deleteFromPrimitiveList/finalizers'] && !(a.patch as any).metadata?.ownerReferences ? [a.name] : []))
export const events = (actions: Action[]) => actions.flatMap((a) => (a.verb === 'event' ? [`${a.event.reason}: ${a.event.message}`] : a.verb === 'create' && a.event ? [`${a.event.reason}: ${a.event.message}`] : []))
export function statusOf(actions: Action[]): Record<string, any> | undefined {
  const a = actions.find((x) => x.verb === 'updateStatus')
  return a && a.verb === 'updateStatus' ? a.object.status : undefined
}
export const conditions = (status: Record<string, any> | undefined) => (status?.conditions ?? []).map((c: any) => `${c.type}=${c.status}${c.reason ? ` ${c.reason}` : ''}`)
