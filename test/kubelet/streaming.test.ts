// The kubelet's exec and attach streams against a fake runtime: exec runs the command on
// this host (no container), attach joins a fake session. Real TLS, real WebSockets.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import t from 'tap'
import { KubeletAuth } from '../../src/kubelet/api-auth.ts'
import { KubeletServer } from '../../src/kubelet/server.ts'
import { StreamingServer } from '../../src/kubelet/streaming/server.ts'
import { StreamRequestError, type AttachSession, type StreamFlags, type StreamingRuntime, type StreamTarget } from '../../src/kubelet/streaming/types.ts'
import { createCA, issueCertificate } from '../../src/pki/certificates.ts'
import { openChannels, UpgradeRefused } from '../helpers/channel-client.ts'

const dir = mkdtempSync(join(tmpdir(), 'weft-streaming-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))

class FakeRuntime implements StreamingRuntime {
  attached: Array<{ flags: StreamFlags; stdin: PassThrough; output: PassThrough; closed: boolean; sizes: Array<[number, number]>; end: () => void }> = []
  #check(target: StreamTarget): void {
    if (target.pod !== 'web') throw new StreamRequestError(404, 'pod does not exist')
    if (target.container !== 'app') throw new StreamRequestError(404, `container not found (${JSON.stringify(target.container)})`)
  }
  async execCommand(target: StreamTarget, argv: readonly string[]): Promise<[string, string[]]> {
    this.#check(target)
    return ['env', ['--', ...argv]]
  }
  async attach(target: StreamTarget, flags: StreamFlags): Promise<AttachSession> {
    this.#check(target)
    const stdin = new PassThrough()
    const output = new PassThrough()
    let end = (): void => undefined
    const done = new Promise<void>((resolve) => (end = resolve))
    const record = { flags, stdin, output, closed: false, sizes: [] as Array<[number, number]>, end: () => (output.end(), end()) }
    // The fake container echoes its stdin, upper-cased.
    stdin.on('data', (b: Buffer) => output.write(b.toString().toUpperCase()))
    this.attached.push(record)
    return { stdin, output, done, resize: (c, r) => record.sizes.push([c, r]), close: () => (record.closed = true) }
  }
}

const runtime = new FakeRuntime()
const ca = await createCA('streaming-ca')
const serving = await issueCertificate(ca, { commonName: 'system:node:n1', organizations: ['system:nodes'], dnsNames: ['kubelet'], ipAddresses: ['127.0.0.1'], usages: ['server'] })
const caller = await issueCertificate(ca, { commonName: 'apiserver-kubelet-client', usages: ['client'] })
const viewer = await issueCertificate(ca, { commonName: 'viewer', usages: ['client'] })
const asked: string[] = []
const auth = new KubeletAuth({
  reviewToken: async () => undefined,
  reviewAccess: async (a) => {
    asked.push(`${a.user.username} ${a.verb} ${a.resource}/${a.subresource}`)
    return { decision: a.user.username === 'apiserver-kubelet-client' ? 'allow' : 'deny', reason: '' }
  },
})
const server = new KubeletServer({ logs: async function* () {}, pods: () => [] }, { nodeName: 'n1', clientCaPem: ca.certPem, auth })
const streaming = new StreamingServer(runtime, { PATH: process.env.PATH }, { maxStreams: 3, idleTimeoutMs: 60_000 })
for (const prefix of ['/exec/', '/attach/']) server.handleUpgrades(prefix, (req, socket, head, url) => streaming.handle(req, socket, head, url))
const socketPath = join(dir, 'kubelet.sock')
await server.start({ socketPath, serving: { certPem: serving.certPem, keyPem: serving.keyPem! } })
t.teardown(() => {
  streaming.close()
  return server.close()
})

const tls = { ca: ca.certPem, cert: caller.certPem, key: caller.keyPem, socketPath, servername: 'kubelet' }
const url = (path: string) => `wss://kubelet${path}`
const exec = (argv: string[], flags = 'stdout=1&stderr=1', opts: object = tls, protocols?: string[]) =>
  openChannels(url(`/exec/default/web/app?${argv.map((a) => `command=${encodeURIComponent(a)}`).join('&')}&${flags}`), opts, protocols)

async function refused(p: Promise<unknown>): Promise<string> {
  try {
    await p
  } catch (err) {
    if (err instanceof UpgradeRefused) return `${err.status} ${err.body}`
    throw err
  }
  return 'upgraded'
}

t.test('exec: stdout and stderr apart, the exit code on the error channel', async (t) => {
  const c = await exec(['sh', '-c', 'echo out; echo err >&2; exit 3'])
  const r = await c.done
  t.equal(r.protocol, 'v5.channel.k8s.io')
  t.same(r.first, { channel: 1, length: 0 }, 'an empty stdout message says the streams are ready')
  t.equal(r.stdout, 'out\n')
  t.equal(r.stderr, 'err\n')
  t.same(JSON.parse(r.error), {
    metadata: {},
    status: 'Failure',
    message: 'command terminated with non-zero exit code: exit status 3',
    reason: 'NonZeroExitCode',
    details: { causes: [{ reason: 'ExitCode', message: '3' }] },
  })
  t.equal(r.closeCode, 1000)
  const ok = await (await exec(['true'])).done
  t.equal(ok.error, '{"metadata":{},"status":"Success"}')
  t.equal(asked.at(-1), 'apiserver-kubelet-client create nodes/proxy', 'a GET upgrade is authorized as create on nodes/proxy')
})

t.test('exec: stdin until the v5 close; v4 stdin ends with the connection', async (t) => {
  const c = await exec(['sh', '-c', 'cat; echo end'], 'stdin=1&stdout=1')
  c.stdin('hello ')
  c.stdin(Buffer.alloc(200_000, 'x'))
  c.closeStdin()
  const t0 = Date.now()
  const r = await c.done
  t.ok(Date.now() - t0 < 4000, 'the session closes without waiting out the close timeout')
  t.equal(r.stdout, `hello ${'x'.repeat(200_000)}end\n`)
  const v4 = await exec(['head', '-c', '3'], 'stdin=1&stdout=1', tls, ['v4.channel.k8s.io'])
  v4.stdin('abcdef')
  const r4 = await v4.done
  t.equal(r4.protocol, 'v4.channel.k8s.io')
  t.equal(r4.stdout, 'abc')
  t.match(r4.error, /"status":"Success"/)
})

t.test('exec with a tty: a terminal, stderr joined, resize reaches it', async (t) => {
  const c = await exec(['sh', '-c', 'tty; echo to-stderr >&2; read x; stty size'], 'stdin=1&stdout=1&stderr=1&tty=1')
  await c.waitFor(/to-stderr/)
  c.resize(100, 40)
  // The resize runs stty on the terminal; give it a moment before asking for the size.
  await new Promise((r) => setTimeout(r, 300))
  c.stdin('go\n')
  const r = await c.done
  t.match(r.stdout, /^\/dev\/pts\/\d+\r\n/)
  t.match(r.stdout, /to-stderr/)
  t.match(r.stdout, /40 100\r\n$/)
  t.equal(r.stderr, '')
  t.match(r.error, /Success/)
})

t.test('exec: the client leaving kills the command', async (t) => {
  const c = await exec(['sh', '-c', 'echo $$; exec sleep 300'])
  const pid = Number((await c.waitFor(/^\d+\n/)).trim())
  c.ws.terminate()
  for (let i = 0; i < 100; i++) {
    try {
      process.kill(pid, 0)
    } catch {
      break
    }
    await new Promise((r) => setTimeout(r, 20))
  }
  t.throws(() => process.kill(pid, 0), 'the command is gone')
})

t.test('refusals before the upgrade', async (t) => {
  t.equal(await refused(openChannels(url('/exec/default/web/nope?command=id&stdout=1'), tls)), '404 container not found ("nope")')
  t.equal(await refused(openChannels(url('/exec/default/gone/app?command=id&stdout=1'), tls)), '404 pod does not exist')
  t.equal(await refused(openChannels(url('/exec/default/web/app?stdout=1'), tls)), '400 you must specify at least one command for the container')
  t.equal(await refused(openChannels(url('/exec/default/web/app?command=id'), tls)), '400 you must specify at least 1 of stdin, stdout, stderr')
  t.equal(await refused(openChannels(url('/exec/default/web/app?command=id&stdout=yes'), tls)), '400 stdout "yes" must be 1 or 0')
  t.match(await refused(exec(['id'], 'stdout=1', tls, ['channel.k8s.io', 'base64.channel.k8s.io'])), /^400 requested protocol\(s\) are not supported: \[channel.k8s.io,base64.channel.k8s.io\]; supports \[v5.channel.k8s.io v4.channel.k8s.io\]/)
  t.equal(await refused(openChannels(url('/exec/default/web/app?command=id&stdout=1'), { ...tls, cert: undefined, key: undefined })), '401 Unauthorized')
  t.equal(await refused(openChannels(url('/exec/default/web/app?command=id&stdout=1'), { ...tls, cert: viewer.certPem, key: viewer.keyPem })), '403 Forbidden (user=viewer, verb=create, resource=nodes, subresource=proxy)')
  t.equal(await refused(openChannels(url('/pods'), tls)), '404 404 page not found')
  const plain = await fetchPlain('/exec/default/web/app?command=id&stdout=1')
  t.match(plain, /^400 Upgrade request required/)
})

t.test('at most maxStreams at once: 429 beyond', async (t) => {
  const open = await Promise.all([1, 2, 3].map(() => exec(['sleep', '30'])))
  t.equal(streaming.active, 3)
  t.match(await refused(exec(['id'])), /^429 this kubelet serves at most 3 streams at once/)
  for (const c of open) c.ws.close()
  await Promise.all(open.map((c) => c.done))
  for (let i = 0; i < 50 && streaming.active > 0; i++) await new Promise((r) => setTimeout(r, 20))
  t.equal(streaming.active, 0)
  const again = await (await exec(['echo', 'ok'])).done
  t.equal(again.stdout, 'ok\n')
})

t.test('attach: stdin, output and resize through the runtime session; the session ends with the container', async (t) => {
  const c = await openChannels(url('/attach/default/web/app?stdin=1&stdout=1&tty=1'), tls)
  const record = runtime.attached.at(-1)!
  t.same(record.flags, { stdin: true, stdout: true, stderr: false, tty: true })
  c.stdin('hello')
  await c.waitFor(/HELLO/)
  c.resize(80, 24)
  await new Promise((r) => setTimeout(r, 50))
  t.same(record.sizes, [[80, 24]])
  record.end()
  const r = await c.done
  t.equal(r.stdout, 'HELLO')
  t.match(r.error, /Success/)
  t.ok(record.closed, 'the session is let go')
  const gone = await openChannels(url('/attach/default/web/app?stdout=1'), tls)
  gone.ws.close()
  await gone.done
  await new Promise((r) => setTimeout(r, 50))
  t.ok(runtime.attached.at(-1)!.closed, 'a client leaving closes the session')
})

t.test('attach with stdin alone lasts until the container exits (it used to end at once)', async (t) => {
  const c = await openChannels(url('/attach/default/web/app?stdin=1'), tls)
  const record = runtime.attached.at(-1)!
  t.same(record.flags, { stdin: true, stdout: false, stderr: false, tty: false })
  const seen = new Promise<string>((resolve) => record.stdin.once('data', (b: Buffer) => resolve(b.toString())))
  await new Promise((r) => setTimeout(r, 100))
  c.stdin('start\n')
  t.equal(await seen, 'start\n', 'what the caller writes reaches the container')
  t.notOk(record.closed, 'the session is still open')
  record.end()
  const r = await c.done
  t.match(r.error, /Success/)
  t.ok(record.closed)
})

async function fetchPlain(path: string): Promise<string> {
  const { request } = await import('node:https')
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path, servername: 'kubelet', ca: ca.certPem, cert: caller.certPem, key: caller.keyPem }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => (body += c))
      res.on('end', () => resolve(`${res.statusCode} ${body}`))
    })
    req.on('error', reject)
    req.end()
  })
}
