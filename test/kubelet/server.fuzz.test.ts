// Seeded fuzzing of the kubelet API listener (src/kubelet/server.ts): random and mutated HTTP
// requests over TLS (as an authenticated caller) on its unix socket and TCP port — hostile paths, log parameters, headers and
// bodies, pieces written slowly, requests never finished, streams abandoned unread. Every
// answer must be a well-formed HTTP response other than 500, every connection must end
// within a bounded wait, the server must keep answering, and the descriptors, sockets and
// log streams must be back to the baseline at the end.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import type { Socket } from 'node:net'
import { connect as tlsConnect } from 'node:tls'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { followLog, readLog } from '../../src/kubelet/runtime/index.ts'
import { KubeletServer, LogRequestError, type KubeletApi, type LogRequest } from '../../src/kubelet/server.ts'
import { KubeletAuth } from '../../src/kubelet/api-auth.ts'
import { createCA, issueCertificate } from '../../src/pki/certificates.ts'
import { fuzzSettings, Rng } from '../helpers/fuzz.ts'
import { fuzzHttpListener, randomHttpRequest } from '../helpers/http-fuzz.ts'
import { freePort } from '../helpers/ports.ts'

const settings = fuzzSettings(300)
t.setTimeout(settings.long ? 0 : 60_000)

const dir = mkdtempSync(join(tmpdir(), 'weft-kubelet-fuzz-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))

// A container log big enough that an unread stream fills the socket buffers.
const logFile = join(dir, '0.log')
const line = (i: number) => `2024-05-01T10:00:${String(i % 60).padStart(2, '0')}.000000000Z ${i % 3 ? 'stdout' : 'stderr'} ${i % 7 ? 'F' : 'P'} line ${i} ${'x'.repeat(i % 90)}\n`
writeFileSync(logFile, Array.from({ length: 20_000 }, (_, i) => line(i)).join(''))

/** One pod (default/web, container app) whose log is the file above; counts open log streams. */
class FakeKubelet implements KubeletApi {
  active = 0
  started = 0
  async *logs(req: LogRequest, signal: AbortSignal): AsyncIterable<string | Buffer> {
    this.started++
    this.active++
    try {
      if (req.namespace !== 'default' || req.pod !== 'web') throw new LogRequestError(404, `pod "${req.namespace}/${req.pod}" is not on node`)
      if (req.container !== 'app') throw new LogRequestError(400, `container "${req.container}" in pod "${req.pod}" is waiting to start: ContainerCreating`)
      const opts = { tailLines: req.tailLines, sinceTime: req.since?.toISOString(), timestamps: req.timestamps, limitBytes: req.limitBytes }
      if (!req.follow) {
        yield await readLog(logFile, opts)
        return
      }
      // The container "exits" a little later: a follow ends on its own unless the client leaves first.
      yield* followLog(logFile, { ...opts, signal, pollMs: 20, until: new Promise((resolve) => setTimeout(resolve, 300)) })
    } finally {
      this.active--
    }
  }
  pods() {
    return [{ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web', namespace: 'default', uid: 'u1' } }]
  }
}

const api = new FakeKubelet()
const socketPath = join(dir, 'kubelet.sock')
const port = await freePort()
const ca = await createCA('fuzz-ca')
const serving = await issueCertificate(ca, { commonName: 'system:node:n1', organizations: ['system:nodes'], dnsNames: ['kubelet'], ipAddresses: ['127.0.0.1'], usages: ['server'] })
const caller = await issueCertificate(ca, { commonName: 'apiserver-kubelet-client', usages: ['client'] })
// Every caller with a certificate may do anything: the fuzz is about the listener, not the policy.
const auth = new KubeletAuth({ reviewToken: async () => undefined, reviewAccess: async () => ({ decision: 'allow', reason: '' }) })
const server = new KubeletServer(api, { nodeName: 'n1', clientCaPem: ca.certPem, auth }, { headersTimeoutMs: 500, requestTimeoutMs: 1000, keepAliveTimeoutMs: 300, maxConnections: 64 })
await server.start({ socketPath, listen: `127.0.0.1:${port}`, serving: { certPem: serving.certPem, keyPem: serving.keyPem! } })
t.teardown(() => server.close())

const enc = (s: string) => encodeURIComponent(s)
const PARAMS = ['tailLines', 'limitBytes', 'sinceSeconds', 'sinceTime', 'follow', 'previous', 'timestamps', 'container', 'pretty']
const NUMBERS = ['0', '1', '5', '-1', '1.5', '1e3', '007', '99999999999999999999', '9007199254740993', '1e309', 'NaN', 'Infinity', '0x10', ' 3', '3 ', '+3', '']
const TIMES = ['2024-05-01T10:00:30Z', '2024-05-01T10:00:30.5+02:00', '1970-01-01T00:00:00Z', '9999-12-31T23:59:59Z', '275760-09-13T00:00:00Z', '-271821-04-20T00:00:00Z', 'yesterday', '2024-13-45T99:99:99Z']

function queryValue(rng: Rng, name: string): string {
  if (rng.chance(0.3)) return rng.hostileString()
  if (name === 'sinceTime') return rng.pick(TIMES)
  if (['follow', 'previous', 'timestamps'].includes(name)) return rng.pick(['true', 'false', '1', '0', 'TRUE', ''])
  return rng.pick(NUMBERS)
}

function requestPath(rng: Rng): string {
  const segment = () => (rng.chance(0.6) ? rng.pick(['default', 'web', 'app', 'kube-system']) : rng.chance(0.5) ? enc(rng.hostileString()) : rng.hostileString().replace(/[\s]/g, ''))
  let path = rng.chance(0.4) ? '/containerLogs/default/web/app' : rng.pick([
    '/healthz',
    '/pods',
    '/containerLogs/default/web/app',
    '/containerLogs/default/web/other',
    `/containerLogs/${segment()}/${segment()}/${segment()}`,
    `/containerLogs/${segment()}`,
    `/${segment()}`,
    '//containerLogs/default/web/app',
    '/containerLogs/default/web/app/',
    '/containerLogs/%E0%A4%A/web/app',
    'http://[',
    'http://kubelet/containerLogs/default/web/app',
    '*',
    '/%',
    '/' + 'a'.repeat(rng.int(20_000)),
  ])
  const params: string[] = []
  const n = rng.int(5)
  for (let i = 0; i < n; i++) {
    const name = rng.chance(0.9) ? rng.pick(PARAMS) : enc(rng.hostileString())
    params.push(`${name}=${rng.chance(0.8) ? enc(queryValue(rng, name)) : queryValue(rng, name).replace(/\s/g, '')}`)
  }
  if (params.length) path += `?${params.join('&')}`
  return path
}

/** A well-formed log request with sensible parameters: these reach the log reader and the stream loop. */
function logRequest(rng: Rng): Buffer {
  const params = [
    rng.chance(0.5) ? `tailLines=${rng.pick([0, 1, 10, 5000, 100_000])}` : '',
    rng.chance(0.4) ? `limitBytes=${rng.pick([1, 100, 65536, 10_000_000])}` : '',
    rng.chance(0.3) ? rng.pick(['sinceSeconds=1', 'sinceSeconds=999999999', `sinceTime=${enc(rng.pick(TIMES.slice(0, 5)))}`]) : '',
    rng.chance(0.4) ? 'follow=true' : '',
    rng.chance(0.3) ? 'timestamps=true' : '',
    rng.chance(0.2) ? 'previous=true' : '',
  ].filter(Boolean)
  return Buffer.from(`GET /containerLogs/default/web/app?${params.join('&')} HTTP/1.1\r\nHost: kubelet\r\n\r\n`)
}

function randomRequest(rng: Rng): Buffer {
  return rng.chance(0.25) ? logRequest(rng) : randomHttpRequest(rng, requestPath, 'kubelet')
}

const CASE_DEADLINE_MS = 4000

const tls = { ca: ca.certPem, cert: caller.certPem, key: caller.keyPem, servername: 'kubelet' }
const overSocket = (): Socket => tlsConnect({ ...tls, path: socketPath })
const overTcp = (): Socket => tlsConnect({ ...tls, host: '127.0.0.1', port })

function connect(rng: Rng): Socket {
  return rng.chance(0.5) ? overSocket() : overTcp()
}

async function healthz(): Promise<string> {
  const socket = overSocket()
  socket.write('GET /healthz HTTP/1.1\r\nHost: k\r\nConnection: close\r\n\r\n')
  let text = ''
  socket.on('data', (b) => (text += b))
  await Promise.race([new Promise((r) => socket.on('close', r).on('error', r)), new Promise((r) => setTimeout(r, 3000))])
  socket.destroy()
  return text
}

await t.test(`${settings.iterations} hostile requests (seed ${settings.seed})`, async (t) => {
  await fuzzHttpListener(t, {
    ...settings,
    connect,
    request: randomRequest,
    alive: async () => (await healthz()).startsWith('HTTP/1.1 200 '),
    settled: async () => (await server.connections()) === 0 && api.active === 0,
    deadlineMs: CASE_DEADLINE_MS,
  })
  t.equal(api.active, 0, `no log stream left running (${api.started} started)`)
})

await t.test('limits: a slow request is cut off, connections beyond the limit are refused', async (t) => {
  // Headers that never finish: the server closes the connection after its headers timeout.
  const slow = overSocket()
  slow.write('GET /healthz HTTP/1.1\r\nHost: k\r\n')
  const started = Date.now()
  const text = await new Promise<string>((resolve) => {
    let got = ''
    slow.on('data', (b) => (got += b))
    slow.on('close', () => resolve(got))
    slow.on('error', () => undefined)
    setTimeout(() => resolve('still open'), 4000)
  })
  slow.destroy()
  t.not(text, 'still open', 'the half-sent request was cut off')
  t.ok(Date.now() - started < 4000)

  // More idle connections than maxConnections: the extra ones are closed at once.
  const sockets: Socket[] = []
  for (let i = 0; i < 80; i++) {
    const s = overTcp()
    s.on('error', () => undefined)
    sockets.push(s)
  }
  // The refused ones are closed at accept; on a loaded machine the clients may take a while to see it.
  const openNow = () => sockets.filter((s) => !s.destroyed && s.readyState === 'open').length
  for (let waited = 0; waited < 5000 && openNow() > 64; waited += 50) await new Promise((r) => setTimeout(r, 50))
  const open = openNow()
  t.ok(open <= 64, `at most maxConnections stay open (${open})`)
  for (const s of sockets) s.destroy()
  t.match(await healthz(), /^HTTP\/1\.1 200 /)
})
