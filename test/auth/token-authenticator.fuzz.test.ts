// Seeded fuzz of the bearer-token chain: random strings, hostile strings, random JWS-shaped
// and bootstrap-shaped tokens, and byte- and segment-level mutations of valid tokens. The
// chain never throws or rejects, never accepts anything but the valid tokens themselves, and
// never puts a token in a refusal reason; the valid tokens keep passing throughout.
// `npm run fuzz -- test/auth/token-authenticator.fuzz.test.ts --iterations N --seed S` runs it longer.
import t from 'tap'
import { BootstrapTokenAuthenticator } from '../../src/auth/tokens/bootstrap-authenticator.ts'
import { bootstrapTokenSecret, generateBootstrapToken } from '../../src/auth/tokens/bootstrap-token.ts'
import { ServiceAccountTokens } from '../../src/auth/tokens/service-account-tokens.ts'
import { TokenAuthenticator } from '../../src/auth/tokens/token-authenticator.ts'
import { fuzzSettings, Rng } from '../helpers/fuzz.ts'
import { FakeCluster, FakeSecrets, forgeJws, jwsHeader, jwsPayload, rsaPair } from '../helpers/tokens.ts'

const settings = fuzzSettings(3000)
t.setTimeout(settings.long ? 0 : 90_000)
const rng = new Rng(settings.seed)

const signing = rsaPair()
const other = rsaPair()
const START = Date.parse('2025-03-01T12:00:00Z')
let now = START

const cluster = new FakeCluster()
cluster.serviceAccounts.set('ci/builder', 'sa-uid')
cluster.serviceAccounts.set('kube-system/admin', 'admin-uid')
cluster.pods.set('ci/builder-1', { uid: 'pod-uid', deleting: false, nodeName: 'node-a' })
cluster.nodes.set('node-a', 'node-uid')
const secrets = new FakeSecrets()
const serviceAccounts = new ServiceAccountTokens({
  signingKeyPem: signing.pkcs8,
  issuer: 'https://weft',
  apiAudiences: ['weft', 'https://kubernetes.default.svc'],
  lookup: cluster,
})
const chain = new TokenAuthenticator({ bootstrap: new BootstrapTokenAuthenticator(secrets), serviceAccounts, cacheSize: 64, clock: () => now })

const issueAt = new Date(START)
const valid: string[] = [
  (await serviceAccounts.issue({ namespace: 'ci', serviceAccount: { name: 'builder', uid: 'sa-uid' }, now: issueAt })).token,
  (await serviceAccounts.issue({ namespace: 'ci', serviceAccount: { name: 'builder', uid: 'sa-uid' }, pod: { name: 'builder-1', uid: 'pod-uid' }, node: { name: 'node-a', uid: 'node-uid' }, now: issueAt })).token,
  (await serviceAccounts.issue({ namespace: 'ci', serviceAccount: { name: 'builder', uid: 'sa-uid' }, node: { name: 'node-a', uid: 'node-uid' }, now: issueAt })).token,
]
for (let i = 0; i < 3; i++) {
  const g = generateBootstrapToken()
  const s = bootstrapTokenSecret({ id: g.id, secret: g.secret, ttlSeconds: 86400, groups: ['system:bootstrappers:fuzz'], usages: ['authentication'] }, issueAt)
  secrets.secrets.set(`kube-system/${s.metadata.name}`, s)
  valid.push(g.token)
}
const validSet = new Set(valid)
const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
const LOWER = 'abcdefghijklmnopqrstuvwxyz0123456789'

function randomFrom(alphabet: string, n: number): string {
  let s = ''
  for (let i = 0; i < n; i++) s += alphabet[rng.int(alphabet.length)]
  return s
}

function b64(value: unknown): string {
  return Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url')
}

/** A valid token with one JSON value changed, re-encoded, keeping its signature. */
function tamperedClaim(token: string): string {
  const [h, , s] = token.split('.')
  const payload = jwsPayload(token)
  const k8s = payload['kubernetes.io'] as Record<string, unknown>
  const edits: (() => void)[] = [
    () => (payload.sub = 'system:serviceaccount:kube-system:admin'),
    () => (k8s.namespace = 'kube-system'),
    () => (k8s.serviceaccount = { name: 'admin', uid: 'admin-uid' }),
    () => (payload.exp = (payload.exp as number) + 1),
    () => (payload.aud = rng.hostileString()),
    () => (payload.iss = rng.hostileString()),
    () => delete payload.jti,
    () => (payload[rng.hostileString()] = rng.hostileString()),
  ]
  rng.pick(edits)()
  return `${h}.${b64(payload)}.${s}`
}

/** A valid token whose header says something else, keeping payload and signature. */
function tamperedHeader(token: string): string {
  const [, p, s] = token.split('.')
  const header = jwsHeader(token)
  const edits: (() => void)[] = [
    () => (header.alg = rng.pick(['none', 'None', 'HS256', 'ES256', 'PS256', 'RS384', 'RS256 ', ''])),
    () => delete header.kid,
    () => (header.kid = rng.hostileString()),
    () => (header.crit = ['exp']),
    () => (header.b64 = false),
    () => (header.jku = 'https://evil/keys'),
  ]
  rng.pick(edits)()
  return `${b64(header)}.${p}.${s}`
}

function candidate(): { token: string; from?: string } {
  const base = rng.pick(valid)
  switch (rng.int(10)) {
    case 0:
      return { token: rng.mutate(Buffer.from(base, 'latin1')).toString('latin1'), from: base }
    case 1: {
      // one character of one segment swapped for another base64url character
      const at = rng.int(base.length)
      if (base[at] === '.') return { token: base, from: base }
      return { token: base.slice(0, at) + rng.pick([...B64URL]) + base.slice(at + 1), from: base }
    }
    case 2: {
      const other = rng.pick(valid)
      const a = base.split('.')
      const b = other.split('.')
      if (a.length !== 3 || b.length !== 3) return { token: base.slice(0, 7) + other.slice(7) }
      return { token: [a[0], b[1], a[2]].join('.') }
    }
    case 3:
      return base.includes('.') && base.split('.').length === 3 ? { token: tamperedClaim(base) } : { token: base.slice(0, 7) + randomFrom(LOWER, 16) }
    case 4:
      return base.split('.').length === 3 ? { token: tamperedHeader(base) } : { token: randomFrom(LOWER, 6) + base.slice(6) }
    case 5:
      return { token: forgeJws(rng.chance(0.5) ? { alg: 'RS256' } : jwsHeader(valid[0]!), jwsPayload(valid[rng.int(3)]!), rng.chance(0.5) ? { rsa: other.privateKey } : { hmac: signing.spki }) }
    case 6:
      return { token: `${randomFrom(LOWER, 6)}.${randomFrom(LOWER, 16)}` }
    case 7:
      return { token: Array.from({ length: rng.int(5) }, () => randomFrom(B64URL, rng.int(rng.chance(0.1) ? 6000 : 80))).join('.') }
    case 8:
      return { token: rng.hostileString() }
    default:
      return { token: rng.bytes(rng.int(64)).toString(rng.chance(0.5) ? 'latin1' : 'utf8') }
  }
}

await t.test(`${settings.iterations} hostile tokens (seed ${settings.seed})`, async (t) => {
  let accepted = 0
  let mutatedBack = 0
  for (let i = 0; i < settings.iterations; i++) {
    const { token, from } = candidate()
    if (rng.chance(0.05)) now = START + rng.int(30 * 60_000)
    let review
    try {
      review = await chain.review(token)
    } catch (err) {
      t.fail(`case ${i} (seed ${settings.seed}): review threw ${(err as Error).message}`)
      continue
    }
    if ('user' in review) {
      if (validSet.has(token)) {
        if (token === from) mutatedBack++
        accepted++
        continue
      }
      t.fail(`case ${i} (seed ${settings.seed}): accepted a token that is not one of the valid ones: ${JSON.stringify(token.slice(0, 120))}`)
      continue
    }
    if (token.length >= 8 && review.error.includes(token)) t.fail(`case ${i} (seed ${settings.seed}): the reason carries the token`)
    if (i % 97 === 0) {
      for (const v of valid) if (!(await chain.authenticate(v))) t.fail(`case ${i}: a valid token stopped passing`)
    }
  }
  t.pass(`${accepted} cases were valid tokens (${mutatedBack} mutations that changed nothing)`)
  for (const v of valid) t.ok(await chain.authenticate(v), 'valid tokens still pass at the end')
})
