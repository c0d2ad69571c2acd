import t from 'tap'
import type { V1Taint, V1Toleration } from '@kubernetes/client-node'
import { findUntoleratedTaint, isDoNotSchedule, toleratesTaint } from '../../src/scheduler/taints.ts'

t.test('toleration matching matrix', async (t) => {
  const taint: V1Taint = { key: 'dedicated', value: 'gpu', effect: 'NoSchedule' }
  const cases: Array<[string, V1Toleration, V1Taint, boolean]> = [
    ['Equal same key/value/effect', { key: 'dedicated', operator: 'Equal', value: 'gpu', effect: 'NoSchedule' }, taint, true],
    ['empty operator means Equal', { key: 'dedicated', value: 'gpu', effect: 'NoSchedule' }, taint, true],
    ['Equal different value', { key: 'dedicated', operator: 'Equal', value: 'cpu', effect: 'NoSchedule' }, taint, false],
    ['Equal missing value vs value', { key: 'dedicated', operator: 'Equal', effect: 'NoSchedule' }, taint, false],
    ['Equal empty value matches empty taint value', { key: 'k', operator: 'Equal' }, { key: 'k', effect: 'NoSchedule' }, true],
    ['Exists ignores value', { key: 'dedicated', operator: 'Exists', effect: 'NoSchedule' }, taint, true],
    ['Exists different key', { key: 'other', operator: 'Exists' }, taint, false],
    ['empty effect matches all effects', { key: 'dedicated', operator: 'Exists' }, taint, true],
    ['empty effect matches NoExecute', { key: 'dedicated', operator: 'Exists' }, { ...taint, effect: 'NoExecute' }, true],
    ['effect mismatch', { key: 'dedicated', operator: 'Exists', effect: 'NoExecute' }, taint, false],
    ['PreferNoSchedule toleration vs NoSchedule', { key: 'dedicated', operator: 'Exists', effect: 'PreferNoSchedule' }, taint, false],
    ['empty key Exists matches everything', { operator: 'Exists' }, taint, true],
    ['empty key Exists with effect', { operator: 'Exists', effect: 'NoSchedule' }, taint, true],
    ['empty key Exists with other effect', { operator: 'Exists', effect: 'NoExecute' }, taint, false],
    ['unknown operator', { key: 'dedicated', operator: 'Gt', value: 'gpu' }, taint, false],
  ]
  for (const [name, tol, tn, want] of cases) t.equal(toleratesTaint(tol, tn), want, name)
})

t.test('findUntoleratedTaint returns the first untolerated taint the filter selects', async (t) => {
  const taints: V1Taint[] = [
    { key: 'soft', effect: 'PreferNoSchedule' },
    { key: 'a', value: '1', effect: 'NoSchedule' },
    { key: 'b', effect: 'NoExecute' },
  ]
  t.same(findUntoleratedTaint(taints, [], isDoNotSchedule), taints[1])
  t.same(findUntoleratedTaint(taints, [{ key: 'a', operator: 'Exists' }], isDoNotSchedule), taints[2])
  t.equal(findUntoleratedTaint(taints, [{ key: 'a', operator: 'Exists' }, { key: 'b', operator: 'Exists' }], isDoNotSchedule), undefined)
})
