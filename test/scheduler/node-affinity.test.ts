import t from 'tap'
import type { V1NodeSelectorRequirement, V1NodeSelectorTerm } from '@kubernetes/client-node'
import { preferredTerms, requiredNodeMatcher } from '../../src/scheduler/node-affinity.ts'
import { pod } from './fixtures.ts'

const labels = { zone: 'a', gen: '5', disk: 'ssd' }

function matchesTerms(terms: V1NodeSelectorTerm[], name = 'n1', l: Record<string, string> = labels): boolean {
  const m = requiredNodeMatcher(
    pod('p', { affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: terms } } } }),
  )
  return m!(l, name)
}

t.test('operators', async (t) => {
  const cases: Array<[V1NodeSelectorRequirement, boolean]> = [
    [{ key: 'zone', operator: 'In', values: ['a', 'b'] }, true],
    [{ key: 'zone', operator: 'In', values: ['b'] }, false],
    [{ key: 'missing', operator: 'In', values: ['a'] }, false],
    [{ key: 'zone', operator: 'NotIn', values: ['b'] }, true],
    [{ key: 'zone', operator: 'NotIn', values: ['a'] }, false],
    [{ key: 'missing', operator: 'NotIn', values: ['a'] }, true],
    [{ key: 'disk', operator: 'Exists' }, true],
    [{ key: 'missing', operator: 'Exists' }, false],
    [{ key: 'missing', operator: 'DoesNotExist' }, true],
    [{ key: 'disk', operator: 'DoesNotExist' }, false],
    [{ key: 'gen', operator: 'Gt', values: ['4'] }, true],
    [{ key: 'gen', operator: 'Gt', values: ['5'] }, false],
    [{ key: 'gen', operator: 'Lt', values: ['6'] }, true],
    [{ key: 'gen', operator: 'Lt', values: ['5'] }, false],
    [{ key: 'zone', operator: 'Gt', values: ['1'] }, false],
    [{ key: 'missing', operator: 'Lt', values: ['9'] }, false],
    [{ key: 'gen', operator: 'Gt', values: ['x'] }, false],
    [{ key: 'gen', operator: 'Gt', values: ['1', '2'] }, false],
    [{ key: 'zone', operator: 'In', values: [] }, false],
    [{ key: 'zone', operator: 'Bogus', values: ['a'] }, false],
  ]
  for (const [req, want] of cases) t.equal(matchesTerms([{ matchExpressions: [req] }]), want, JSON.stringify(req))
})

t.test('terms are ORed, expressions ANDed, empty terms match nothing', async (t) => {
  const za = { key: 'zone', operator: 'In', values: ['a'] }
  const zb = { key: 'zone', operator: 'In', values: ['b'] }
  const hdd = { key: 'disk', operator: 'In', values: ['hdd'] }
  t.equal(matchesTerms([{ matchExpressions: [zb] }, { matchExpressions: [za] }]), true)
  t.equal(matchesTerms([{ matchExpressions: [za, hdd] }]), false)
  t.equal(matchesTerms([{}]), false)
  t.equal(matchesTerms([]), false)
})

t.test('matchFields on metadata.name', async (t) => {
  t.equal(matchesTerms([{ matchFields: [{ key: 'metadata.name', operator: 'In', values: ['n1'] }] }]), true)
  t.equal(matchesTerms([{ matchFields: [{ key: 'metadata.name', operator: 'In', values: ['n2'] }] }]), false)
  t.equal(matchesTerms([{ matchFields: [{ key: 'metadata.name', operator: 'NotIn', values: ['n2'] }] }]), true)
  t.equal(matchesTerms([{ matchFields: [{ key: 'metadata.uid', operator: 'In', values: ['n1'] }] }]), false)
})

t.test('nodeSelector is ANDed with required affinity', async (t) => {
  const p = pod('p', {
    nodeSelector: { disk: 'ssd' },
    affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'zone', operator: 'Exists' }] }] } } },
  })
  const m = requiredNodeMatcher(p)!
  t.equal(m(labels, 'n'), true)
  t.equal(m({ ...labels, disk: 'hdd' }, 'n'), false)
  t.equal(m({ disk: 'ssd' }, 'n'), false)
  t.equal(requiredNodeMatcher(pod('plain')), undefined)
})

t.test('preferred terms keep weights', async (t) => {
  const p = pod('p', {
    affinity: {
      nodeAffinity: {
        preferredDuringSchedulingIgnoredDuringExecution: [
          { weight: 10, preference: { matchExpressions: [{ key: 'zone', operator: 'In', values: ['a'] }] } },
          { weight: 5, preference: {} },
        ],
      },
    },
  })
  const terms = preferredTerms(p)
  t.same(terms.map((x) => [x.weight, x.matches(labels, 'n')]), [[10, true], [5, false]])
})
