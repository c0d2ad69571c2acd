import t from 'tap'
import { mkdtemp, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Agent, request } from 'undici'
import type { Decision, ResourceAttributes, UserInfo } from '../../src/auth/types.ts'
import { accessKey, KubeletAuth, KUBELET_AUTH_TTLS, type KubeletReviews } from '../../src/kubelet/api-auth.ts'
import { kubeletRequestAttributes } from '../../src/kubelet/api-attributes.ts'
import { KubeletServer } from '../../src/kubelet/server.ts'
import { createCA, issueCertificate } from '../../src/pki/certificates.ts'

const alice: UserInfo = { username: 'alice', groups: ['dev'] }

/** Reviews answered from tables, counting calls; `fail` makes the next calls throw. */
function fakeReviews(tokens: Record<string, UserInfo>, allow: (a: ResourceAttributes) => boolean) {
  const calls = { token: 0, access: 0 }
  let fail = false
  const reviews: KubeletReviews = {
    async reviewToken(token) {
      calls.token++
      if (fail) throw new Error('the API server is down')
      return tokens[token]
    },
    async reviewAccess(a): Promise<Decision> {
      calls.access++
      if (fail) throw new Error('the API server is down')
      return allow(a) ? { decision: 'allow', reason: 'ok' } : { decision: 'noOpinion', reason: '' }
    },
  }
  return { reviews, calls, setFail: (v: boolean) => (fail = v) }
}

t.test('token reviews are cached 2 minutes when good, 30 s when bad, never when they fail', async (t) => {
  let now = 1_000_000
  const f = fakeReviews({ good: alice }, () => true)
  const auth = new KubeletAuth(f.reviews, { now: () => now })
  t.same(KUBELET_AUTH_TTLS, { tokenSuccessMs: 120_000, tokenFailureMs: 30_000, allowedMs: 300_000, deniedMs: 30_000 })
  t.same(await auth.reviewToken('good'), alice)
  t.same(await auth.reviewToken('good'), alice)
  t.equal(f.calls.token, 1, 'the second answer is cached')
  now += 119_000
  await auth.reviewToken('good')
  t.equal(f.calls.token, 1)
  now += 2_000
  await auth.reviewToken('good')
  t.equal(f.calls.token, 2, 'asked again after 2 minutes')

  t.equal(await auth.reviewToken('bad'), undefined)
  now += 29_000
  t.equal(await auth.reviewToken('bad'), undefined)
  t.equal(f.calls.token, 3, 'a refusal is cached')
  now += 2_000
  await auth.reviewToken('bad')
  t.equal(f.calls.token, 4, 'for 30 s')

  f.setFail(true)
  t.equal(await auth.reviewToken('other'), undefined, 'no answer: not authenticated')
  f.setFail(false)
  t.same(await auth.reviewToken('other'), undefined)
  t.equal(f.calls.token, 6, 'a failed review is not cached')

  const [a, b] = await Promise.all([auth.reviewToken('x'), auth.reviewToken('x')])
  t.same([a, b], [undefined, undefined])
  t.equal(f.calls.token, 7, 'concurrent questions share one review')
})

t.test('decisions are cached 5 minutes allowed, 30 s denied, keyed by everything they depend on', async (t) => {
  let now = 0
  const f = fakeReviews({}, (a) => a.user.groups.includes('admins'))
  const auth = new KubeletAuth(f.reviews, { now: () => now })
  const admin = kubeletRequestAttributes({ username: 'bob', groups: ['admins'] }, 'GET', '/pods', 'n1')
  const plain = kubeletRequestAttributes({ username: 'bob', groups: ['dev'] }, 'GET', '/pods', 'n1')
  t.equal((await auth.authorize(admin)).decision, 'allow')
  t.equal((await auth.authorize(plain)).decision, 'noOpinion', 'same name, other groups: another question')
  t.equal(f.calls.access, 2)
  now += 299_000
  await auth.authorize(admin)
  t.equal(f.calls.access, 2, 'allowed: cached')
  await auth.authorize(plain)
  t.equal(f.calls.access, 3, 'denied: asked again after 30 s')
  now += 2_000
  await auth.authorize(admin)
  t.equal(f.calls.access, 4, 'allowed: asked again after 5 minutes')
  t.not(accessKey(admin), accessKey({ ...admin, subresource: 'log' }))
  t.not(accessKey(admin), accessKey({ ...admin, verb: 'create' }))
  t.not(accessKey(admin), accessKey({ ...admin, name: 'n2' }))
  t.equal(accessKey(admin), accessKey({ ...admin, user: { ...admin.user, groups: [...admin.user.groups] } }))
  f.setFail(true)
  await t.rejects(auth.authorize({ ...admin, verb: 'delete' }), /down/, 'a failed review throws')
  f.setFail(false)
  t.equal((await auth.authorize({ ...admin, verb: 'delete' })).decision, 'allow', 'and is not cached')
})

t.test('the server: 401 without credentials (healthz too), 403 as the kubelet words it, 200 when allowed', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'weft-kubelet-auth-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const ca = await createCA('test-ca')
  const otherCa = await createCA('other-ca')
  const serving = await issueCertificate(ca, { commonName: 'system:node:n1', organizations: ['system:nodes'], dnsNames: ['n1'], ipAddresses: ['127.0.0.1'], usages: ['server'] })
  const admin = await issueCertificate(ca, { commonName: 'apiserver-kubelet-client', usages: ['client'] })
  const neighbour = await issueCertificate(ca, { commonName: 'system:node:n2', organizations: ['system:nodes'], usages: ['client'] })
  const stranger = await issueCertificate(otherCa, { commonName: 'apiserver-kubelet-client', usages: ['client'] })
  const f = fakeReviews({ 'reader-token': { username: 'reader', groups: ['readers'] } }, (a) => a.user.username === 'apiserver-kubelet-client' || (a.user.username === 'reader' && a.subresource === 'log'))
  let broken = false
  const auth = new KubeletAuth(f.reviews)
  const server = new KubeletServer(
    { pods: () => [], logs: async function* () { yield 'hello\n' } },
    { nodeName: 'n1', clientCaPem: ca.certPem, auth: { authenticate: (req) => auth.authenticate(req), authorize: (a) => (broken ? Promise.reject(new Error('down')) : auth.authorize(a)) } },
  )
  const socketPath = join(dir, 'kubelet.sock')
  await server.start({ socketPath, listen: '127.0.0.1:0', serving: { certPem: serving.certPem, keyPem: serving.keyPem! } })
  t.teardown(() => server.close())
  t.equal((await stat(socketPath)).mode & 0o777, 0o600, 'the socket is 0600')
  const get = async (path: string, as?: { certPem: string; keyPem?: string }, token?: string) => {
    const dispatcher = new Agent({ connect: { socketPath, ca: ca.certPem, cert: as?.certPem, key: as?.keyPem, servername: 'n1' } })
    try {
      const res = await request(`https://n1${path}`, { dispatcher, headers: token ? { authorization: `Bearer ${token}` } : {} })
      return { status: res.statusCode, body: await res.body.text() }
    } finally {
      await dispatcher.close()
    }
  }
  t.same(await get('/healthz'), { status: 401, body: 'Unauthorized' }, 'anonymous: 401, even for healthz')
  t.same(await get('/pods'), { status: 401, body: 'Unauthorized' })
  t.same(await get('/pods', stranger), { status: 401, body: 'Unauthorized' }, 'a certificate from another CA')
  t.same(await get('/pods', undefined, 'wrong-token'), { status: 401, body: 'Unauthorized' })
  t.same(await get('/containerLogs/default/web/app', neighbour), { status: 403, body: 'Forbidden (user=system:node:n2, verb=get, resource=nodes, subresource=log)' })
  t.same(await get('/healthz', undefined, 'reader-token'), { status: 403, body: 'Forbidden (user=reader, verb=get, resource=nodes, subresource=proxy)' })
  t.same(await get('/containerLogs/default/web/app', undefined, 'reader-token'), { status: 200, body: 'hello\n' }, 'a token with nodes/log')
  t.same(await get('/healthz', admin), { status: 200, body: 'ok' })
  t.same(await get('/containerLogs/default/web/app', admin), { status: 200, body: 'hello\n' })
  broken = true
  t.same(await get('/pods', admin), { status: 500, body: 'Authorization error (user=apiserver-kubelet-client, verb=get, resource=nodes, subresource=proxy)' }, 'the authorizer cannot be asked')
})
