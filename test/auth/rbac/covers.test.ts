import t from 'tap'
import { breakdownRule, compactRules, compactString, covers } from '../../../src/auth/rbac/covers.ts'
import { rule, urlRule } from './helpers.ts'

t.test('breakdown: one rule per group × resource × verb (× name), URLs per verb', async (t) => {
  const parts = breakdownRule(rule({ verbs: ['get', 'list'], apiGroups: ['', 'apps'], resources: ['pods'], resourceNames: ['a', 'b'], nonResourceURLs: ['/x'] }))
  t.equal(parts.length, 2 * 2 * 2 + 2)
  t.same(parts[0], rule({ verbs: ['get'], apiGroups: [''], resources: ['pods'], resourceNames: ['a'] }))
  t.same(parts.at(-1), urlRule(['list'], ['/x']))
})

// Cases after upstream's policy_comparator_test.go.
const cases: { name: string; owner: ReturnType<typeof rule>[]; servant: ReturnType<typeof rule>[]; covered: boolean; missing?: ReturnType<typeof rule>[] }[] = [
  {
    name: 'exact match',
    owner: [rule({ verbs: ['get'], apiGroups: ['v1'], resources: ['builds'] })],
    servant: [rule({ verbs: ['get'], apiGroups: ['v1'], resources: ['builds'] })],
    covered: true,
  },
  {
    name: 'partial match names what is missing',
    owner: [rule({ verbs: ['get'], apiGroups: ['v1'], resources: ['builds'] })],
    servant: [rule({ verbs: ['get', 'delete'], apiGroups: ['v1'], resources: ['builds', 'pods'] })],
    covered: false,
    missing: [
      rule({ verbs: ['delete'], apiGroups: ['v1'], resources: ['builds'] }),
      rule({ verbs: ['get'], apiGroups: ['v1'], resources: ['pods'] }),
      rule({ verbs: ['delete'], apiGroups: ['v1'], resources: ['pods'] }),
    ],
  },
  {
    name: 'stars cover everything',
    owner: [rule({ verbs: ['*'], apiGroups: ['*'], resources: ['*'] })],
    servant: [rule({ verbs: ['escalate'], apiGroups: ['rbac.authorization.k8s.io'], resources: ['roles/finalizers'], resourceNames: ['x'] })],
    covered: true,
  },
  {
    name: 'a star verb is not covered by named verbs',
    owner: [rule({ verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete', 'deletecollection'], resources: ['pods'] })],
    servant: [rule({ verbs: ['*'], resources: ['pods'] })],
    covered: false,
    missing: [rule({ verbs: ['*'], resources: ['pods'] })],
  },
  {
    name: 'resource names: unnamed owner covers named; named owner covers only its names; named never covers unnamed',
    owner: [rule({ verbs: ['get'], resources: ['secrets'], resourceNames: ['a', 'b'] }), rule({ verbs: ['list'], resources: ['secrets'] })],
    servant: [rule({ verbs: ['get'], resources: ['secrets'], resourceNames: ['a'] }), rule({ verbs: ['list'], resources: ['secrets'], resourceNames: ['z'] }), rule({ verbs: ['get'], resources: ['secrets'] })],
    covered: false,
    missing: [rule({ verbs: ['get'], resources: ['secrets'] })],
  },
  {
    name: '*/subresource covers any resource\'s subresource, not the resource',
    owner: [rule({ verbs: ['get'], resources: ['*/scale'] })],
    servant: [rule({ verbs: ['get'], resources: ['deployments/scale', 'deployments'] })],
    covered: false,
    missing: [rule({ verbs: ['get'], resources: ['deployments'] })],
  },
  {
    name: 'non-resource URLs: exact, prefix and star',
    owner: [urlRule(['get'], ['/healthz', '/api/*']), urlRule(['post'], ['*'])],
    servant: [urlRule(['get'], ['/healthz', '/api/v1', '/version']), urlRule(['post'], ['/anything'])],
    covered: false,
    missing: [urlRule(['get'], ['/version'])],
  },
  {
    name: 'resource rules do not cover URL rules',
    owner: [rule({ verbs: ['*'], apiGroups: ['*'], resources: ['*'] })],
    servant: [urlRule(['get'], ['/healthz'])],
    covered: false,
    missing: [urlRule(['get'], ['/healthz'])],
  },
  {
    name: 'nothing requested is always covered',
    owner: [],
    servant: [rule({ verbs: [], resources: ['pods'] })],
    covered: true,
  },
]

for (const c of cases) {
  t.test(c.name, async (t) => {
    const result = covers(c.owner, c.servant)
    t.equal(result.covered, c.covered)
    t.same(result.missing, c.missing ?? [])
  })
}

t.test('compaction merges single group/resource rules by verbs; compact text is upstream\'s', async (t) => {
  const missing = covers([], [rule({ verbs: ['get', 'list'], apiGroups: ['extensions'], resources: ['jobs', 'pods'] }), urlRule(['get'], ['/x']), rule({ verbs: ['get'], resources: ['secrets'], resourceNames: ['s'] })]).missing
  const texts = compactRules(missing).map(compactString).sort()
  t.same(texts, [
    '{APIGroups:[""], Resources:["secrets"], ResourceNames:["s"], Verbs:["get"]}',
    '{APIGroups:["extensions"], Resources:["jobs"], Verbs:["get" "list"]}',
    '{APIGroups:["extensions"], Resources:["pods"], Verbs:["get" "list"]}',
    '{NonResourceURLs:["/x"], Verbs:["get"]}',
  ])
})
