import t from 'tap'
import { aggregatedRules, pendingAggregations, rulesEqual } from '../../../src/auth/rbac/aggregation.ts'
import { clusterRole } from './helpers.ts'

const get = (resource: string) => ({ apiGroups: [''], resources: [resource], verbs: ['get'] })

function labelled(name: string, labels: Record<string, string>, rules: ReturnType<typeof get>[]) {
  const r = clusterRole(name, rules)
  r.metadata!.labels = labels
  return r
}

t.test('a role without an aggregationRule is left alone', async (t) => {
  t.equal(aggregatedRules(clusterRole('plain', [get('pods')]), []), undefined)
})

t.test('union of the matching roles\' rules, by selector then by name, de-duplicated, never itself', async (t) => {
  const agg = clusterRole('view', [get('stale')], {
    aggregationRule: { clusterRoleSelectors: [{ matchLabels: { 'rbac.example.com/aggregate-to-view': 'true' } }, { matchLabels: { extra: 'yes' } }] },
  })
  agg.metadata!.labels = { 'rbac.example.com/aggregate-to-view': 'true' }
  const all = [
    agg,
    labelled('z-last', { 'rbac.example.com/aggregate-to-view': 'true' }, [get('services'), get('pods')]),
    labelled('a-first', { 'rbac.example.com/aggregate-to-view': 'true' }, [get('pods'), { apiGroups: [''], resources: ['pods'], verbs: ['get'], resourceNames: ['p'] } as ReturnType<typeof get>]),
    labelled('m-extra', { extra: 'yes' }, [get('secrets'), get('services')]),
    labelled('unrelated', { 'rbac.example.com/aggregate-to-view': 'false' }, [get('nodes')]),
  ]
  t.same(aggregatedRules(agg, all), [
    get('pods'),
    { apiGroups: [''], resources: ['pods'], verbs: ['get'], resourceNames: ['p'] },
    get('services'),
    get('secrets'),
  ])
})

t.test('matchExpressions: In, NotIn, Exists, DoesNotExist', async (t) => {
  const agg = clusterRole('agg', [], {
    aggregationRule: {
      clusterRoleSelectors: [
        {
          matchExpressions: [
            { key: 'tier', operator: 'In', values: ['a', 'b'] },
            { key: 'env', operator: 'NotIn', values: ['prod'] },
            { key: 'aggregate', operator: 'Exists' },
            { key: 'deprecated', operator: 'DoesNotExist' },
          ],
        },
      ],
    },
  })
  const all = [
    labelled('ok-a', { tier: 'a', aggregate: '' }, [get('a')]),
    labelled('ok-b', { tier: 'b', env: 'dev', aggregate: 'x' }, [get('b')]),
    labelled('prod', { tier: 'a', env: 'prod', aggregate: '' }, [get('prod')]),
    labelled('no-aggregate', { tier: 'a' }, [get('no-aggregate')]),
    labelled('deprecated', { tier: 'a', aggregate: '', deprecated: 'y' }, [get('deprecated')]),
    labelled('tier-c', { tier: 'c', aggregate: '' }, [get('tier-c')]),
  ]
  t.same(aggregatedRules(agg, all), [get('a'), get('b')])
})

t.test('an empty selector selects every other role; an empty selector list selects none', async (t) => {
  const everything = clusterRole('all', [], { aggregationRule: { clusterRoleSelectors: [{}] } })
  t.same(aggregatedRules(everything, [everything, clusterRole('x', [get('x')]), clusterRole('y', [get('y')])]), [get('x'), get('y')])
  const none = clusterRole('none', [get('kept?')], { aggregationRule: { clusterRoleSelectors: [] } })
  t.same(aggregatedRules(none, [clusterRole('x', [get('x')])]), [], 'upstream writes an empty rule list')
})

t.test('an unparseable selector is refused', async (t) => {
  const bad = clusterRole('bad', [], { aggregationRule: { clusterRoleSelectors: [{ matchExpressions: [{ key: 'k', operator: 'Like', values: ['v'] }] }] } })
  t.throws(() => aggregatedRules(bad, []), /not a valid label selector operator/)
  const badKey = clusterRole('bad', [], { aggregationRule: { clusterRoleSelectors: [{ matchLabels: { 'bad key!': 'v' } }] } })
  t.throws(() => aggregatedRules(badKey, []))
})

t.test('rulesEqual treats missing and empty lists alike, as upstream\'s semantic equality', async (t) => {
  t.ok(rulesEqual(undefined, []))
  t.ok(rulesEqual([{ verbs: ['get'], resources: ['pods'] }], [{ verbs: ['get'], resources: ['pods'], resourceNames: [] }]))
  t.notOk(rulesEqual([{ verbs: ['get'], resources: ['pods'] }], [{ verbs: ['get'], resources: ['pods', 'x'] }]))
  t.notOk(rulesEqual([get('a'), get('b')], [get('b'), get('a')]), 'order matters')
})

t.test('pendingAggregations: only the aggregating roles that are out of date, and the broken ones', async (t) => {
  const sel = { clusterRoleSelectors: [{ matchLabels: { agg: 'yes' } }] }
  const fresh = clusterRole('fresh', [get('a')], { aggregationRule: sel })
  const stale = clusterRole('stale', [], { aggregationRule: sel })
  const broken = clusterRole('broken', [], { aggregationRule: { clusterRoleSelectors: [{ matchExpressions: [{ key: 'k', operator: 'Nope' }] }] } })
  const all = [fresh, stale, broken, labelled('part', { agg: 'yes' }, [get('a')]), clusterRole('plain', [get('b')])]
  t.same(pendingAggregations(all), [
    { name: 'stale', rules: [get('a')] },
    { name: 'broken', error: '"Nope" is not a valid label selector operator' },
  ])
})
