// pods/eviction against a real API server. No disruption controller runs here: the test
// writes each budget's status itself, as the controller would.
import t from 'tap'
import { encodeProtobufObject, protobufMediaType } from '../../src/api/protobuf/index.ts'
import { findByKind } from '../../src/api/registry.ts'
import { PodEviction } from '../../src/apiserver/pod-eviction.ts'
import type { ResourceRequest } from '../../src/apiserver/request-info.ts'
import type { ResourceHandler } from '../../src/apiserver/resource-handler.ts'
import { ApiError } from '../../src/util/errors.ts'
import { call, startTestServer, userCredentials } from '../helpers/apiserver.ts'

const srv = await startTestServer(t)
const url = srv.url
let namespaceCount = 0

/** A fresh namespace per test, so budgets never select another test's pods. */
async function namespace(): Promise<string> {
  const name = `evict-${++namespaceCount}`
  const res = await call(url, 'POST', '/api/v1/namespaces', { metadata: { name } })
  if (res.status !== 201) throw new Error(`namespace: ${JSON.stringify(res.body)}`)
  return name
}

async function runningPod(ns: string, name: string, opts: { ready?: boolean; phase?: string; node?: string; labels?: Record<string, string> } = {}): Promise<any> {
  const created = await call(url, 'POST', `/api/v1/namespaces/${ns}/pods`, {
    metadata: { name, labels: opts.labels ?? { app: 'web' } },
    spec: { containers: [{ name: 'c', image: 'weft/echo' }], ...(opts.node ? { nodeName: opts.node } : {}) },
  })
  if (created.status !== 201) throw new Error(`pod ${name}: ${JSON.stringify(created.body)}`)
  const status = { phase: opts.phase ?? 'Running', conditions: [{ type: 'Ready', status: opts.ready === false ? 'False' : 'True' }] }
  const updated = await call(url, 'PUT', `/api/v1/namespaces/${ns}/pods/${name}/status`, { ...created.body, status })
  if (updated.status !== 200) throw new Error(`pod status ${name}: ${JSON.stringify(updated.body)}`)
  return updated.body
}

/** A budget with the status the disruption controller would have written. */
async function budget(ns: string, name: string, status: Record<string, unknown>, spec: Record<string, unknown> = {}): Promise<any> {
  const created = await call(url, 'POST', `/apis/policy/v1/namespaces/${ns}/poddisruptionbudgets`, {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: { name },
    spec: { minAvailable: 1, selector: { matchLabels: { app: 'web' } }, ...spec },
  })
  if (created.status !== 201) throw new Error(`budget: ${JSON.stringify(created.body)}`)
  const full = { observedGeneration: 1, currentHealthy: 2, desiredHealthy: 1, expectedPods: 2, disruptionsAllowed: 1, ...status }
  const updated = await call(url, 'PUT', `/apis/policy/v1/namespaces/${ns}/poddisruptionbudgets/${name}/status`, { ...created.body, status: full })
  if (updated.status !== 200) throw new Error(`budget status: ${JSON.stringify(updated.body)}`)
  return updated.body
}

const evict = (ns: string, pod: string, deleteOptions?: Record<string, unknown>, query = '') =>
  call(url, 'POST', `/api/v1/namespaces/${ns}/pods/${pod}/eviction${query}`, { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: pod, namespace: ns }, ...(deleteOptions ? { deleteOptions } : {}) })
const getPod = (ns: string, pod: string) => call(url, 'GET', `/api/v1/namespaces/${ns}/pods/${pod}`)
const getBudget = (ns: string, name = 'pdb') => call(url, 'GET', `/apis/policy/v1/namespaces/${ns}/poddisruptionbudgets/${name}`)

t.test('a budget is created with a zero status and generation 1; a spec change bumps the generation, a status write does not', async (t) => {
  const ns = await namespace()
  const created = await call(url, 'POST', `/apis/policy/v1/namespaces/${ns}/poddisruptionbudgets`, {
    metadata: { name: 'pdb' },
    spec: { maxUnavailable: '25%', selector: { matchLabels: { app: 'web' } } },
    status: { disruptionsAllowed: 9 },
  })
  t.equal(created.status, 201)
  t.same(created.body.status, { disruptionsAllowed: 0, currentHealthy: 0, desiredHealthy: 0, expectedPods: 0 }, 'a status sent on create is dropped')
  t.equal(created.body.metadata.generation, 1)
  const changed = await call(url, 'PUT', `/apis/policy/v1/namespaces/${ns}/poddisruptionbudgets/pdb`, { ...created.body, spec: { ...created.body.spec, maxUnavailable: 1 } })
  t.equal(changed.body.metadata.generation, 2)
  const both = await call(url, 'POST', `/apis/policy/v1/namespaces/${ns}/poddisruptionbudgets`, { metadata: { name: 'both' }, spec: { minAvailable: 1, maxUnavailable: 1 } })
  t.equal(both.status, 422)
  t.match(both.body.message, /minAvailable and maxUnavailable cannot be both set/)
})

t.test('an eviction the budget allows: 201, the disruption spent and recorded, the pod marked and deleted', async (t) => {
  const ns = await namespace()
  await runningPod(ns, 'a', { node: 'n1' })
  await runningPod(ns, 'b', { node: 'n1' })
  await budget(ns, 'pdb', { disruptionsAllowed: 1 })
  const res = await evict(ns, 'a', { gracePeriodSeconds: 30 })
  t.equal(res.status, 201, JSON.stringify(res.body))
  t.same(res.body, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code: 201 })
  const after = (await getBudget(ns)).body.status
  t.equal(after.disruptionsAllowed, 0)
  t.same(Object.keys(after.disruptedPods), ['a'])
  t.match(after.conditions, [{ type: 'DisruptionAllowed', status: 'False', reason: 'InsufficientPods' }])
  const pod = (await getPod(ns, 'a')).body
  t.ok(pod.metadata.deletionTimestamp, 'a bound pod is deleted gracefully')
  t.equal(pod.metadata.deletionGracePeriodSeconds, 30, "with the Eviction's DeleteOptions")
  t.match(pod.status.conditions, [{ type: 'Ready' }, { type: 'DisruptionTarget', status: 'True', reason: 'EvictionByEvictionAPI', message: 'Eviction API: evicting' }])

  const refused = await evict(ns, 'b')
  t.equal(refused.status, 429)
  t.same(refused.body, {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: "Cannot evict pod as it would violate the pod's disruption budget.",
    reason: 'TooManyRequests',
    details: { causes: [{ reason: 'DisruptionBudget', message: 'The disruption budget pdb needs 1 healthy pods and has 2 currently' }] },
    code: 429,
  })
  t.notOk((await getPod(ns, 'b')).body.metadata.deletionTimestamp, 'the refused pod stays')
})

t.test('concurrent evictions never spend the same disruption', async (t) => {
  for (let round = 0; round < 3; round++) {
    const ns = await namespace()
    const names = ['p0', 'p1', 'p2', 'p3', 'p4', 'p5']
    for (const n of names) await runningPod(ns, n)
    await budget(ns, 'pdb', { disruptionsAllowed: 2, currentHealthy: 6, desiredHealthy: 4, expectedPods: 6 })
    const answers = await Promise.all(names.map((n) => evict(ns, n)))
    const codes = answers.map((a) => a.status).sort()
    t.same(codes, [201, 201, 429, 429, 429, 429], `round ${round}: exactly the two allowed pass`)
    const status = (await getBudget(ns)).body.status
    t.equal(status.disruptionsAllowed, 0)
    const passed = names.filter((_, i) => answers[i].status === 201)
    t.same(Object.keys(status.disruptedPods).sort(), passed, 'each approval recorded once')
    for (const n of passed) t.equal((await getPod(ns, n)).status, 404, `${n} is gone (unbound pods go at once)`)
  }
})

t.test('pods that need no budget, and an unready pod its budget lets go', async (t) => {
  const ns = await namespace()
  await budget(ns, 'pdb', { disruptionsAllowed: 0, currentHealthy: 1, desiredHealthy: 1 })
  await runningPod(ns, 'pending', { phase: 'Pending' })
  t.equal((await evict(ns, 'pending')).status, 201, 'Pending: no budget asked')
  await runningPod(ns, 'done', { phase: 'Succeeded' })
  t.equal((await evict(ns, 'done')).status, 201, 'terminal')
  await runningPod(ns, 'unready', { ready: false })
  t.equal((await evict(ns, 'unready')).status, 201, 'unready, and the application is at its desired health (IfHealthyBudget)')
  t.equal((await getBudget(ns)).body.status.disruptionsAllowed, 0, 'nothing was spent')
  t.same((await getBudget(ns)).body.status.disruptedPods, undefined)

  const sick = await namespace()
  await budget(sick, 'pdb', { disruptionsAllowed: 0, currentHealthy: 0, desiredHealthy: 1 })
  await runningPod(sick, 'unready', { ready: false })
  t.equal((await evict(sick, 'unready')).status, 429, 'unready while the application is below its budget')
  await call(url, 'PATCH', `/apis/policy/v1/namespaces/${sick}/poddisruptionbudgets/pdb`, { spec: { unhealthyPodEvictionPolicy: 'AlwaysAllow' } }, { 'content-type': 'application/merge-patch+json' })
  // The spec change moved the generation past the status: the budget is not yet observed.
  const unobserved = await evict(sick, 'unready')
  t.equal(unobserved.status, 201, 'AlwaysAllow lets an unready pod go without looking at the status')

  const plain = await namespace()
  await runningPod(plain, 'lonely')
  t.equal((await evict(plain, 'lonely')).status, 201, 'no budget: deleted')
  t.equal((await getPod(plain, 'lonely')).status, 404)
  t.equal((await evict(plain, 'lonely')).status, 404, 'a pod that is not there')
})

t.test('refusals: an unobserved budget, two budgets, a name that does not match, no right to evict', async (t) => {
  const ns = await namespace()
  await runningPod(ns, 'a')
  await budget(ns, 'pdb', { observedGeneration: 1, disruptionsAllowed: 1 })
  await call(url, 'PATCH', `/apis/policy/v1/namespaces/${ns}/poddisruptionbudgets/pdb`, { spec: { minAvailable: 0 } }, { 'content-type': 'application/merge-patch+json' })
  const stale = await evict(ns, 'a')
  t.equal(stale.status, 429)
  t.equal(stale.headers.get('retry-after'), '10')
  t.match(stale.body.details.causes, [{ reason: 'DisruptionBudget', message: 'The disruption budget pdb is still being processed by the server.' }])

  const two = await namespace()
  await runningPod(two, 'a')
  await budget(two, 'one', {})
  await budget(two, 'two', {})
  const many = await evict(two, 'a')
  t.equal(many.status, 500)
  t.same(many.body, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.', code: 500 })

  const wrong = await call(url, 'POST', `/api/v1/namespaces/${ns}/pods/a/eviction`, { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: 'b' } })
  t.equal(wrong.status, 400)
  t.equal(wrong.body.message, 'name in URL does not match name in Eviction object')
  t.equal((await call(url, 'GET', `/api/v1/namespaces/${ns}/pods/a/eviction`)).status, 405, 'eviction takes POST only')

  const nobody = await userCredentials('nobody')
  const denied = await call(url, 'POST', `/api/v1/namespaces/${ns}/pods/a/eviction`, { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: 'a' } }, {}, nobody)
  t.equal(denied.status, 403)
  t.match(denied.body.message, /cannot create resource "pods\/eviction"/)
})

t.test('dry run answers as the real eviction would and changes nothing', async (t) => {
  const ns = await namespace()
  await runningPod(ns, 'a')
  await budget(ns, 'pdb', { disruptionsAllowed: 1 })
  const dry = await evict(ns, 'a', undefined, '?dryRun=All')
  t.equal(dry.status, 201)
  t.equal((await getPod(ns, 'a')).status, 200, 'the pod stays')
  const status = (await getBudget(ns)).body.status
  t.equal(status.disruptionsAllowed, 1, 'the budget is untouched')
  t.equal(status.disruptedPods, undefined)
  const mismatch = await evict(ns, 'a', { dryRun: ['All'] }, '?dryRun=Bogus')
  t.equal(mismatch.status, 400)
})

t.test('a protobuf Eviction, as kubectl sends it', async (t) => {
  const ns = await namespace()
  await runningPod(ns, 'a')
  await budget(ns, 'pdb', { disruptionsAllowed: 1 })
  const body = encodeProtobufObject({ apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: 'a', namespace: ns }, deleteOptions: { gracePeriodSeconds: 0 } })
  const res = await call(url, 'POST', `/api/v1/namespaces/${ns}/pods/a/eviction`, body, { 'content-type': protobufMediaType })
  t.equal(res.status, 201, JSON.stringify(res.body))
  t.equal((await getPod(ns, 'a')).status, 404)
})

t.test('policy/v1beta1 Evictions are taken too, as JSON and as protobuf', async (t) => {
  const ns = await namespace()
  await runningPod(ns, 'a')
  await runningPod(ns, 'b')
  await budget(ns, 'pdb', { disruptionsAllowed: 2 })
  const json = await call(url, 'POST', `/api/v1/namespaces/${ns}/pods/a/eviction`, { apiVersion: 'policy/v1beta1', kind: 'Eviction', metadata: { name: 'a' } })
  t.equal(json.status, 201, JSON.stringify(json.body))
  const raw = encodeProtobufObject({ apiVersion: 'policy/v1beta1', kind: 'Eviction', metadata: { name: 'b', namespace: ns }, deleteOptions: { gracePeriodSeconds: 0 } })
  const proto = await call(url, 'POST', `/api/v1/namespaces/${ns}/pods/b/eviction`, raw, { 'content-type': protobufMediaType })
  t.equal(proto.status, 201, JSON.stringify(proto.body))
  t.same(Object.keys((await getBudget(ns)).body.status.disruptedPods).sort(), ['a', 'b'])
  await runningPod(ns, 'c')
  const bare = await call(url, 'POST', `/api/v1/namespaces/${ns}/pods/c/eviction`, { metadata: { name: 'c' } })
  t.equal(bare.status, 429, 'a body without apiVersion and kind is taken as an Eviction (and this one finds the budget spent)')
})

t.test("terminal and terminating pods go without their budget; the Eviction's preconditions hold", async (t) => {
  const ns = await namespace()
  await budget(ns, 'pdb', { disruptionsAllowed: 0, currentHealthy: 1, desiredHealthy: 1 })
  await runningPod(ns, 'failed', { phase: 'Failed' })
  t.equal((await evict(ns, 'failed')).status, 201, 'Failed')
  await runningPod(ns, 'leaving', { node: 'n1' })
  t.equal((await call(url, 'DELETE', `/api/v1/namespaces/${ns}/pods/leaving`)).status, 200)
  const leaving = await evict(ns, 'leaving', { gracePeriodSeconds: 0 })
  t.equal(leaving.status, 201, 'terminating: deleted with the given grace period')
  t.equal((await getPod(ns, 'leaving')).status, 404)
  t.equal((await getBudget(ns)).body.status.disruptedPods, undefined, 'nothing was spent')

  const open = await namespace()
  const pod = await runningPod(open, 'a')
  const wrongUid = await evict(open, 'a', { preconditions: { uid: 'not-this-one' } })
  t.equal(wrongUid.status, 409)
  t.equal(wrongUid.body.message, `Operation cannot be fulfilled on Pod "a": the UID in the precondition (not-this-one) does not match the UID in record (${pod.metadata.uid}). The object might have been deleted and then recreated`)
  const stale = await evict(open, 'a', { preconditions: { resourceVersion: '1' } })
  t.equal(stale.status, 409, 'a resourceVersion precondition is not retried')
  t.match(stale.body.message, /the ResourceVersion in the precondition \(1\) does not match the ResourceVersion in record/)
  t.notOk((await getPod(open, 'a')).body.status.conditions.some((c: any) => c.type === 'DisruptionTarget'), 'a refused eviction leaves no mark')
  const current = (await getPod(open, 'a')).body.metadata
  const pinned = await evict(open, 'a', { preconditions: { uid: current.uid, resourceVersion: current.resourceVersion } })
  t.equal(pinned.status, 201, 'preconditions that hold: the mark moves the version, the delete follows it')
  t.equal((await getPod(open, 'a')).status, 404)
})

// The races upstream guards with a resourceVersion precondition, made certain: the handler
// the eviction runs on lets the test change the pod right after the eviction judged it.
const podInfo = findByKind('v1', 'Pod')!
const admin = { user: 'admin', groups: ['system:masters'], userAgent: 'test' }
const evictionRequest = (ns: string, name: string): ResourceRequest => ({ kind: 'resource', info: podInfo, namespace: ns, name, subresource: 'eviction', verb: 'create' })
const evictionBody = (ns: string, name: string) => ({ apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name, namespace: ns } })

/** A handler whose `method` first runs `meanwhile` (once), as if another writer got in just then. */
function racing(method: 'get' | 'list', meanwhile: () => Promise<void>): ResourceHandler {
  const handler = srv.server.handler
  let pending = true
  return new Proxy(handler, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target)
      if (typeof value !== 'function') return value
      if (prop !== method) return value.bind(target)
      return async (...args: unknown[]) => {
        const answer = await value.apply(target, args)
        if (pending) {
          pending = false
          await meanwhile()
        }
        return answer
      }
    },
  })
}

async function makeReady(ns: string, name: string, phase = 'Running'): Promise<void> {
  const current = (await getPod(ns, name)).body
  const res = await call(url, 'PUT', `/api/v1/namespaces/${ns}/pods/${name}/status`, { ...current, status: { phase, conditions: [{ type: 'Ready', status: 'True' }] } })
  if (res.status !== 200) throw new Error(JSON.stringify(res.body))
}

t.test('an unready pod its budget let go that turns Ready before the delete: 429, the pod stays unmarked', async (t) => {
  const ns = await namespace()
  await budget(ns, 'pdb', { disruptionsAllowed: 0, currentHealthy: 1, desiredHealthy: 1 })
  await runningPod(ns, 'unready', { ready: false })
  const eviction = new PodEviction(racing('list', () => makeReady(ns, 'unready')), undefined, 5)
  const refused = await eviction.evict(evictionRequest(ns, 'unready'), evictionBody(ns, 'unready'), { query: new URLSearchParams(), identity: admin, warnings: [] }).catch((err) => err)
  t.ok(refused instanceof ApiError, String(refused))
  t.match(refused, { code: 429, message: "Cannot evict pod as it would violate the pod's disruption budget.", details: { retryAfterSeconds: 10, causes: [{ reason: 'DisruptionBudget', message: 'The disruption budget pdb is still being processed by the server.' }] } })
  const pod = (await getPod(ns, 'unready')).body
  t.notOk(pod.metadata.deletionTimestamp)
  t.notOk(pod.status.conditions.some((c: any) => c.type === 'DisruptionTarget'))
})

t.test('a Pending pod that starts running while it is evicted is judged again, by its budget this time', async (t) => {
  const ns = await namespace()
  await budget(ns, 'pdb', { disruptionsAllowed: 0, currentHealthy: 1, desiredHealthy: 1 })
  await runningPod(ns, 'starting', { phase: 'Pending', ready: false })
  const eviction = new PodEviction(racing('get', () => makeReady(ns, 'starting')), undefined, 5)
  const refused = await eviction.evict(evictionRequest(ns, 'starting'), evictionBody(ns, 'starting'), { query: new URLSearchParams(), identity: admin, warnings: [] }).catch((err) => err)
  t.match(refused, { code: 429, details: { causes: [{ reason: 'DisruptionBudget', message: 'The disruption budget pdb needs 1 healthy pods and has 1 currently' }] } })
  t.notOk((await getPod(ns, 'starting')).body.metadata.deletionTimestamp, 'the now Running pod stays')
})

t.test('a node evicts the pods bound to it, and no others (NodeRestriction)', async (t) => {
  const ns = await namespace()
  await runningPod(ns, 'mine', { node: 'n1' })
  await runningPod(ns, 'theirs', { node: 'n2' })
  const n1 = await userCredentials('system:node:n1', ['system:nodes'])
  const asNode = (pod: string) => call(url, 'POST', `/api/v1/namespaces/${ns}/pods/${pod}/eviction`, evictionBody(ns, pod), {}, n1)
  const own = await asNode('mine')
  t.equal(own.status, 201, JSON.stringify(own.body))
  const other = await asNode('theirs')
  t.equal(other.status, 403)
  t.equal(other.body.message, `pods "theirs" is forbidden: node n1 can only evict pods with spec.nodeName set to itself`)
  t.notOk((await getPod(ns, 'theirs')).body.metadata.deletionTimestamp)
})

// No controllers run here, so edit and admin are not aggregated yet: bind the role edit
// aggregates (the aggregation itself is the ClusterRole aggregation controller's test).
t.test("the default policy lets edit (and so admin) evict: a user bound to edit's rules in the pod's namespace", async (t) => {
  const ns = await namespace()
  await runningPod(ns, 'a')
  const binding = await call(url, 'POST', `/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/rolebindings`, {
    metadata: { name: 'editor' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'system:aggregate-to-edit' },
    subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'editor' }],
  })
  t.equal(binding.status, 201, JSON.stringify(binding.body))
  const editor = await userCredentials('editor')
  const res = await call(url, 'POST', `/api/v1/namespaces/${ns}/pods/a/eviction`, evictionBody(ns, 'a'), {}, editor)
  t.equal(res.status, 201, JSON.stringify(res.body))
})

t.test('a crowd of evictions under one budget: each gets 201 or 429, never a conflict', async (t) => {
  const ns = await namespace()
  const names = Array.from({ length: 40 }, (_, i) => `p${i}`)
  for (const n of names) await runningPod(ns, n)
  await budget(ns, 'pdb', { disruptionsAllowed: 30, currentHealthy: 40, desiredHealthy: 10, expectedPods: 40 })
  const answers = await Promise.all(names.map((n) => evict(ns, n)))
  const count = (code: number) => answers.filter((a) => a.status === code).length
  t.same({ evicted: count(201), refused: count(429), other: answers.length - count(201) - count(429) }, { evicted: 30, refused: 10, other: 0 }, JSON.stringify(answers.find((a) => a.status !== 201 && a.status !== 429)?.body))
  t.equal(Object.keys((await getBudget(ns)).body.status.disruptedPods).length, 30)
})
