import { createHash } from 'node:crypto'
import t from 'tap'
import { BootstrapTokenAuthenticator } from '../../src/auth/tokens/bootstrap-authenticator.ts'
import { bootstrapTokenSecret, generateBootstrapToken } from '../../src/auth/tokens/bootstrap-token.ts'
import { ServiceAccountTokens } from '../../src/auth/tokens/service-account-tokens.ts'
import { TokenAuthenticator } from '../../src/auth/tokens/token-authenticator.ts'
import { TokenCache } from '../../src/auth/tokens/token-cache.ts'
import { FakeCluster, FakeSecrets, rsaPair } from '../helpers/tokens.ts'

const START = Date.parse('2025-03-01T12:00:00Z')
const signing = rsaPair()
const SA = { name: 'builder', uid: 'sa-uid-1' }

interface Rig {
  chain: TokenAuthenticator
  cluster: FakeCluster
  secrets: FakeSecrets
  serviceAccounts: ServiceAccountTokens
  clock: { now: number }
  bootstrapToken: string
}

function rig(options: { cacheSize?: number; ttlSeconds?: number } = {}): Rig {
  const clock = { now: START }
  const cluster = new FakeCluster()
  cluster.serviceAccounts.set('ci/builder', SA.uid)
  const secrets = new FakeSecrets()
  const g = generateBootstrapToken()
  const s = bootstrapTokenSecret({ id: g.id, secret: g.secret, ttlSeconds: options.ttlSeconds ?? 3600, usages: ['authentication'] }, new Date(START))
  secrets.secrets.set(`kube-system/${s.metadata.name}`, s)
  const serviceAccounts = new ServiceAccountTokens({ signingKeyPem: signing.pkcs8, issuer: 'https://weft', apiAudiences: ['weft'], lookup: cluster })
  const chain = new TokenAuthenticator({
    bootstrap: new BootstrapTokenAuthenticator(secrets),
    serviceAccounts,
    clock: () => clock.now,
    ...(options.cacheSize ? { cacheSize: options.cacheSize } : {}),
  })
  return { chain, cluster, secrets, serviceAccounts, clock, bootstrapToken: g.token }
}

async function saToken(r: Rig, expirationSeconds = 3600): Promise<string> {
  return (await r.serviceAccounts.issue({ namespace: 'ci', serviceAccount: SA, expirationSeconds, now: new Date(r.clock.now) })).token
}

t.test('the chain picks the authenticator by shape', async (t) => {
  const r = rig()
  t.match(await r.chain.authenticate(r.bootstrapToken), { username: /^system:bootstrap:[a-z0-9]{6}$/, groups: ['system:bootstrappers'] })
  t.match(await r.chain.authenticate(await saToken(r)), { username: 'system:serviceaccount:ci:builder', uid: SA.uid })
  t.same(await r.chain.review('opaque-static-token'), { error: 'token is neither a bootstrap token nor a service-account JWT' })
  t.same(await r.chain.review(''), { error: 'no bearer token' })
  t.match(await r.chain.review('a'.repeat(17 * 1024)), { error: /longer than 16384/ })
  t.equal(r.chain.cache.size, 3, 'two successes and one refusal cached; empty and oversized never are')

  const only = new TokenAuthenticator({ serviceAccounts: r.serviceAccounts })
  t.same(await only.review(r.bootstrapToken), { error: 'bootstrap tokens are not accepted here' })
})

t.test('a success is served from the cache for 10 s, then looked up again', async (t) => {
  const r = rig()
  const token = await saToken(r)
  await r.chain.authenticate(token)
  const reads = r.cluster.reads
  t.ok(reads > 0)
  r.clock.now += 9_999
  t.ok(await r.chain.authenticate(token))
  t.equal(r.cluster.reads, reads, 'no lookup within the TTL')
  r.clock.now += 1
  t.ok(await r.chain.authenticate(token))
  t.equal(r.cluster.reads, reads * 2, 'looked up again after it')

  const b = r.secrets.reads
  await r.chain.authenticate(r.bootstrapToken)
  await r.chain.authenticate(r.bootstrapToken)
  t.equal(r.secrets.reads, b + 1, 'bootstrap tokens too')
})

t.test('a success is never kept past the token expiry', async (t) => {
  const r = rig({ ttlSeconds: 4 })
  await r.chain.authenticate(r.bootstrapToken)
  r.clock.now += 3_999
  await r.chain.authenticate(r.bootstrapToken)
  t.equal(r.secrets.reads, 1)
  r.clock.now += 1
  t.equal(await r.chain.authenticate(r.bootstrapToken), undefined, 'expired: looked up again, refused')
  t.equal(r.secrets.reads, 2)
})

t.test('a refusal is cached for 2 s', async (t) => {
  const r = rig()
  const token = await saToken(r)
  r.cluster.serviceAccounts.set('ci/builder', 'recreated')
  t.same(await r.chain.review(token), { error: 'service account UID (recreated) does not match claim (sa-uid-1)' })
  const reads = r.cluster.reads
  r.cluster.serviceAccounts.set('ci/builder', SA.uid)
  r.clock.now += 1_999
  t.equal(await r.chain.authenticate(token), undefined, 'still refused from the cache')
  t.equal(r.cluster.reads, reads)
  r.clock.now += 1
  t.ok(await r.chain.authenticate(token), 'checked again after 2 s')
})

t.test('invalidate() forgets everything at once', async (t) => {
  const r = rig()
  const token = await saToken(r)
  t.ok(await r.chain.authenticate(token))
  r.cluster.serviceAccounts.delete('ci/builder')
  t.ok(await r.chain.authenticate(token), 'cached')
  r.chain.invalidate()
  t.equal(r.chain.cache.size, 0)
  t.same(await r.chain.review(token), { error: 'service account ci/builder has been deleted' })
})

t.test('the cache holds SHA-256 digests, never a token', async (t) => {
  const r = rig()
  const tokens = [r.bootstrapToken, await saToken(r), 'abcdef.0000000000000000', 'x.y.z']
  for (const token of tokens) await r.chain.review(token)
  const keys = [...r.chain.cache.keys()]
  t.same(keys.sort(), tokens.map((tk) => createHash('sha256').update(tk).digest('base64url')).sort())
  for (const key of keys) {
    for (const token of tokens) {
      t.notOk(key.includes(token) || token.includes(key), 'no key contains or is contained in a token')
      t.notOk(token.split(/[.]/).some((part) => part.length >= 6 && key.includes(part)), 'nor any part of one')
    }
  }
})

t.test('refusal reasons never carry the token', async (t) => {
  const r = rig()
  const sa = await saToken(r)
  const [h, p] = sa.split('.')
  const cases = [
    'abcdef.0000000000000000',
    r.bootstrapToken.slice(0, 7) + 'zzzzzzzzzzzzzzzz',
    `${h}.${p}.AAAA`,
    `${h}.${p}.${'A'.repeat(342)}`,
    'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.',
    'x.y.z',
    'plain',
  ]
  for (const token of cases) {
    const review = await r.chain.review(token)
    if ('user' in review) {
      t.fail(`accepted ${token}`)
      continue
    }
    t.notOk(review.error.includes(token), review.error)
    for (const part of token.split('.')) if (part.length >= 16) t.notOk(review.error.includes(part), `${review.error}: no part of the token`)
  }
})

t.test('a lookup that throws refuses without caching the refusal', async (t) => {
  let fail = true
  const cluster = new FakeCluster()
  cluster.serviceAccounts.set('ci/builder', SA.uid)
  const lookup = {
    serviceAccountUid: (ns: string, name: string) => (fail ? Promise.reject(new Error('API down')) : cluster.serviceAccountUid(ns, name)),
    pod: cluster.pod.bind(cluster),
  }
  const serviceAccounts = new ServiceAccountTokens({ signingKeyPem: signing.pkcs8, issuer: 'https://weft', apiAudiences: ['weft'], lookup })
  const chain = new TokenAuthenticator({ serviceAccounts })
  const { token } = await serviceAccounts.issue({ namespace: 'ci', serviceAccount: SA })
  t.same(await chain.review(token), { error: 'token could not be checked: its authenticator failed' })
  t.equal(chain.cache.size, 0)
  fail = false
  t.ok(await chain.authenticate(token), 'the next request checks again')
})

t.test('concurrent requests for one token share one check', async (t) => {
  const r = rig()
  const token = await saToken(r)
  const users = await Promise.all(Array.from({ length: 20 }, () => r.chain.authenticate(token)))
  t.ok(users.every((u) => u === users[0] && u !== undefined))
  t.equal(r.cluster.reads, 1, 'one service-account read for twenty requests')
})

t.test('cached users cannot be changed by a caller', async (t) => {
  const r = rig()
  const token = await saToken(r)
  const user = (await r.chain.authenticate(token))!
  t.throws(() => (user.groups as string[]).push('system:masters'))
  t.throws(() => {
    ;(user as { username: string }).username = 'admin'
  })
  t.same((await r.chain.authenticate(token))!.groups, ['system:serviceaccounts', 'system:serviceaccounts:ci'])
})

t.test('the cache is bounded: the oldest entry goes first', async (t) => {
  const r = rig({ cacheSize: 3 })
  for (const token of ['a', 'b', 'c', 'd']) await r.chain.review(token)
  t.equal(r.chain.cache.size, 3)
  const digest = (s: string) => createHash('sha256').update(s).digest('base64url')
  t.same(new Set(r.chain.cache.keys()), new Set(['b', 'c', 'd'].map(digest)))

  const cache = new TokenCache<number>(2)
  cache.set('x', 1, 10)
  cache.set('y', 2, 10)
  cache.set('x', 3, 10)
  cache.set('z', 4, 10)
  t.same([...cache.keys()], ['x', 'z'], 'a rewrite counts as new')
  t.equal(cache.get('x', 9), 3)
  t.equal(cache.get('x', 10), undefined, 'expired at its time')
  t.equal(cache.size, 1)
  t.throws(() => new TokenCache(0), /at least one/)
})
