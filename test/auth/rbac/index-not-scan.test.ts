// The authorizer finds a caller's bindings through its indexes: the work one request does
// depends on the caller's own bindings, not on how many bindings exist. Counted, not timed.
import t from 'tap'
import { RbacAuthorizer } from '../../../src/auth/rbac/authorizer.ts'
import type { Attributes } from '../../../src/auth/types.ts'
import { clusterRole, clusterRoleBinding, nonRes, res, roleBinding, user } from './helpers.ts'

function cluster(others: number): RbacAuthorizer {
  const a = new RbacAuthorizer()
  a.upsert(clusterRole('view', [{ apiGroups: [''], resources: ['pods', 'services'], verbs: ['get', 'list'] }, { verbs: ['get'], nonResourceURLs: ['/healthz'] }]))
  a.upsert(clusterRole('edit', [{ apiGroups: ['apps'], resources: ['deployments'], verbs: ['*'] }]))
  for (let i = 0; i < others; i++) {
    // Strangers' bindings: cluster-wide, in the caller's namespace, and in other namespaces.
    a.upsert(clusterRoleBinding(`crb-${i}`, 'view', [`User:user-${i}`, `Group:group-${i}`, `ServiceAccount:ns-${i}/sa-${i}`]))
    a.upsert(roleBinding('team', `rb-${i}`, { kind: 'ClusterRole', name: 'edit' }, [`User:user-${i}`, `ServiceAccount:sa-${i}`]))
    a.upsert(roleBinding(`ns-${i}`, 'rb', { kind: 'ClusterRole', name: 'edit' }, ['User:alice', 'Group:devs']))
  }
  a.upsert(clusterRoleBinding('alice-view', 'view', ['User:alice']))
  a.upsert(roleBinding('team', 'devs-edit', { kind: 'ClusterRole', name: 'edit' }, ['Group:devs']))
  a.upsert(roleBinding('team', 'bot-edit', { kind: 'ClusterRole', name: 'edit' }, ['ServiceAccount:bot']))
  return a
}

const alice = user('alice', ['devs', 'system:authenticated'])
const bot = user('system:serviceaccount:team:bot', ['system:serviceaccounts'])
const requests: [string, Attributes][] = [
  ['allowed cluster-wide', res(alice, 'list', 'pods', { namespace: 'team' })],
  ['allowed by a RoleBinding', res(alice, 'update', 'deployments', { namespace: 'team', apiGroup: 'apps', name: 'web' })],
  ['refused after every rule of the caller', res(alice, 'delete', 'secrets', { namespace: 'team' })],
  ['a service account', res(bot, 'patch', 'deployments', { namespace: 'team', apiGroup: 'apps' })],
  ['a non-resource URL', nonRes(alice, 'get', '/healthz')],
  ['a stranger', res(user('nobody', ['nogroup']), 'get', 'pods', { namespace: 'team' })],
]

function work(a: RbacAuthorizer, attrs: Attributes): { decision: string; bindingsExamined: number; rulesExamined: number } {
  a.stats.bindingsExamined = 0
  a.stats.rulesExamined = 0
  const { decision } = a.authorize(attrs)
  return { decision, ...a.stats }
}

t.test('10,000 bindings cost a request no more than 100', async (t) => {
  const small = cluster(100)
  const big = cluster(10_000)
  for (const [name, attrs] of requests) {
    const s = work(small, attrs)
    const b = work(big, attrs)
    t.same(b, s, name)
    t.ok(b.rulesExamined <= 4, `${name}: ${b.rulesExamined} rules examined`)
  }
})

t.test('the counters do count: a caller bound many times examines every binding', async (t) => {
  const a = new RbacAuthorizer()
  a.upsert(clusterRole('view', [{ apiGroups: [''], resources: ['pods'], verbs: ['get'] }]))
  for (let i = 0; i < 50; i++) a.upsert(clusterRoleBinding(`b-${i}`, 'view', ['Group:everyone']))
  const w = work(a, res(user('u', ['everyone']), 'delete', 'pods'))
  t.same(w, { decision: 'noOpinion', bindingsExamined: 50, rulesExamined: 50 })
  t.same(work(a, res(user('u', ['everyone']), 'get', 'pods')), { decision: 'allow', bindingsExamined: 1, rulesExamined: 1 }, 'the first allowing rule ends the walk')
})
