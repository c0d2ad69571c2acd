import t from 'tap'
import { AuthorizationIndex, meshAuthorizationCrd, parseAuthorization, type Connection } from '../../mesh/authorization.ts'

const policy = (name: string, spec: unknown, namespace = 'shop') => parseAuthorization({ metadata: { name, namespace }, spec })
const conn = (sa: string, ns = 'front', port = 8080, labels: Record<string, string> = { app: 'web' }, dstNs = 'shop'): Connection => ({ source: { trustDomain: 'cluster.local', namespace: ns, serviceAccount: sa }, destination: { namespace: dstNs, labels }, port })

t.test('the evaluation table: default allow, DENY first, then ALLOW must match', async (t) => {
  const cases: Array<[string, unknown[], Connection, boolean]> = [
    ['no policy: allowed', [], conn('web'), true],
    ['a policy of another namespace does not apply', [policy('deny-all', { action: 'DENY', rules: [{}] }, 'other')], conn('web'), true],
    ['DENY with an empty rule matches everything', [policy('deny-all', { action: 'DENY', rules: [{}] })], conn('web'), false],
    ['DENY without rules matches nothing', [policy('deny-none', { action: 'DENY' })], conn('web'), true],
    ['spec: {} is default deny (ALLOW nothing)', [policy('default-deny', {})], conn('web'), false],
    ['ALLOW by service account', [policy('allow-web', { rules: [{ from: [{ serviceAccounts: ['front/web'] }] }] })], conn('web'), true],
    ['ALLOW by service account: another one is denied', [policy('allow-web', { rules: [{ from: [{ serviceAccounts: ['front/web'] }] }] })], conn('batch'), false],
    ['ALLOW by namespace', [policy('allow-front', { rules: [{ from: [{ namespaces: ['front'] }] }] })], conn('anything'), true],
    ['ALLOW by namespace: another namespace is denied', [policy('allow-front', { rules: [{ from: [{ namespaces: ['front'] }] }] })], conn('web', 'back'), false],
    ['ALLOW by principal', [policy('p', { rules: [{ from: [{ principals: ['spiffe://cluster.local/ns/front/sa/web'] }] }] })], conn('web'), true],
    ['fields of a source all hold', [policy('p', { rules: [{ from: [{ namespaces: ['front'], serviceAccounts: ['back/web'] }] }] })], conn('web'), false],
    ['sources of a rule: any one', [policy('p', { rules: [{ from: [{ namespaces: ['back'] }, { serviceAccounts: ['front/web'] }] }] })], conn('web'), true],
    ['ports: listed', [policy('p', { rules: [{ ports: [8080] }] })], conn('web', 'front', 8080), true],
    ['ports: another is denied', [policy('p', { rules: [{ ports: [8080] }] })], conn('web', 'front', 9090), false],
    ['DENY one account wins over ALLOW all', [policy('allow-all', { rules: [{}] }), policy('deny-batch', { action: 'DENY', rules: [{ from: [{ serviceAccounts: ['front/batch'] }] }] })], conn('batch'), false],
    ['DENY one account leaves others', [policy('allow-all', { rules: [{}] }), policy('deny-batch', { action: 'DENY', rules: [{ from: [{ serviceAccounts: ['front/batch'] }] }] })], conn('web'), true],
    ['a selector that does not select the pod does not apply', [policy('db-only', { selector: { matchLabels: { app: 'db' } } })], conn('web'), true],
    ['a selector that selects it does', [policy('web-only', { selector: { matchLabels: { app: 'web' } } })], conn('web'), false],
    ['matchExpressions', [policy('x', { selector: { matchExpressions: [{ key: 'app', operator: 'In', values: ['web', 'api'] }] }, action: 'DENY', rules: [{}] })], conn('web'), false],
  ]
  for (const [what, policies, c, allowed] of cases) t.equal(new AuthorizationIndex(policies as never).decide(c).allowed, allowed, what)
})

t.test('decisions name the policy and the reason', async (t) => {
  const index = new AuthorizationIndex([policy('deny-batch', { action: 'DENY', rules: [{ from: [{ serviceAccounts: ['front/batch'] }] }] }), policy('allow', { rules: [{ from: [{ namespaces: ['front'] }] }] })])
  t.same(index.decide(conn('batch')), { allowed: false, policy: 'shop/deny-batch', reason: 'denied by MeshAuthorization shop/deny-batch' })
  t.same(index.decide(conn('web')), { allowed: true, policy: 'shop/allow' })
  t.match(index.decide(conn('web', 'back')), { allowed: false, reason: /no MeshAuthorization of shop allows it \(allow select the pod\)/ })
})

t.test('a policy that does not parse closes its own namespace, and only it', async (t) => {
  const bad: Array<[unknown, RegExp]> = [
    [{ action: 'MAYBE' }, /spec\.action "MAYBE" is not ALLOW or DENY/],
    [{ rules: [{ from: [{ serviceAccounts: ['nons'] }] }] }, /is not namespace\/name/],
    [{ rules: [{ from: [{ serviceAccounts: ['a/b/c'] }] }] }, /is not namespace\/name/],
    [{ rules: [{ from: [{ namespaces: ['Bad_NS'] }] }] }, /not a namespace name/],
    [{ rules: [{ from: [{ principals: ['https://x/ns/a/sa/b'] }] }] }, /scheme must be spiffe/],
    [{ rules: [{ ports: [0] }] }, /not a port from 1 to 65535/],
    [{ rules: [{ ports: ['80'] }] }, /not a port/],
    [{ rules: [{ to: [] }] }, /unknown fields to/],
    [{ selector: { matchLabels: { 'bad key!': 'x' } } }, /spec\.selector/],
    [{ rules: 'all' }, /spec\.rules must be a list/],
    ['x', /spec must be an object/],
    [{ rules: Array.from({ length: 300 }, () => ({})) }, /at most 256/],
  ]
  for (const [spec, reason] of bad) {
    const p = policy('bad', spec)
    t.match(p, { invalid: reason }, JSON.stringify(spec).slice(0, 60))
    const index = new AuthorizationIndex([p, policy('allow-all', { rules: [{}] })])
    t.match(index.decide(conn('web')), { allowed: false, reason: /MeshAuthorization shop\/bad is invalid/ })
    t.equal(index.decide(conn('web', 'front', 8080, {}, 'other')).allowed, true, 'other namespaces are not affected')
  }
})

t.test('the CRD names the kind as the agent reads it', async (t) => {
  const crd = meshAuthorizationCrd() as any
  t.equal(crd.metadata.name, 'meshauthorizations.mesh.weft.dev')
  t.equal(crd.spec.scope, 'Namespaced')
  t.equal(crd.spec.versions[0].name, 'v1alpha1')
  t.ok(crd.spec.versions[0].storage)
})

t.test('weft mesh crd prints the CRD as YAML', async (t) => {
  const { runMesh } = await import('../../mesh/cli.ts')
  const { parse } = await import('yaml')
  let text = ''
  await runMesh(['crd'], { write: (s: string) => (text += s) })
  t.same(parse(text), meshAuthorizationCrd())
  await t.rejects(runMesh(['crd', 'extra'], { write: () => true }), /takes no arguments/)
  await t.rejects(runMesh(['nope'], { write: () => true }), /use certs or crd/)
})
