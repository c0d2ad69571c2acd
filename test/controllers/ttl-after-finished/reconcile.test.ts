import t from 'tap'
import type { V1Job } from '@kubernetes/client-node'
import { reconcileFinishedJobTtl } from '../../../src/controllers/ttl-after-finished/reconcile.ts'

const at = (s: number) => new Date(Date.parse('2026-12-07T10:00:00Z') + s * 1000)

function job(ttl: number | undefined, finished?: { type: string; at: number }, deleting = false): V1Job {
  return {
    metadata: { name: 'pi', namespace: 'ns', uid: 'u1', ...(deleting ? { deletionTimestamp: at(0) } : {}) },
    spec: { template: {}, ...(ttl === undefined ? {} : { ttlSecondsAfterFinished: ttl }) },
    status: finished ? { conditions: [{ type: 'SuccessCriteriaMet', status: 'True' }, { type: finished.type, status: 'True', lastTransitionTime: at(finished.at) }] } : {},
  }
}

t.test('a finished Job is deleted once its TTL has passed', async (t) => {
  t.same(reconcileFinishedJobTtl(job(100, { type: 'Complete', at: 0 }), at(40)), { actions: [], requeueAfterMs: 60_000 }, 'looked at again when it expires')
  const { actions } = reconcileFinishedJobTtl(job(100, { type: 'Complete', at: 0 }), at(100))
  t.match(actions, [{ verb: 'delete', info: { kind: 'Job' }, namespace: 'ns', name: 'pi', uid: 'u1', propagationPolicy: 'Foreground' }])
  t.equal(reconcileFinishedJobTtl(job(0, { type: 'Failed', at: 5 }), at(5)).actions.length, 1, 'a failed Job with TTL 0 goes at once')
})

t.test('what is left alone', async (t) => {
  t.same(reconcileFinishedJobTtl(job(undefined, { type: 'Complete', at: 0 }), at(1000)), { actions: [] }, 'no TTL')
  t.same(reconcileFinishedJobTtl(job(10), at(1000)), { actions: [] }, 'not finished')
  t.same(reconcileFinishedJobTtl(job(10, { type: 'SuccessCriteriaMet', at: 0 }), at(1000)), { actions: [] }, 'an interim condition is not the end')
  t.same(reconcileFinishedJobTtl(job(10, { type: 'Complete', at: 0 }, true), at(1000)), { actions: [] }, 'already being deleted')
  t.same(reconcileFinishedJobTtl(undefined, at(0)), { actions: [] })
})
