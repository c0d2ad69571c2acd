import t from 'tap'
import { matchPodFailurePolicy } from '../../../src/controllers/job/failure-policy.ts'
import { coveredBy, formatIndexes, has, merge, parseIndexes, total, withIndexes } from '../../../src/controllers/job/indexes.ts'
import { finishedTime } from '../../../src/controllers/job/pod-status.ts'
import { at, pod } from './fixtures.ts'

t.test('completion indexes as intervals', async (t) => {
  t.same(parseIndexes('0-2,4,6,7', 10), [{ first: 0, last: 2 }, { first: 4, last: 4 }, { first: 6, last: 7 }])
  t.same(parseIndexes('0-2,3', 10), [{ first: 0, last: 3 }], 'adjacent intervals join')
  t.same(parseIndexes('1,x,3-y,5-20', 8), [{ first: 1, last: 1 }, { first: 5, last: 7 }], 'bad pieces skipped, the tail cut at completions')
  t.same(parseIndexes('9', 8), [])
  t.same(parseIndexes(undefined, 8), [])
  t.equal(formatIndexes([{ first: 0, last: 2 }, { first: 4, last: 4 }, { first: 6, last: 7 }]), '0-2,4,6,7', 'two neighbours are written as a pair')
  t.same(merge([{ first: 0, last: 1 }, { first: 5, last: 6 }], [{ first: 2, last: 3 }]), [{ first: 0, last: 3 }, { first: 5, last: 6 }])
  const set = withIndexes([], [5, 1, 2, 3, 5])
  t.equal(formatIndexes(set), '1-3,5')
  t.equal(total(set), 4)
  t.ok(has(set, 2))
  t.notOk(has(set, 4))
  t.ok(coveredBy(parseIndexes('0,2', 5), parseIndexes('0-2', 5), undefined), 'every wanted index succeeded')
  t.notOk(coveredBy(parseIndexes('0-3', 5), parseIndexes('0,1', 5), undefined))
  t.ok(coveredBy(parseIndexes('0-3', 5), parseIndexes('0,1', 5), 2), 'or enough of them')
})

t.test('pod failure policy matching', async (t) => {
  const policy = {
    rules: [
      { action: 'Ignore', onPodConditions: [{ type: 'DisruptionTarget', status: 'True' }] },
      { action: 'FailJob', onExitCodes: { operator: 'NotIn', values: [1, 2] } },
      { action: 'Count', onExitCodes: { operator: 'In', values: [1] } },
    ],
  }
  const failed = (exitCode: number, conditions: { type: string; status: string }[] = []) => pod('p', { phase: 'Failed', finished: 1, exitCode, conditions })
  t.same(matchPodFailurePolicy(undefined, failed(3)), { counts: true }, 'no policy: every failure counts')
  t.same(matchPodFailurePolicy(policy, failed(3, [{ type: 'DisruptionTarget', status: 'True' }])), { counts: false, action: 'Ignore' }, 'the first matching rule decides')
  t.same(matchPodFailurePolicy(policy, failed(7)), { failJobMessage: 'Container main for pod ns/p failed with exit code 7 matching FailJob rule at index 1', counts: true, action: 'FailJob' })
  t.same(matchPodFailurePolicy(policy, failed(1)), { counts: true, action: 'Count' })
  t.same(matchPodFailurePolicy(policy, failed(2)), { counts: true }, 'no rule matched')
  t.same(matchPodFailurePolicy({ rules: [{ action: 'FailJob', onExitCodes: { operator: 'NotIn', values: [5] } }] }, failed(0)), { counts: true }, 'exit code 0 never matches')
  const conditionRule = { rules: [{ action: 'FailJob', onPodConditions: [{ type: 'ConfigIssue', status: 'True' }] }] }
  t.equal(matchPodFailurePolicy(conditionRule, failed(1, [{ type: 'ConfigIssue', status: 'True' }])).failJobMessage, 'Pod ns/p has condition ConfigIssue matching FailJob rule at index 0')
})

t.test('when a pod finished', async (t) => {
  t.equal(finishedTime(pod('a', { phase: 'Failed', finished: 30 })), at(30).getTime(), 'its last container\'s finish')
  const notReady = pod('b', { phase: 'Failed' })
  notReady.status!.containerStatuses = []
  notReady.status!.conditions = [{ type: 'Ready', status: 'False', lastTransitionTime: at(20).toISOString() as any }]
  t.equal(finishedTime(notReady), at(20).getTime(), 'else when it turned not Ready')
  const deleted = pod('c', { deleting: 100 })
  deleted.status!.conditions = []
  t.equal(finishedTime(deleted), at(70).getTime(), 'else its deletion less the grace period')
  const bare = pod('d', { created: 5 })
  bare.status!.conditions = []
  t.equal(finishedTime(bare), at(5).getTime(), 'else its creation')
})
