// A Job driven to its end through reconcileJob alone, against an in-memory API that applies
// its actions as the server would (finalizers hold deleted pods; status writes are judged by
// the API server's own status validation) and a kubelet that finishes pods as scripted.
import t from 'tap'
import type { Test } from 'tap'
import type { V1Job, V1Pod } from '@kubernetes/client-node'
import { findByKind } from '../../../src/api/registry.ts'
import { validateObject } from '../../../src/api/validation/index.ts'
import type { Action } from '../../../src/controllers/actions.ts'
import { reconcileJob } from '../../../src/controllers/job/reconcile.ts'
import { job, t0 } from './fixtures.ts'

const jobInfo = findByKind('batch/v1', 'Job')!

class FakeCluster {
  job: V1Job
  pods = new Map<string, V1Pod>()
  statusWrites = 0
  now = t0.getTime()
  private next = 0

  constructor(j: V1Job) {
    this.job = j
  }

  private removeIfDone(name: string): void {
    const p = this.pods.get(name)
    if (p?.metadata?.deletionTimestamp && (p.metadata.finalizers ?? []).length === 0) this.pods.delete(name)
  }

  apply(actions: Action[], t: Test): void {
    for (const a of actions) {
      if (a.verb === 'create') {
        const name = `${a.object.metadata!.generateName}${this.next++}`
        const pod = structuredClone(a.object) as V1Pod
        pod.metadata = { ...pod.metadata, name, uid: `uid-${name}`, creationTimestamp: new Date(this.now) as any }
        pod.status = { phase: 'Pending' }
        this.pods.set(name, pod)
      } else if (a.verb === 'delete') {
        const p = this.pods.get(a.name)
        if (!p) continue
        p.metadata!.deletionTimestamp = new Date(this.now) as any
        this.removeIfDone(a.name)
      } else if (a.verb === 'patch') {
        const p = this.pods.get(a.name)
        if (!p) continue
        const gone = (a.patch as any).metadata['$deleteFromPrimitiveList/finalizers'] ?? []
        p.metadata!.finalizers = (p.metadata!.finalizers ?? []).filter((f) => !gone.includes(f))
        this.removeIfDone(a.name)
      } else if (a.verb === 'updateStatus') {
        const causes = validateObject(jobInfo, a.object, this.job, 'status')
        t.same(causes, [], `status write ${this.statusWrites + 1} passes the API server's validation`)
        this.job = { ...this.job, status: structuredClone(a.object.status) }
        this.statusWrites++
      }
    }
  }

  /** The kubelet: running pods finish, `fail` deciding which fail; deleted ones are confirmed gone. */
  kubelet(fail: (pod: V1Pod) => boolean): void {
    for (const [name, p] of this.pods) {
      if (p.metadata?.deletionTimestamp) {
        if (p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed') p.status = { ...p.status, phase: 'Failed' }
        this.removeIfDone(name)
        continue
      }
      const phase = p.status?.phase
      if (phase === 'Pending') p.status = { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] }
      else if (phase === 'Running') {
        const failed = fail(p)
        const finishedAt = new Date(this.now).toISOString()
        p.status = { phase: failed ? 'Failed' : 'Succeeded', conditions: [{ type: 'Ready', status: 'False' }], containerStatuses: [{ name: 'main', image: 'busybox', imageID: '', ready: false, restartCount: 0, state: { terminated: { exitCode: failed ? 1 : 0, finishedAt: finishedAt as any } } }] }
      }
    }
  }

  running(): number {
    return [...this.pods.values()].filter((p) => !p.metadata?.deletionTimestamp && p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed').length
  }
}

function run(t: Test, cluster: FakeCluster, fail: (pod: V1Pod) => boolean, parallelism: number): void {
  for (let step = 0; step < 400; step++) {
    const { actions, requeueAfterMs } = reconcileJob(cluster.job, [...cluster.pods.values()], new Date(cluster.now))
    cluster.apply(actions, t)
    t.ok(cluster.running() <= parallelism, `step ${step}: at most ${parallelism} running`) || t.bailout()
    if (cluster.job.status?.conditions?.some((c) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True')) return
    cluster.kubelet(fail)
    cluster.now += Math.min(requeueAfterMs ?? 1000, 60_000)
  }
  t.fail('the Job never finished')
}

t.test('10 completions, 3 at a time, every third pod failing once', async (t) => {
  const cluster = new FakeCluster(job({ completions: 10, parallelism: 3, backoffLimit: 6 }, { startTime: undefined }))
  const failedOnce = new Set<number>()
  let seen = 0
  run(t, cluster, () => {
    seen++
    if (seen % 3 === 0 && failedOnce.size < 3) {
      failedOnce.add(seen)
      return true
    }
    return false
  }, 3)
  const status = cluster.job.status as any
  t.equal(status.succeeded, 10)
  t.equal(status.failed, 3)
  t.same(status.conditions.map((c: any) => `${c.type}=${c.status}`), ['SuccessCriteriaMet=True', 'Complete=True'])
  t.same(status.uncountedTerminatedPods, {})
  t.ok(status.completionTime)
  t.equal(status.active, undefined)
  t.ok([...cluster.pods.values()].every((p) => (p.metadata?.finalizers ?? []).length === 0), 'no pod keeps the finalizer')
})

t.test('an Indexed Job of 5 completes every index once', async (t) => {
  const cluster = new FakeCluster(job({ completionMode: 'Indexed', completions: 5, parallelism: 2 }, { startTime: undefined }))
  run(t, cluster, () => false, 2)
  const status = cluster.job.status as any
  t.equal(status.completedIndexes, '0-4')
  t.equal(status.succeeded, 5)
  const indexes = [...cluster.pods.values()].map((p) => p.metadata?.annotations?.['batch.kubernetes.io/job-completion-index']).sort()
  t.same(indexes, ['0', '1', '2', '3', '4'])
})

t.test('a Job whose pods always fail runs out of backoff', async (t) => {
  const cluster = new FakeCluster(job({ completions: 2, parallelism: 2, backoffLimit: 2 }, { startTime: undefined }))
  run(t, cluster, () => true, 2)
  const status = cluster.job.status as any
  t.same(status.conditions.map((c: any) => `${c.type}=${c.status} ${c.reason}`), ['FailureTarget=True BackoffLimitExceeded', 'Failed=True BackoffLimitExceeded'])
  t.equal(status.failed, 4, 'two fail together, are replaced after the backoff, and two more fail: 4 > 2')
  t.equal(status.succeeded, undefined)
  t.equal(status.completionTime, undefined, 'a failed Job has no completionTime')
})
