import t from 'tap'
import { nonResourceURLMatches, resourceMatches, ruleAllows } from '../../../src/auth/rbac/rules.ts'
import type { PolicyRule } from '../../../src/auth/rbac/rules.ts'
import { nonRes, res, rule, urlRule, user } from './helpers.ts'

const u = user('u')

interface Req {
  verb: string
  group?: string
  resource?: string
  subresource?: string
  name?: string
  url?: string
}

function allows(r: PolicyRule, q: Req): boolean {
  if (q.url !== undefined) return ruleAllows(nonRes(u, q.verb, q.url), r)
  return ruleAllows(res(u, q.verb, q.resource ?? '', { apiGroup: q.group ?? '', subresource: q.subresource ?? '', name: q.name ?? '' }), r)
}

// From upstream plugin/pkg/auth/authorizer/rbac/rbac_test.go TestRuleMatches.
const cases: { name: string; rule: PolicyRule; expect: [Req, boolean][] }[] = [
  {
    name: 'star verb, exact match other',
    rule: rule({ verbs: ['*'], apiGroups: ['group1'], resources: ['resource1'] }),
    expect: [
      [{ verb: 'verb1', group: 'group1', resource: 'resource1' }, true],
      [{ verb: 'verb1', group: 'group2', resource: 'resource1' }, false],
      [{ verb: 'verb1', group: 'group1', resource: 'resource2' }, false],
      [{ verb: 'verb2', group: 'group1', resource: 'resource1' }, true],
      [{ verb: 'verb2', group: 'group2', resource: 'resource2' }, false],
    ],
  },
  {
    name: 'star group, exact match other',
    rule: rule({ verbs: ['verb1'], apiGroups: ['*'], resources: ['resource1'] }),
    expect: [
      [{ verb: 'verb1', group: 'group1', resource: 'resource1' }, true],
      [{ verb: 'verb1', group: 'group2', resource: 'resource1' }, true],
      [{ verb: 'verb1', group: 'group1', resource: 'resource2' }, false],
      [{ verb: 'verb2', group: 'group1', resource: 'resource1' }, false],
    ],
  },
  {
    name: 'star resource, exact match other',
    rule: rule({ verbs: ['verb1'], apiGroups: ['group1'], resources: ['*'] }),
    expect: [
      [{ verb: 'verb1', group: 'group1', resource: 'resource1' }, true],
      [{ verb: 'verb1', group: 'group1', resource: 'resource2' }, true],
      [{ verb: 'verb1', group: 'group2', resource: 'resource1' }, false],
      [{ verb: 'verb2', group: 'group1', resource: 'resource1' }, false],
      [{ verb: 'verb1', group: 'group1', resource: 'resource1', subresource: 'status' }, true],
    ],
  },
  {
    name: 'tuple expansion',
    rule: rule({ verbs: ['verb1', 'verb2'], apiGroups: ['group1', 'group2'], resources: ['resource1', 'resource2'] }),
    expect: [
      [{ verb: 'verb1', group: 'group1', resource: 'resource1' }, true],
      [{ verb: 'verb1', group: 'group2', resource: 'resource2' }, true],
      [{ verb: 'verb2', group: 'group2', resource: 'resource1' }, true],
      [{ verb: 'verb3', group: 'group1', resource: 'resource1' }, false],
    ],
  },
  {
    name: 'subresource expansion',
    rule: rule({ verbs: ['*'], apiGroups: ['*'], resources: ['resource1/subresource1'] }),
    expect: [
      [{ verb: 'verb1', group: 'group1', resource: 'resource1', subresource: 'subresource1' }, true],
      [{ verb: 'verb1', group: 'group2', resource: 'resource1', subresource: 'subresource2' }, false],
      [{ verb: 'verb1', group: 'group1', resource: 'resource2', subresource: 'subresource1' }, false],
      [{ verb: 'verb2', group: 'group1', resource: 'resource1', subresource: 'subresource1' }, true],
      [{ verb: 'verb1', group: 'group1', resource: 'resource1' }, false],
    ],
  },
  {
    name: 'a resource does not grant its subresources (rbac_test TestAuthorizer)',
    rule: rule({ verbs: ['*'], apiGroups: ['*'], resources: ['pods'] }),
    expect: [
      [{ verb: 'get', resource: 'pods' }, true],
      [{ verb: 'get', resource: 'pods', subresource: 'status' }, false],
    ],
  },
  {
    name: '*/subresource matches that subresource of any resource, and nothing else',
    rule: rule({ verbs: ['get'], apiGroups: ['*'], resources: ['*/scale'] }),
    expect: [
      [{ verb: 'get', resource: 'deployments', subresource: 'scale' }, true],
      [{ verb: 'get', resource: 'replicasets', subresource: 'scale' }, true],
      [{ verb: 'get', resource: 'deployments', subresource: 'status' }, false],
      [{ verb: 'get', resource: 'deployments', subresource: 'xscale' }, false],
      [{ verb: 'get', resource: 'deployments', subresource: 'cale' }, false],
      [{ verb: 'get', resource: 'deployments' }, false],
      [{ verb: 'get', resource: '*/scale' }, true],
    ],
  },
  {
    name: 'resource/* is no wildcard upstream: only a subresource literally named *',
    rule: rule({ verbs: ['get'], resources: ['pods/*'] }),
    expect: [
      [{ verb: 'get', resource: 'pods', subresource: 'log' }, false],
      [{ verb: 'get', resource: 'pods' }, false],
      [{ verb: 'get', resource: 'pods', subresource: '*' }, true],
    ],
  },
  {
    name: 'resourceNames: listed names only, never a request without a name',
    rule: rule({ verbs: ['get', 'list', 'create', 'update'], resources: ['configmaps'], resourceNames: ['a', 'b'] }),
    expect: [
      [{ verb: 'get', resource: 'configmaps', name: 'a' }, true],
      [{ verb: 'update', resource: 'configmaps', name: 'b' }, true],
      [{ verb: 'get', resource: 'configmaps', name: 'c' }, false],
      [{ verb: 'list', resource: 'configmaps' }, false],
      [{ verb: 'create', resource: 'configmaps' }, false],
    ],
  },
  {
    name: 'verbs, groups and names compare exactly (no case folding)',
    rule: rule({ verbs: ['get'], apiGroups: ['apps'], resources: ['deployments'] }),
    expect: [
      [{ verb: 'GET', group: 'apps', resource: 'deployments' }, false],
      [{ verb: 'get', group: 'Apps', resource: 'deployments' }, false],
      [{ verb: 'get', group: 'apps', resource: 'Deployments' }, false],
      [{ verb: 'get', group: '', resource: 'deployments' }, false],
    ],
  },
  {
    name: 'star nonresource, exact match other',
    rule: urlRule(['verb1'], ['*']),
    expect: [
      [{ verb: 'verb1', url: '/foo' }, true],
      [{ verb: 'verb1', url: '/foo/bar/one' }, true],
      [{ verb: 'verb2', url: '/foo' }, false],
    ],
  },
  {
    name: 'star nonresource subpath',
    rule: urlRule(['verb1'], ['/foo/*']),
    expect: [
      [{ verb: 'verb1', url: '/foo' }, false],
      [{ verb: 'verb1', url: '/foo/bar' }, true],
      [{ verb: 'verb1', url: '/foo/baz/one' }, true],
      [{ verb: 'verb1', url: '/notfoo' }, false],
      [{ verb: 'verb1', url: '/notfoo/bar' }, false],
    ],
  },
  {
    name: 'star verb, exact nonresource',
    rule: urlRule(['*'], ['/foo', '/foo/bar/one']),
    expect: [
      [{ verb: 'verb1', url: '/foo' }, true],
      [{ verb: 'verb1', url: '/foo/bar' }, false],
      [{ verb: 'verb2', url: '/foo/bar/one' }, true],
      [{ verb: 'verb2', url: '/foo/baz/one' }, false],
    ],
  },
  {
    name: 'a prefix without a slash (/api*) and repeated stars',
    rule: urlRule(['get'], ['/api*', '/healthz**']),
    expect: [
      [{ verb: 'get', url: '/api' }, true],
      [{ verb: 'get', url: '/apis/apps' }, true],
      [{ verb: 'get', url: '/healthz/etcd' }, true],
      [{ verb: 'get', url: '/ap' }, false],
    ],
  },
  {
    name: 'a resource rule never matches a non-resource request, nor the reverse',
    rule: rule({ verbs: ['*'], apiGroups: ['*'], resources: ['*'] }),
    expect: [
      [{ verb: 'get', url: '/healthz' }, false],
      [{ verb: 'get', resource: 'anything', name: 'x' }, true],
    ],
  },
]

for (const c of cases) {
  t.test(c.name, async (t) => {
    for (const [req, want] of c.expect) t.equal(allows(c.rule, req), want, JSON.stringify(req))
  })
}

t.test('non-resource URL rules never match resource requests', async (t) => {
  t.notOk(ruleAllows(res(u, 'get', 'pods'), urlRule(['*'], ['*'])))
})

t.test('helpers match upstream edge cases', async (t) => {
  const r = rule({ resources: ['*/'] })
  t.notOk(resourceMatches(r, 'pods', ''), '*/ with no subresource is no match')
  t.ok(nonResourceURLMatches(urlRule([], ['*']), ''), '* matches even the empty path')
  t.notOk(nonResourceURLMatches(urlRule([], ['/foo']), '/foo/'), 'exact means exact')
  t.ok(ruleAllows(res(u, 'get', 'configmaps', { name: '' }), rule({ verbs: ['get'], resources: ['configmaps'], resourceNames: [''] })), 'upstream compares names exactly, so a listed empty name matches a request with none')
})
