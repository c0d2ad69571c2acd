// The API server's protection: in-flight caps (429 with Retry-After), request deadlines
// (504, slow bodies cut), watch caps, body nesting limits (400, never 500), and the objects
// the cluster needs that cannot be deleted.
import t from 'tap'
import { request as httpsRequest } from 'node:https'
import { setTimeout as sleep } from 'node:timers/promises'
import { checkDepth } from '../../src/apiserver/http-io.ts'
import { isLongRunning, RequestLimits } from '../../src/apiserver/request-limits.ts'
import { adminFetch, call, startTestServer, userCredentials } from '../helpers/apiserver.ts'

const alice = { username: 'alice', groups: ['system:authenticated'] }
const admin = { username: 'kubernetes-admin', groups: ['system:masters', 'system:authenticated'] }

t.test('RequestLimits: slots, exemptions, watch caps, deadlines', async (t) => {
  const limits = new RequestLimits({ maxRequestsInflight: 1, maxMutatingRequestsInflight: 1, maxWatches: 3, maxWatchesPerUser: 2, requestTimeoutMs: 60_000 })
  const release = limits.admit(true, alice)
  t.throws(() => limits.admit(true, alice), { code: 429, message: 'Too many requests, please try again later.' })
  const readOnly = limits.admit(false, alice)
  t.doesNotThrow(() => limits.admit(true, admin)(), 'system:masters is never turned away')
  release()
  release()
  t.equal(limits.inFlight.mutating, 0, 'a slot is freed once, however often its release is called')
  readOnly()
  const w1 = limits.admitWatch(alice)
  limits.admitWatch(alice)
  t.throws(() => limits.admitWatch(alice), /user "alice" has too many watches open \(2\)/)
  limits.admitWatch({ username: 'bob', groups: [] })
  t.throws(() => limits.admitWatch({ username: 'carol', groups: [] }), /too many watches are open \(3\)/)
  w1()
  t.doesNotThrow(() => limits.admitWatch(alice), 'a closed watch frees its place')
  t.equal(limits.timeoutMs(new URLSearchParams()), 60_000)
  t.equal(limits.timeoutMs(new URLSearchParams('timeout=5s')), 5000, "a client's shorter deadline")
  t.equal(limits.timeoutMs(new URLSearchParams('timeout=2h')), 60_000, 'never longer than the server allows')
  t.throws(() => limits.timeoutMs(new URLSearchParams('timeout=soon')), { code: 400 })
  t.ok(isLongRunning('watch', undefined) && isLongRunning('create', 'exec') && isLongRunning('get', 'log') && !isLongRunning('list', undefined) && !isLongRunning('get', 'status'))
})

t.test('checkDepth walks without recursion', async (t) => {
  let deep: unknown = 1
  for (let i = 0; i < 100_000; i++) deep = [deep]
  t.throws(() => checkDepth(deep), { code: 400, message: 'the request body nests deeper than 1000 levels' })
  let ok: unknown = {}
  for (let i = 0; i < 999; i++) ok = { a: ok }
  t.doesNotThrow(() => checkDepth(ok))
})

/** A request whose body never finishes: it holds its slot until the deadline cuts it. */
function stalledPost(url: string, creds: { caPem?: string; certPem?: string; keyPem?: string }): Promise<{ status: number; body: string; ms: number }> {
  const started = Date.now()
  const u = new URL(url)
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      { host: u.hostname, port: u.port, method: 'POST', path: '/api/v1/namespaces/default/configmaps', ca: creds.caPem, cert: creds.certPem, key: creds.keyPem, headers: { 'content-type': 'application/json', 'content-length': '1000' } },
      (res) => {
        let body = ''
        res.on('data', (d) => (body += d)).on('end', () => {
          req.destroy()
          resolve({ status: res.statusCode!, body, ms: Date.now() - started })
        })
      },
    )
    req.on('error', reject)
    req.write('{"metadata":')
  })
}

t.test('the server: 429 past the in-flight cap, 504 at the deadline, watch caps, deep bodies, protected objects', async (t) => {
  const s = await startTestServer(t, { dnsReplicas: 1, limits: { maxMutatingRequestsInflight: 1, requestTimeoutMs: 1500, maxWatchesPerUser: 2 } })
  const as = await userCredentials('alice')
  t.equal((await call(s.url, 'POST', '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', { metadata: { name: 'alice' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' }, subjects: [{ kind: 'User', name: 'alice', apiGroup: 'rbac.authorization.k8s.io' }] })).status, 201)

  const stalled = stalledPost(s.url, as)
  await sleep(200)
  const refused = await call(s.url, 'POST', '/api/v1/namespaces/default/configmaps', { metadata: { name: 'second' } }, {}, as)
  t.equal(refused.status, 429)
  t.equal(refused.headers.get('retry-after'), '1')
  t.equal(refused.body.reason, 'TooManyRequests')
  t.equal(refused.body.message, 'Too many requests, please try again later.')
  t.equal((await call(s.url, 'GET', '/api/v1/namespaces/default/configmaps', undefined, {}, as)).status, 200, 'reads have their own slots')
  t.equal((await call(s.url, 'POST', '/api/v1/namespaces/default/configmaps', { metadata: { name: 'by-admin' } })).status, 201, 'cluster admins are not turned away')
  t.equal((await call(s.url, 'GET', '/readyz', undefined, {}, as)).status, 200, 'health checks are not counted')

  const cut = await stalled
  t.equal(cut.status, 504, 'a body that does not arrive is cut at the deadline')
  t.match(JSON.parse(cut.body), { reason: 'Timeout', message: 'Timeout: request did not complete within requested timeout - context deadline exceeded' })
  t.ok(cut.ms >= 1400 && cut.ms < 5000, `after ${cut.ms} ms`)
  t.equal((await call(s.url, 'POST', '/api/v1/namespaces/default/configmaps', { metadata: { name: 'second' } }, {}, as)).status, 201, 'its slot is free again')
  t.equal((await call(s.url, 'GET', '/api/v1/namespaces/default/configmaps?timeout=nonsense', undefined, {}, as)).status, 400)

  // Watches: two per user here; a third waits for one to close.
  const controllers = [new AbortController(), new AbortController()]
  const open = await Promise.all(controllers.map((c) => adminFetch(`${s.url}/api/v1/namespaces/default/configmaps?watch=true`, { signal: c.signal }, as)))
  t.same(open.map((r) => r.status), [200, 200])
  await sleep(1700)
  t.equal((await call(s.url, 'GET', '/api/v1/namespaces/default/configmaps?watch=true&timeoutSeconds=1', undefined, {}, as)).status, 429, 'a third watch is refused')
  t.equal((await call(s.url, 'POST', '/api/v1/namespaces/default/configmaps', { metadata: { name: 'during-watch' } }, {}, as)).status, 201, 'watches outlive the request deadline and hold no request slot')
  controllers[0]!.abort()
  await sleep(200)
  const third = await call(s.url, 'GET', '/api/v1/namespaces/default/configmaps?watch=true&timeoutSeconds=1', undefined, {}, as)
  t.equal(third.status, 200, 'a closed watch makes room')
  controllers[1]!.abort()

  // Bodies that nest too deep are a 400, in JSON and YAML alike.
  const deepJson = '{"metadata":{"name":"deep"},"data":' + '['.repeat(5000) + ']'.repeat(5000) + '}'
  const json = await call(s.url, 'POST', '/api/v1/namespaces/default/configmaps', deepJson, {}, as)
  t.equal(json.status, 400)
  t.equal(json.body.message, 'the request body nests deeper than 1000 levels')
  const deepYaml = 'metadata: {name: deep}\ndata: ' + '['.repeat(3000) + ']'.repeat(3000) + '\n'
  const yaml = await call(s.url, 'POST', '/api/v1/namespaces/default/configmaps', deepYaml, { 'content-type': 'application/yaml' }, as)
  t.equal(yaml.status, 400, yaml.body.message)

  // What the cluster needs stays.
  const ns = await call(s.url, 'DELETE', '/api/v1/namespaces/kube-system')
  t.equal(ns.status, 403)
  t.equal(ns.body.message, 'namespaces "kube-system" is forbidden: this namespace may not be deleted')
  const svc = await call(s.url, 'DELETE', '/api/v1/namespaces/default/services/kubernetes')
  t.equal(svc.status, 403)
  t.match(svc.body.message, /services "kubernetes" is forbidden: the cluster needs it/)
  const dns = await call(s.url, 'DELETE', '/apis/apps/v1/namespaces/kube-system/deployments/coredns?dryRun=All')
  t.equal(dns.status, 403, 'dry-run deletes are refused alike')
  t.equal((await call(s.url, 'POST', '/api/v1/namespaces/kube-system/services', { metadata: { name: 'extra' }, spec: { ports: [{ port: 80 }] } })).status, 201)
  const all = await call(s.url, 'DELETE', '/api/v1/namespaces/kube-system/services')
  t.equal(all.status, 200)
  t.same(all.body.items.map((i: any) => i.metadata.name), ['extra'], 'a collection delete takes the rest')
  t.match(all.headers.get('warning'), /services \\"kube-dns\\" was kept: the cluster DNS needs it/)
  t.equal((await call(s.url, 'GET', '/api/v1/namespaces/kube-system/services/kube-dns')).status, 200)
  const mine = await call(s.url, 'POST', '/api/v1/namespaces', { metadata: { name: 'mine' } })
  t.equal(mine.status, 201)
  t.equal((await call(s.url, 'DELETE', '/api/v1/namespaces/mine')).status, 200, 'other namespaces are deleted as ever')
})
