import { createHash, generateKeyPairSync } from 'node:crypto'
import t from 'tap'
import { ServiceAccountTokens, type IssueRequest } from '../../src/auth/tokens/service-account-tokens.ts'
import type { TokenBindingLookup } from '../../src/auth/tokens/token-binding.ts'
import { FakeCluster, forgeJws, jwsHeader, jwsPayload, rsaPair } from '../helpers/tokens.ts'

const NOW = new Date('2025-03-01T12:00:00Z')
const NOW_S = NOW.getTime() / 1000
const ISSUER = 'https://kubernetes.default.svc.cluster.local'
const AUDIENCES = ['https://kubernetes.default.svc.cluster.local', 'weft']
const signing = rsaPair()
const rotated = rsaPair()
const stranger = rsaPair()

const SA = { name: 'builder', uid: 'sa-uid-1' }
const POD = { name: 'builder-7f9', uid: 'pod-uid-1' }
const NODE = { name: 'node-a', uid: 'node-uid-1' }

function cluster(): FakeCluster {
  const c = new FakeCluster()
  c.serviceAccounts.set('ci/builder', SA.uid)
  c.pods.set('ci/builder-7f9', { uid: POD.uid, deleting: false, nodeName: NODE.name })
  c.nodes.set(NODE.name, NODE.uid)
  c.secrets.set('ci/builder-token', 'secret-uid-1')
  return c
}

function tokens(lookup: TokenBindingLookup = cluster(), verificationKeysPem = [rotated.spki]): ServiceAccountTokens {
  return new ServiceAccountTokens({ signingKeyPem: signing.pkcs8, verificationKeysPem, issuer: ISSUER, apiAudiences: AUDIENCES, lookup })
}

const REQUEST: IssueRequest = { namespace: 'ci', serviceAccount: SA, pod: POD, node: NODE, now: NOW }

/** The kid upstream computes, from the PEM body itself rather than from a KeyObject. */
function upstreamKid(spkiPem: string): string {
  const der = Buffer.from(spkiPem.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, ''), 'base64')
  return createHash('sha256').update(der).digest('base64url')
}

/** Valid claims for a hand-signed token. */
function claims(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    aud: AUDIENCES,
    exp: NOW_S + 3600,
    iat: NOW_S,
    iss: ISSUER,
    jti: 'c0ffee00-0000-4000-8000-000000000000',
    'kubernetes.io': { namespace: 'ci', pod: POD, serviceaccount: SA },
    nbf: NOW_S,
    sub: 'system:serviceaccount:ci:builder',
    ...overrides,
  }
}

const HEADER = { alg: 'RS256', kid: upstreamKid(signing.spki), typ: 'JWT' }

async function refusal(sa: ServiceAccountTokens, token: string, now = NOW, audiences?: string[]): Promise<string> {
  const result = await sa.verify(token, audiences ? { now, audiences } : { now })
  if ('user' in result) throw new Error(`token was accepted as ${result.user.username}`)
  return result.error
}

t.test('issue → verify round trip with upstream claims, header and user', async (t) => {
  const sa = tokens()
  const { token, expirationTimestamp } = await sa.issue(REQUEST)
  t.same(expirationTimestamp, new Date(NOW.getTime() + 3600_000), 'default expiry is an hour')

  const header = jwsHeader(token)
  t.same(header, { alg: 'RS256', kid: upstreamKid(signing.spki), typ: 'JWT' })
  t.equal(sa.keyId, header.kid)
  const payload = jwsPayload(token)
  t.same(Object.keys(payload), ['aud', 'exp', 'iat', 'iss', 'jti', 'kubernetes.io', 'nbf', 'sub'])
  t.match(payload, {
    aud: AUDIENCES,
    exp: NOW_S + 3600,
    iat: NOW_S,
    nbf: NOW_S,
    iss: ISSUER,
    sub: 'system:serviceaccount:ci:builder',
    'kubernetes.io': { namespace: 'ci', serviceaccount: SA, pod: POD, node: NODE },
  })
  t.match(payload.jti, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
  t.not(jwsPayload((await sa.issue(REQUEST)).token).jti, payload.jti, 'every token has its own jti')

  const result = await sa.verify(token, { now: new Date(NOW.getTime() + 1000) })
  if (!('user' in result)) throw new Error(result.error)
  t.same(result.user, {
    username: 'system:serviceaccount:ci:builder',
    uid: SA.uid,
    groups: ['system:serviceaccounts', 'system:serviceaccounts:ci'],
    extra: {
      'authentication.kubernetes.io/pod-name': [POD.name],
      'authentication.kubernetes.io/pod-uid': [POD.uid],
      'authentication.kubernetes.io/credential-id': [`JTI=${payload.jti}`],
      'authentication.kubernetes.io/node-name': [NODE.name],
      'authentication.kubernetes.io/node-uid': [NODE.uid],
    },
  })
  t.equal(result.claims.exp, NOW_S + 3600)
})

t.test('a token bound to nothing but its service account names no pod or node', async (t) => {
  const sa = tokens()
  const { token } = await sa.issue({ namespace: 'ci', serviceAccount: SA, audiences: ['vault'], expirationSeconds: 600, now: NOW })
  t.same(jwsPayload(token)['kubernetes.io'], { namespace: 'ci', serviceaccount: SA })
  t.match(await refusal(sa, token), /token audiences \["vault"\] is invalid for the target audiences \[".*" "weft"\]/, 'API audiences by default')
  const result = await sa.verify(token, { now: NOW, audiences: ['vault'] })
  if (!('user' in result)) throw new Error(result.error)
  t.same(Object.keys(result.user.extra ?? {}), ['authentication.kubernetes.io/credential-id'])
})

t.test('issue refuses what TokenRequest refuses', async (t) => {
  const sa = tokens()
  await t.rejects(sa.issue({ ...REQUEST, expirationSeconds: 599 }), /less than 10 minutes/)
  await t.rejects(sa.issue({ ...REQUEST, expirationSeconds: 2 ** 32 + 1 }), /larger than 2\^32 seconds/)
  await t.rejects(sa.issue({ ...REQUEST, expirationSeconds: 1000.5 }), /integer/)
  await t.resolves(sa.issue({ ...REQUEST, expirationSeconds: 2 ** 32 }))
  await t.rejects(sa.issue({ ...REQUEST, secret: { name: 's', uid: 'u' } }), /secret or to a pod/)
  await t.rejects(sa.issue({ ...REQUEST, namespace: '' }), /namespace/)
  await t.rejects(sa.issue({ ...REQUEST, serviceAccount: { name: 'x', uid: '' } }), /service account needs/)
  await t.rejects(sa.issue({ ...REQUEST, audiences: [] }), /audiences/)
})

t.test('the constructor takes RSA keys of 2048 bits or more only, and never echoes them', async (t) => {
  const lookup = cluster()
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const ecPem = ec.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string
  const base = { issuer: ISSUER, apiAudiences: AUDIENCES, lookup }
  t.throws(() => new ServiceAccountTokens({ ...base, signingKeyPem: ecPem }), /ec key; service-account tokens need an RSA key/)
  t.throws(() => new ServiceAccountTokens({ ...base, signingKeyPem: rsaPair(1024).pkcs8 }), /1024 bits/)
  t.throws(() => new ServiceAccountTokens({ ...base, signingKeyPem: 'garbage' }), /signing key is not a PEM key/)
  t.throws(() => new ServiceAccountTokens({ ...base, signingKeyPem: signing.pkcs8, verificationKeysPem: [signing.spki, 'x'] }), /verification key 2 is not a PEM key/)
  t.throws(() => new ServiceAccountTokens({ ...base, signingKeyPem: signing.pkcs8, issuer: '' }), /issuer/)
  t.throws(() => new ServiceAccountTokens({ ...base, signingKeyPem: signing.pkcs8, apiAudiences: [] }), /API audiences/)
  const body = signing.pkcs8.split('\n')
  body[5] = '!' + body[5]!.slice(1)
  try {
    new ServiceAccountTokens({ ...base, signingKeyPem: body.join('\n') })
    t.fail('a damaged key was read')
  } catch (err) {
    t.notMatch((err as Error).message, /BEGIN|MII|[A-Za-z0-9+/]{20}/, 'no key material in the error')
  }
})

t.test('key rotation: tokens of another trusted key verify, with or without kid', async (t) => {
  const sa = tokens()
  const byRotated = forgeJws({ alg: 'RS256', kid: upstreamKid(rotated.spki) }, claims(), { rsa: rotated.privateKey })
  t.ok('user' in (await sa.verify(byRotated, { now: NOW })), 'kid of a verification key')
  const noKid = forgeJws({ alg: 'RS256' }, claims(), { rsa: rotated.privateKey })
  t.ok('user' in (await sa.verify(noKid, { now: NOW })), 'no kid: every key is tried')
  const emptyKid = forgeJws({ alg: 'RS256', kid: '' }, claims(), { rsa: signing.privateKey })
  t.ok('user' in (await sa.verify(emptyKid, { now: NOW })), 'an empty kid is no kid')
  const withoutRotated = tokens(cluster(), [])
  t.equal(await refusal(withoutRotated, byRotated), 'invalid signature, no keys found')
  t.equal(await refusal(withoutRotated, noKid), 'invalid signature')
})

t.test('forgeries are refused', async (t) => {
  const sa = tokens()
  const { token } = await sa.issue(REQUEST)
  const [h, p, s] = token.split('.') as [string, string, string]
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const kid = upstreamKid(signing.spki)
  const cases: [string, string, RegExp][] = [
    ['alg none, no signature', forgeJws({ alg: 'none' }, claims(), { none: true }), /not a compact JWS/],
    ['alg none, some signature', `${Buffer.from('{"alg":"none"}').toString('base64url')}.${p}.${s}`, /algorithm "none" is not allowed/],
    ['alg NONE', forgeJws({ alg: 'NONE', kid }, claims(), { rsa: signing.privateKey }), /algorithm "NONE" is not allowed/],
    ['HS256 keyed with the public PEM', forgeJws({ alg: 'HS256', kid }, claims(), { hmac: signing.spki }), /algorithm "HS256" is not allowed/],
    ['HS256 keyed with the DER', forgeJws({ alg: 'HS256' }, claims(), { hmac: signing.publicKey.export({ type: 'spki', format: 'der' }) }), /"HS256" is not allowed/],
    ['ES256 with an EC key', forgeJws({ alg: 'ES256', kid }, claims(), { ec: ec.privateKey }), /"ES256" is not allowed/],
    ['RS256 header over an ES256 signature', forgeJws({ alg: 'RS256', kid }, claims(), { ec: ec.privateKey }), /^invalid signature$/],
    ['PS256', forgeJws({ alg: 'PS256', kid }, claims(), { rsa: signing.privateKey }), /"PS256" is not allowed/],
    ['no alg', forgeJws({ kid }, claims(), { rsa: signing.privateKey }), /no alg/],
    ['re-signed by another key under our kid', forgeJws(HEADER, claims(), { rsa: stranger.privateKey }), /^invalid signature$/],
    ['re-signed by another key, no kid', forgeJws({ alg: 'RS256' }, claims(), { rsa: stranger.privateKey }), /^invalid signature$/],
    ['another key with its own kid', forgeJws({ alg: 'RS256', kid: upstreamKid(stranger.spki) }, claims(), { rsa: stranger.privateKey }), /no keys found/],
    ['tampered payload', `${h}.${Buffer.from(JSON.stringify({ ...jwsPayload(token), sub: 'system:serviceaccount:kube-system:admin' })).toString('base64url')}.${s}`, /^invalid signature$/],
    ['tampered header', `${Buffer.from(JSON.stringify({ ...HEADER, typ: 'at+jwt' })).toString('base64url')}.${p}.${s}`, /^invalid signature$/],
    ['signature from another token', `${h}.${p}.${(await sa.issue(REQUEST)).token.split('.')[2]}`, /^invalid signature$/],
    ['non-canonical base64url in the signature', `${h}.${p}.${s.slice(0, -1)}${String.fromCharCode(s.charCodeAt(s.length - 1) ^ 1)}`, /not canonical base64url/],
    ['padding', `${h}.${p}.${s}==`, /not canonical base64url/],
    ['17 KiB token', `${h}.${'A'.repeat(17 * 1024)}.${s}`, /longer than 16384 bytes/],
    ['garbage', 'not a token at all', /not a compact JWS/],
    ['four parts', `${token}.x`, /three base64url parts/],
    ['empty', '', /not a compact JWS/],
    ['header not JSON', `${Buffer.from('{alg').toString('base64url')}.${p}.${s}`, /header is not JSON/],
    ['header an array', `${Buffer.from('["RS256"]').toString('base64url')}.${p}.${s}`, /not a JSON object/],
    ['kid a number', forgeJws({ alg: 'RS256', kid: 7 }, claims(), { rsa: signing.privateKey }), /kid is not a string/],
  ]
  for (const [name, forged, why] of cases) t.match(await refusal(sa, forged), why, name)
  const honest = forgeJws({ alg: 'RS256', kid }, claims(), { rsa: signing.privateKey })
  t.ok('user' in (await sa.verify(honest, { now: NOW })), 'the same claims, honestly signed, pass (the cases above fail for their forgery)')
})

t.test('claims: issuer, audience, times and shape', async (t) => {
  const sa = tokens()
  const signed = (c: Record<string, unknown>) => forgeJws(HEADER, c, { rsa: signing.privateKey })
  const { 'kubernetes.io': _k8s, ...noK8s } = claims()
  const cases: [string, Record<string, unknown>, RegExp][] = [
    ['wrong issuer', claims({ iss: 'https://evil' }), /token issuer "https:\/\/evil" is invalid/],
    ['wrong audience', claims({ aud: ['vault'] }), /token audiences \["vault"\] is invalid/],
    ['audience a string', claims({ aud: 'elsewhere' }), /token audiences \["elsewhere"\] is invalid/],
    ['no audience', claims({ aud: [] }), /no audience/],
    ['audience of numbers', claims({ aud: [1] }), /aud claim/],
    ['expired', claims({ exp: NOW_S - 61 }), /^service account token has expired$/],
    ['not yet valid', claims({ nbf: NOW_S + 61 }), /^service account token is not valid yet$/],
    ['issued in the future', claims({ iat: NOW_S + 61 }), /^service account token is issued in the future$/],
    ['no exp', claims({ exp: undefined }), /no exp/],
    ['exp a string', claims({ exp: String(NOW_S + 60) }), /no exp/],
    ['nbf a string', claims({ nbf: 'now' }), /nbf claim is not a number/],
    ['no kubernetes.io claims', noK8s, /no kubernetes.io claims/],
    ['no namespace', claims({ 'kubernetes.io': { serviceaccount: SA } }), /no namespace/],
    ['no service account uid', claims({ 'kubernetes.io': { namespace: 'ci', serviceaccount: { name: 'builder' } } }), /serviceaccount needs a name and a uid/],
    ['pod without uid', claims({ 'kubernetes.io': { namespace: 'ci', serviceaccount: SA, pod: { name: 'p' } } }), /pod needs/],
    ['secret and pod', claims({ 'kubernetes.io': { namespace: 'ci', serviceaccount: SA, pod: POD, secret: { name: 's', uid: 'u' } } }), /secret and to a pod/],
    ['sub of another account', claims({ sub: 'system:serviceaccount:kube-system:admin' }), /does not name the service account/],
    ['payload an array', [] as unknown as Record<string, unknown>, /not a JSON object/],
  ]
  for (const [name, c, why] of cases) t.match(await refusal(sa, signed(c)), why, name)
  t.match(await refusal(sa, forgeJws(HEADER, '{"iss":', { rsa: signing.privateKey })), /payload is not JSON/, 'payload not JSON')
})

t.test('upstream leeway: 60 s either side of exp, nbf and iat', async (t) => {
  const sa = tokens()
  const { token } = await sa.issue({ ...REQUEST, expirationSeconds: 600 })
  const at = (seconds: number) => new Date((NOW_S + seconds) * 1000)
  t.ok('user' in (await sa.verify(token, { now: at(600 + 60) })), 'exp + 60 s still passes')
  t.equal(await refusal(sa, token, at(600 + 61)), 'service account token has expired')
  t.ok('user' in (await sa.verify(token, { now: at(-60) })), 'nbf - 60 s passes')
  t.equal(await refusal(sa, token, at(-61)), 'service account token is not valid yet')
})

t.test('bindings: the objects a token names must still be the ones it was issued for', async (t) => {
  const check = async (change: (c: FakeCluster) => void, request: IssueRequest, why: string | RegExp, name: string) => {
    const lookup = cluster()
    const sa = tokens(lookup)
    const { token } = await sa.issue(request)
    t.ok('user' in (await sa.verify(token, { now: NOW })), `${name}: valid before the change`)
    change(lookup)
    const error = await refusal(sa, token)
    if (typeof why === 'string') t.equal(error, why, name)
    else t.match(error, why, name)
  }
  const bySecret = { namespace: 'ci', serviceAccount: SA, secret: { name: 'builder-token', uid: 'secret-uid-1' }, now: NOW }
  const byNode = { namespace: 'ci', serviceAccount: SA, node: NODE, now: NOW }
  await check((c) => c.serviceAccounts.delete('ci/builder'), REQUEST, 'service account ci/builder has been deleted', 'service account deleted')
  await check((c) => c.serviceAccounts.set('ci/builder', 'sa-uid-2'), REQUEST, 'service account UID (sa-uid-2) does not match claim (sa-uid-1)', 'service account recreated')
  await check((c) => c.pods.delete('ci/builder-7f9'), REQUEST, 'service account token has been invalidated', 'pod gone')
  await check((c) => c.pods.set('ci/builder-7f9', { uid: 'pod-uid-2', deleting: false }), REQUEST, 'pod UID (pod-uid-2) does not match service account pod ref claim (pod-uid-1)', 'pod recreated')
  await check((c) => c.pods.set('ci/builder-7f9', { uid: POD.uid, deleting: true, nodeName: NODE.name }), REQUEST, 'service account token has been invalidated', 'pod being deleted')
  await check((c) => c.pods.set('ci/builder-7f9', { uid: POD.uid, deleting: false, nodeName: 'node-b' }), REQUEST, 'service account token has been invalidated', 'pod on another node than the claim')
  await check((c) => c.secrets.delete('ci/builder-token'), bySecret, 'service account token has been invalidated', 'secret gone')
  await check((c) => c.secrets.set('ci/builder-token', 'secret-uid-2'), bySecret, 'secret UID (secret-uid-2) does not match service account secret ref claim (secret-uid-1)', 'secret recreated')
  await check((c) => c.nodes.delete(NODE.name), byNode, 'service account token has been invalidated', 'node gone')
  await check((c) => c.nodes.set(NODE.name, 'node-uid-2'), byNode, 'node UID (node-uid-2) does not match service account node ref claim (node-uid-1)', 'node recreated')

  const minimal = { serviceAccountUid: async () => SA.uid, pod: async () => undefined }
  const sa = tokens(minimal)
  t.equal(await refusal(sa, (await sa.issue(bySecret)).token), 'service account token has been invalidated', 'no secret lookup: secret-bound tokens refused')
  t.equal(await refusal(sa, (await sa.issue(byNode)).token), 'service account token has been invalidated', 'no node lookup: node-bound tokens refused')

  const failing = { serviceAccountUid: async (): Promise<string> => { throw new Error('API down') }, pod: async () => undefined }
  const down = tokens(failing)
  await t.rejects(down.verify((await down.issue(REQUEST)).token, { now: NOW }), /API down/, 'a failing lookup rejects (the chain does not cache it)')
})

t.test('an invalid clock is an error, not a pass', async (t) => {
  const sa = tokens()
  const { token } = await sa.issue(REQUEST)
  await t.rejects(sa.verify(token, { now: new Date(NaN) }), /invalid date/)
  await t.rejects(sa.issue({ ...REQUEST, now: new Date(NaN) }), /not a valid date/)
})
