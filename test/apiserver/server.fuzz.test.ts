// Seeded fuzzing of the API server's HTTPS listener: random and mutated requests from
// callers with the admin's certificate, a powerless user's, none at all, and hostile bearer
// tokens (forged JWTs, bootstrap-shaped guesses, garbage), on API paths, reviews, token
// requests and nonsense, with JSON, protobuf and hostile `Accept`s and protobuf bodies
// (whole and mutated), written whole, in pieces, stalled or abandoned. Every answer must
// be a well-formed HTTP response other than 500, every connection must end within a bounded
// wait, the server must keep answering, and descriptors must be back to the baseline.
import t from 'tap'
import { connect as tlsConnect, type TLSSocket } from 'node:tls'
import type { Socket } from 'node:net'
import { fuzzSettings, Rng } from '../helpers/fuzz.ts'
import { fuzzHttpListener, randomHttpRequest } from '../helpers/http-fuzz.ts'
import { adminCredentials, startTestServer, userCredentials } from '../helpers/apiserver.ts'
import { encodeObject } from '../helpers/protobuf.ts'

const settings = fuzzSettings(300)
t.setTimeout(settings.long ? 0 : 90_000)

const { url, server } = await startTestServer(t, { limits: { headersTimeoutMs: 500, bodyTimeoutMs: 800, keepAliveTimeoutMs: 300 } })
const port = Number(new URL(url).port)
const admin = await adminCredentials()
const nobody = await userCredentials('nobody')
const sa = await (async () => {
  await server.handler.create({ kind: 'resource', info: (await import('../../src/api/registry.ts')).resources.find((r) => r.kind === 'ServiceAccount')!, namespace: 'default', name: undefined, subresource: undefined, verb: 'create' }, { metadata: { name: 'fuzz' } }, { query: new URLSearchParams(), identity: { user: 'test', groups: ['system:masters'], userAgent: 'fuzz' }, warnings: [] })
  const account = await server.objects.get((await import('../../src/api/registry.ts')).resources.find((r) => r.kind === 'ServiceAccount')!, 'default', 'fuzz')
  return (await server.security.serviceAccountTokens.issue({ namespace: 'default', serviceAccount: { name: 'fuzz', uid: account!.metadata.uid! }, expirationSeconds: 3600 })).token
})()

const PATHS = [
  '/api/v1/namespaces/default/configmaps',
  '/api/v1/namespaces/default/configmaps/x',
  '/api/v1/namespaces/default/secrets',
  '/api/v1/namespaces/default/pods?watch=true&timeoutSeconds=1',
  '/api/v1/namespaces/default/serviceaccounts/fuzz/token',
  '/api/v1/nodes/n1/status',
  '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews',
  '/apis/authorization.k8s.io/v1/subjectaccessreviews',
  '/apis/authentication.k8s.io/v1/tokenreviews',
  '/apis/authentication.k8s.io/v1/selfsubjectreviews',
  '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings',
  '/apis/certificates.k8s.io/v1/certificatesigningrequests',
  '/healthz',
  '/version',
  '/metrics',
  '/openapi/v3',
  '/openapi/v2',
]

function requestPath(rng: Rng): string {
  if (rng.chance(0.7)) return rng.pick(PATHS)
  return rng.pick(['/', '/api', '/apis/%', `/api/v1/namespaces/${encodeURIComponent(rng.hostileString())}/pods`, `/${rng.hostileString().replace(/\s/g, '')}`, '/' + 'a'.repeat(rng.int(20_000))])
}

function base64url(s: string): string {
  return Buffer.from(s).toString('base64url')
}

function hostileToken(rng: Rng): string {
  const [h, p, sig] = sa.split('.')
  return rng.pick([
    sa,
    `${base64url(JSON.stringify({ alg: 'none' }))}.${p}.`,
    `${base64url(JSON.stringify({ alg: 'HS256', kid: 'x' }))}.${p}.${sig}`,
    `${h}.${base64url(JSON.stringify({ sub: 'system:serviceaccount:kube-system:x', aud: ['x'] }))}.${sig}`,
    `${h}.${p}.${sig!.slice(0, -2)}AA`,
    'abcdef.0123456789abcdef',
    `${rng.hostileString()}.${rng.hostileString()}`,
    rng.hostileString(),
    'a'.repeat(rng.int(40_000)),
  ])
}

const ACCEPTS = [
  'application/vnd.kubernetes.protobuf,application/json',
  'application/vnd.kubernetes.protobuf',
  'application/vnd.kubernetes.protobuf;as=Table;v=v1;g=meta.k8s.io',
  'application/vnd.kubernetes.protobuf;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json',
  'application/json;as=Table;v=v1;g=meta.k8s.io,application/json',
  'application/vnd.kubernetes.protobuf;stream=watch',
  ';;,,as=',
]

/** Well-formed and mutated protobuf bodies, asking for protobuf or JSON answers. */
function protobufRequest(rng: Rng): Buffer {
  const objects = [
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `cm-${rng.int(5)}`, labels: { a: rng.hostileString().slice(0, 20) } }, data: { k: rng.hostileString() } },
    { apiVersion: 'v1', kind: 'Secret', metadata: { name: 's' }, data: { k: Buffer.from(rng.bytes(rng.int(64))).toString('base64') } },
    { apiVersion: 'v1', kind: 'DeleteOptions', gracePeriodSeconds: rng.int(3) - 1, preconditions: { uid: rng.hostileString() } },
    { apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectAccessReview', spec: { resourceAttributes: { verb: 'get', resource: rng.hostileString() } } },
  ]
  let body = encodeObject(rng.pick(objects))
  if (rng.chance(0.5)) body = rng.mutate(body)
  const method = rng.pick(['POST', 'PUT', 'DELETE', 'GET', 'PATCH'])
  const head = `${method} ${rng.pick(PATHS)} HTTP/1.1\r\nHost: apiserver\r\nContent-Type: application/vnd.kubernetes.protobuf\r\nAccept: ${rng.pick(ACCEPTS)}\r\nContent-Length: ${body.length}\r\n\r\n`
  return Buffer.concat([Buffer.from(head, 'latin1'), body])
}

function request(rng: Rng): Buffer {
  if (rng.chance(0.25)) return protobufRequest(rng)
  let raw = randomHttpRequest(rng, requestPath, 'apiserver')
  if (rng.chance(0.3)) {
    const text = raw.toString('latin1')
    const at = text.indexOf('\r\n')
    if (at >= 0) raw = Buffer.from(`${text.slice(0, at + 2)}Accept: ${rng.pick(ACCEPTS)}\r\n${text.slice(at + 2)}`, 'latin1')
  }
  if (!rng.chance(0.4)) return raw
  // A bearer token of some kind in the head, whatever the rest of the request is.
  const text = raw.toString('latin1')
  const at = text.indexOf('\r\n')
  if (at < 0) return raw
  const auth = rng.chance(0.2) ? `authorization: ${rng.pick(['Bearer', 'bearer', 'Basic', ''])}${rng.pick([' ', '  ', ''])}${hostileToken(rng)}` : `Authorization: Bearer ${hostileToken(rng)}`
  return Buffer.from(`${text.slice(0, at + 2)}${auth.replace(/[\r\n]/g, '')}\r\n${text.slice(at + 2)}`, 'latin1')
}

function connect(rng: Rng): Socket {
  const who = rng.pick([admin, nobody, undefined])
  const s: TLSSocket = tlsConnect({ host: '127.0.0.1', port, ca: admin.caPem, cert: who?.certPem, key: who?.keyPem, servername: 'localhost' })
  // runHttpCase waits for 'connect'; a TLS socket is usable at 'secureConnect'.
  s.once('secureConnect', () => s.emit('connect'))
  return s
}

/** As the admin: the cases may well delete the bindings that let anonymous callers in. */
async function healthz(): Promise<boolean> {
  const s = tlsConnect({ host: '127.0.0.1', port, ca: admin.caPem, cert: admin.certPem, key: admin.keyPem, servername: 'localhost' })
  let text = ''
  s.on('data', (b) => (text += b))
  s.once('secureConnect', () => s.write('GET /healthz HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n'))
  await Promise.race([new Promise((r) => s.on('close', r).on('error', r)), new Promise((r) => setTimeout(r, 3000))])
  s.destroy()
  return text.startsWith('HTTP/1.1 200 ')
}

await t.test(`${settings.iterations} hostile requests (seed ${settings.seed})`, async (t) => {
  const { statuses } = await fuzzHttpListener(t, {
    ...settings,
    connect,
    request,
    alive: healthz,
    settled: () => true,
    deadlineMs: 4000,
  })
  t.comment(`statuses: ${JSON.stringify(statuses)}`)
  t.ok((statuses['401'] ?? 0) > 0 && (statuses['403'] ?? 0) + (statuses['201'] ?? 0) + (statuses['200'] ?? 0) > 0, 'cases reached both the refusals and the handlers')
})
