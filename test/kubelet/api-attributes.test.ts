import t from 'tap'
import { kubeletForbidden, kubeletRequestAttributes, kubeletSubresource, kubeletVerb } from '../../src/kubelet/api-attributes.ts'

t.test('paths map to the subresources upstream authorizes them as', async (t) => {
  const cases: Array<[string, string]> = [
    ['/stats', 'stats'],
    ['/stats/summary', 'stats'],
    ['/stats/', 'stats'],
    ['/statsx', 'proxy'],
    ['/metrics', 'metrics'],
    ['/metrics/cadvisor', 'metrics'],
    ['/metricsfoo', 'proxy'],
    ['/logs/', 'log'],
    ['/logs/syslog', 'log'],
    ['/logsx', 'proxy'],
    ['/containerLogs/default/web/app', 'log'],
    ['/containerLogsx/a', 'proxy'],
    ['/pods', 'proxy'],
    ['/healthz', 'proxy'],
    ['/', 'proxy'],
    ['/run/default/web/app', 'proxy'],
    ['/exec/default/web/app', 'proxy'],
    ['/Stats/summary', 'proxy'],
  ]
  for (const [path, sub] of cases) t.equal(kubeletSubresource(path), sub, path)
})

t.test('verbs come from the HTTP method; others have none', async (t) => {
  t.same(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS', undefined].map(kubeletVerb), ['get', 'create', 'update', 'patch', 'delete', '', '', ''])
})

t.test('the attributes name this node; the 403 body is the kubelet’s', async (t) => {
  const user = { username: 'system:node:n2', groups: ['system:nodes', 'system:authenticated'] }
  const a = kubeletRequestAttributes(user, 'GET', '/containerLogs/default/web/app', 'n1')
  t.same(a, { resourceRequest: true, user, verb: 'get', namespace: '', apiGroup: '', apiVersion: 'v1', resource: 'nodes', subresource: 'log', name: 'n1' })
  t.equal(kubeletForbidden(a), 'Forbidden (user=system:node:n2, verb=get, resource=nodes, subresource=log)')
  t.equal(kubeletForbidden(kubeletRequestAttributes(user, 'POST', '/pods', 'n1')), 'Forbidden (user=system:node:n2, verb=create, resource=nodes, subresource=proxy)')
})

t.test('streaming paths are create on nodes/proxy whatever the method (a WebSocket upgrade is a GET)', async (t) => {
  const user = { username: 'u', groups: [] }
  for (const path of ['/exec/default/web/app', '/attach/default/web/app', '/portForward/default/web', '/run/default/web/app', '/exec']) {
    const a = kubeletRequestAttributes(user, 'GET', path, 'n1')
    t.equal(a.verb, 'create', path)
    t.equal(a.subresource, 'proxy', path)
  }
  t.equal(kubeletRequestAttributes(user, 'GET', '/execx/a', 'n1').verb, 'get')
  t.equal(kubeletRequestAttributes(user, 'GET', '/pods', 'n1').verb, 'get')
})
