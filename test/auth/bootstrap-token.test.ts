import t from 'tap'
import { BootstrapTokenAuthenticator, type BootstrapSecretLike } from '../../src/auth/tokens/bootstrap-authenticator.ts'
import { bootstrapTokenSecret, generateBootstrapToken, parseBootstrapToken, parseRfc3339 } from '../../src/auth/tokens/bootstrap-token.ts'
import { FakeSecrets } from '../helpers/tokens.ts'

const NOW = new Date('2025-03-01T12:00:00Z')
const ID = 'abcdef'
const SECRET = '0123456789abcdef'
const TOKEN = `${ID}.${SECRET}`

function b64(text: string): string {
  return Buffer.from(text).toString('base64')
}

function secret(data: Record<string, string> = {}, extra: Partial<BootstrapSecretLike> = {}): BootstrapSecretLike {
  const values: Record<string, string> = {
    'token-id': ID,
    'token-secret': SECRET,
    expiration: '2025-03-02T12:00:00Z',
    'usage-bootstrap-authentication': 'true',
    'auth-extra-groups': 'system:bootstrappers:kubeadm:default-node-token',
    ...data,
  }
  const encoded: Record<string, string> = {}
  for (const [k, v] of Object.entries(values)) if (v !== undefined) encoded[k] = b64(v)
  return { type: 'bootstrap.kubernetes.io/token', metadata: {}, data: encoded, ...extra }
}

function authenticator(s: BootstrapSecretLike | undefined): { auth: BootstrapTokenAuthenticator; secrets: FakeSecrets } {
  const secrets = new FakeSecrets()
  if (s) secrets.secrets.set(`kube-system/bootstrap-token-${ID}`, s)
  return { auth: new BootstrapTokenAuthenticator(secrets), secrets }
}

t.test('parseBootstrapToken takes exactly <6 of [a-z0-9]>.<16 of [a-z0-9]>', async (t) => {
  t.same(parseBootstrapToken(TOKEN), { id: ID, secret: SECRET })
  for (const bad of ['ABCDEF.0123456789abcdef', 'abcdef.0123456789abcde', 'abcdef.0123456789abcdefg', 'abcde.0123456789abcdef', 'abcdef:0123456789abcdef', ` ${TOKEN}`, `${TOKEN}\n`, 'abcdef.0123456789abcdeF', '', 'a.b.c']) {
    t.equal(parseBootstrapToken(bad), undefined, JSON.stringify(bad))
  }
})

t.test('generateBootstrapToken draws from [a-z0-9] and parses back', async (t) => {
  const seen = new Set<string>()
  for (let i = 0; i < 200; i++) {
    const g = generateBootstrapToken()
    t.same(parseBootstrapToken(g.token), { id: g.id, secret: g.secret })
    for (const c of g.id + g.secret) seen.add(c)
  }
  t.equal(seen.size, 36, 'every character of the alphabet turns up')
})

t.test('bootstrapTokenSecret builds the Secret kubeadm creates', async (t) => {
  const s = bootstrapTokenSecret(
    { id: ID, secret: SECRET, ttlSeconds: 86400, description: 'join nodes', groups: ['system:bootstrappers:kubeadm:default-node-token'], usages: ['authentication', 'signing'] },
    NOW,
  )
  const decoded = Object.fromEntries(Object.entries(s.data).map(([k, v]) => [k, Buffer.from(v, 'base64').toString()]))
  t.same(s.metadata, { name: 'bootstrap-token-abcdef', namespace: 'kube-system' })
  t.equal(s.type, 'bootstrap.kubernetes.io/token')
  t.same(decoded, {
    'token-id': ID,
    'token-secret': SECRET,
    description: 'join nodes',
    expiration: '2025-03-02T12:00:00Z',
    'usage-bootstrap-authentication': 'true',
    'usage-bootstrap-signing': 'true',
    'auth-extra-groups': 'system:bootstrappers:kubeadm:default-node-token',
  })
  t.notOk('expiration' in bootstrapTokenSecret({ id: ID, secret: SECRET, usages: ['signing'] }, NOW).data, 'no ttl, no expiry')
  t.throws(() => bootstrapTokenSecret({ id: 'ABCDEF', secret: SECRET, usages: ['signing'] }), /token id/)
  t.throws(() => bootstrapTokenSecret({ id: ID, secret: 'short', usages: ['signing'] }), /token secret/)
  t.throws(() => bootstrapTokenSecret({ id: ID, secret: SECRET, usages: [] }), /at least one usage/)
  t.throws(() => bootstrapTokenSecret({ id: ID, secret: SECRET, usages: ['root' as 'signing'] }), /unknown bootstrap token usage "root"/)
  t.throws(() => bootstrapTokenSecret({ id: ID, secret: SECRET, usages: ['signing'], groups: ['system:masters'] }), /bootstrap group "system:masters" is invalid/)
  t.throws(() => bootstrapTokenSecret({ id: ID, secret: SECRET, usages: ['signing'], ttlSeconds: -1 }), /ttlSeconds/)
})

t.test('a Secret built by bootstrapTokenSecret authenticates its token', async (t) => {
  const g = generateBootstrapToken()
  const built = bootstrapTokenSecret({ id: g.id, secret: g.secret, ttlSeconds: 600, groups: ['system:bootstrappers:weft:nodes'], usages: ['authentication'] }, NOW)
  const secrets = new FakeSecrets()
  secrets.secrets.set(`kube-system/${built.metadata.name}`, built)
  const result = await new BootstrapTokenAuthenticator(secrets).authenticate(g.token, NOW)
  t.same(result, { user: { username: `system:bootstrap:${g.id}`, groups: ['system:bootstrappers', 'system:bootstrappers:weft:nodes'] }, expiresAt: new Date(NOW.getTime() + 600_000) })
})

t.test('a good token names system:bootstrap:<id> in system:bootstrappers and its extra groups', async (t) => {
  const { auth, secrets } = authenticator(secret({ 'auth-extra-groups': 'system:bootstrappers:b,system:bootstrappers:a,system:bootstrappers:a' }))
  t.same(await auth.authenticate(TOKEN, NOW), {
    user: { username: 'system:bootstrap:abcdef', groups: ['system:bootstrappers', 'system:bootstrappers:a', 'system:bootstrappers:b'] },
    expiresAt: new Date('2025-03-02T12:00:00Z'),
  })
  t.equal(secrets.reads, 1)
  const { auth: noExpiry } = authenticator(secret({ expiration: '', 'auth-extra-groups': '' }))
  t.same(await noExpiry.authenticate(TOKEN, NOW), { user: { username: 'system:bootstrap:abcdef', groups: ['system:bootstrappers'] } })
})

t.test('refusals, none of which carries the secret', async (t) => {
  const cases: [string, BootstrapSecretLike | undefined, string, RegExp][] = [
    ['no secret', undefined, TOKEN, /no secret kube-system\/bootstrap-token-abcdef/],
    ['wrong secret', secret(), `${ID}.0123456789abcdee`, /does not match the token's secret/],
    ['secret in the Secret not base64', { ...secret(), data: { ...secret().data, 'token-secret': '!!' } }, TOKEN, /does not match/],
    ['expired', secret({ expiration: '2025-03-01T11:59:59Z' }), TOKEN, /has expired/],
    ['expires this very moment', secret({ expiration: '2025-03-01T12:00:00Z' }), TOKEN, /has expired/],
    ['unparseable expiration', secret({ expiration: 'tomorrow' }), TOKEN, /unparseable expiration/],
    ['deleted', secret({}, { metadata: { deletionTimestamp: '2025-03-01T11:00:00Z' } }), TOKEN, /is deleted and awaiting removal/],
    ['wrong type', secret({}, { type: 'Opaque' }), TOKEN, /has invalid type, expected bootstrap.kubernetes.io\/token/],
    ['no data', { type: 'bootstrap.kubernetes.io/token' }, TOKEN, /has invalid type/],
    ['token-id differs', secret({ 'token-id': 'zzzzzz' }), TOKEN, /invalid value for key token-id/],
    ['usage false', secret({ 'usage-bootstrap-authentication': 'false' }), TOKEN, /not marked usage-bootstrap-authentication=true/],
    ['usage missing', secret({ 'usage-bootstrap-authentication': undefined as unknown as string }), TOKEN, /not marked/],
    ['bad extra group', secret({ 'auth-extra-groups': 'system:bootstrappers:ok,system:masters' }), TOKEN, /bootstrap group "system:masters" is invalid/],
    ['empty extra group', secret({ 'auth-extra-groups': 'system:bootstrappers:ok,' }), TOKEN, /bootstrap group "" is invalid/],
    ['extra group ending in a colon', secret({ 'auth-extra-groups': 'system:bootstrappers:' }), TOKEN, /is invalid/],
    ['not a bootstrap token', secret(), 'abc.def', /not a bootstrap token/],
  ]
  for (const [name, s, token, why] of cases) {
    const { auth } = authenticator(s)
    const result = await auth.authenticate(token, NOW)
    if ('user' in result) {
      t.fail(`${name}: accepted`)
      continue
    }
    t.match(result.error, why, name)
    t.notOk(result.error.includes(SECRET) || (token.length > 7 && result.error.includes(token.slice(7))), `${name}: no secret in the reason`)
  }
})

t.test('RFC 3339 as Go reads it', async (t) => {
  t.equal(parseRfc3339('2025-03-02T12:00:00Z'), Date.UTC(2025, 2, 2, 12))
  t.equal(parseRfc3339('2025-03-02T13:30:00+01:30'), Date.UTC(2025, 2, 2, 12))
  t.equal(parseRfc3339('2025-03-02T12:00:00.5Z'), Date.UTC(2025, 2, 2, 12) + 500)
  for (const bad of ['2025-03-02', '2025-03-02 12:00:00Z', '2025-02-30T00:00:00Z', '2025-03-02T12:00:00', '2025-13-01T00:00:00Z', '2025-03-02T25:00:00Z', 'x']) {
    t.equal(parseRfc3339(bad), undefined, bad)
  }
})

t.test('an invalid clock is an error, not a pass', async (t) => {
  const { auth } = authenticator(secret())
  await t.rejects(auth.authenticate(TOKEN, new Date(NaN)), /invalid date/)
})
