import t from 'tap'
import type { V1Job } from '@kubernetes/client-node'
import { reconcileTrackedPod } from '../../../src/controllers/job/orphan-pods.ts'
import { job, pod } from './fixtures.ts'

t.test('the tracking finalizer comes off pods no running Job will count', async (t) => {
  const running = job()
  const finished = job({}, { conditions: [{ type: 'Complete', status: 'True' }] })
  const lookup = (j: V1Job | undefined) => (_ns: string, name: string) => (name === 'work' ? j : undefined)
  const patchFor = (name: string) => [{ verb: 'patch', info: { kind: 'Pod' }, namespace: 'ns', name, type: 'strategic', patch: { metadata: { '$deleteFromPrimitiveList/finalizers': ['batch.kubernetes.io/job-tracking'], uid: `uid-${name}` } } }]
  t.same(reconcileTrackedPod(pod('a'), lookup(running)), [], 'its Job runs: the Job controller counts it')
  t.match(reconcileTrackedPod(pod('a'), lookup(finished)), patchFor('a'), 'its Job finished')
  t.match(reconcileTrackedPod(pod('a'), lookup(undefined)), patchFor('a'), 'its Job is gone')
  const replaced = job({}, {}, { uid: 'another-uid' })
  t.match(reconcileTrackedPod(pod('a'), lookup(replaced)), patchFor('a'), 'a new Job of the same name is another Job')
  t.match(reconcileTrackedPod(pod('o', { owned: false }), lookup(running)), patchFor('o'), 'no controller at all')
  t.same(reconcileTrackedPod(pod('f', { finalizer: false }), lookup(undefined)), [], 'no finalizer: nothing to do')
  const foreign = pod('r')
  foreign.metadata!.ownerReferences = [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'rs', uid: 'rs-uid', controller: true }]
  t.same(reconcileTrackedPod(foreign, lookup(undefined)), [], 'not a Job\'s pod')
  t.same(reconcileTrackedPod(pod('m'), lookup(job({ managedBy: 'example.com/queue' }, { conditions: [{ type: 'Complete', status: 'True' }] }))), [], 'a Job managed elsewhere')
  t.same(reconcileTrackedPod(undefined, lookup(running)), [])
})
