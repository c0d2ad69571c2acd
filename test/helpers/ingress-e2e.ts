// The shared rig of the Ingress end-to-end suites: a real API server in the test process
// (reached through its unix socket), one network namespace with `lo` up and a veth pair, both
// ends inside (this kernel has no dummy module), whose d0 carries 10.77.0.1-9/24, `weft ingress` as a child process inside it on 10.77.0.1:80/443,
// backends (programs/ingress-backend.ts) and load (programs/ingress-load.ts) inside it too,
// and curl / openssl run there through nsenter. Services have no selector; their
// EndpointSlices are written here, labelled as managed by e2e.weft.dev so no controller
// touches them.
import { spawn, execFile, type ChildProcess } from 'node:child_process'
import { createWriteStream } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { createInterface } from 'node:readline'
import type { V1EndpointSlice, CoreV1Event, V1Ingress, V1IngressSpec, V1Service } from '@kubernetes/client-node'
import { resources } from '../../src/api/registry.ts'
import { RestClient } from '../../src/client/index.ts'
import { ipBatch } from '../../src/netlink/index.ts'
import { startTestServer, type TestServer } from './apiserver.ts'
import { until } from './control-plane.ts'
import { testNetns } from './netns.ts'

interface Teardown {
  teardown(fn: () => unknown): void
}

export const kind = (k: string) => resources.find((r) => r.kind === k)!
export const INGRESS_ADDRESS = '10.77.0.1'
const root = resolve(import.meta.dirname, '../..')
const nodeBin = join(root, 'node_modules/.bin/node')
const programs = join(root, 'test/helpers/programs')
export const managedBy = 'e2e.weft.dev'

export interface EndpointSpec {
  /** 'ADDR:PORT' */
  at: string
  ready?: boolean
  serving?: boolean
  terminating?: boolean
}

export interface LoadSummary {
  sent: number
  done: number
  /** Requests without a 200 from a backend: see programs/ingress-load.ts. */
  failed: number
  byStatus: Record<string, number>
  byEndpoint: Record<string, number>
  byHost: Record<string, number>
  errors: string[]
}

export interface Reply {
  code: number
  status: number
  body: string
  headers: Record<string, string>
  httpVersion: string
  /** The backend's JSON answer when there is one. */
  json?: { listen: string; method: string; url: string; headers: Record<string, string>; bodyLength: number }
}

export interface IngressLab {
  api: TestServer
  client: RestClient
  netns: string
  dir: string
  /** Runs a command in the namespace. */
  exec(cmd: string, args: string[], input?: string, timeoutMs?: number): Promise<{ code: number; out: string; err: string }>
  /** curl in the namespace against the ingress: `path` may carry a query; returns status, headers, body. */
  http(host: string, path: string, extra?: string[]): Promise<Reply>
  /** Starts one backend process listening on each spec ('ADDR:PORT' or 'hang:ADDR:PORT'); returns its stop function. */
  backend(specs: string[]): Promise<() => Promise<void>>
  startIngress(logLevel?: string): Promise<void>
  /** The ingress process's log so far (JSON lines). */
  log(): Promise<string>
  service(name: string, port?: number, portName?: string): Promise<V1Service>
  /** Creates or replaces the service's EndpointSlice `<service>-e2e`. */
  endpoints(service: string, eps: EndpointSpec[], portName?: string): Promise<void>
  /** A service with its slice in one call. */
  backendService(name: string, eps: string[]): Promise<void>
  ingress(name: string, spec: V1IngressSpec, annotations?: Record<string, string>): Promise<V1Ingress>
  deleteIngress(name: string): Promise<void>
  events(ingress: string): Promise<CoreV1Event[]>
  /** Runs the load program; `stop()` sends SIGTERM and resolves with its summary. */
  load(opts: { hosts: string[]; path?: string; rate: number; durationMs: number }): Promise<{ stop(): Promise<LoadSummary>; done: Promise<LoadSummary> }>
}

export function path(p: string, service: string, pathType = 'Prefix', port: { number?: number; name?: string } = { number: 80 }) {
  return { path: p, pathType, backend: { service: { name: service, port } } }
}

export async function ingressLab(t: Teardown): Promise<IngressLab> {
  const api = await startTestServer(t, { socket: true })
  const client = new RestClient(api.address)
  t.teardown(() => client.destroy())
  const dir = await mkdtemp(join(tmpdir(), 'weft-ing-e2e-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const children = new Set<ChildProcess>()
  const stopChild = (child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM') =>
    new Promise<void>((done) => {
      if (child.exitCode !== null || child.signalCode !== null) return done()
      child.once('exit', () => done())
      child.kill(signal)
      setTimeout(() => child.kill('SIGKILL'), 5000).unref()
    })
  // Processes are stopped before the namespace is removed.
  const netns = await testNetns(t, 'ing', async () => {
    await Promise.all([...children].map((c) => stopChild(c)))
  })
  const addrs = Array.from({ length: 9 }, (_, i) => `addr add 10.77.0.${i + 1}/24 dev d0`)
  await ipBatch(['link set lo up', 'link add d0 type veth peer name d1', 'link set d0 up', 'link set d1 up', ...addrs], netns)

  const nsenter = [`--net=/run/netns/${netns}`, '--']
  const spawnIn = (cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env) => {
    const child = spawn('nsenter', [...nsenter, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env })
    children.add(child)
    child.once('exit', () => children.delete(child))
    return child
  }
  const exec: IngressLab['exec'] = (cmd, args, input, timeoutMs = 20_000) =>
    new Promise((done) => {
      const child = execFile('nsenter', [...nsenter, cmd, ...args], { timeout: timeoutMs, maxBuffer: 16 << 20 }, (err, stdout, stderr) =>
        done({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: String(stdout), err: String(stderr) }),
      )
      child.stdin?.on('error', () => {})
      // A command that exits without reading its stdin (openssl req) must not crash the test with EPIPE.
      child.stdin?.on('error', () => {})
      child.stdin?.end(input ?? '')
    })

  const http: IngressLab['http'] = async (host, p, extra = []) => {
    const https = extra.includes('--https')
    const args = extra.filter((a) => a !== '--https')
    const url = https ? `https://${host}${p}` : `http://${INGRESS_ADDRESS}${p}`
    const hostArgs = https ? ['--resolve', `${host}:443:${INGRESS_ADDRESS}`, '-k'] : ['-H', `Host: ${host}`]
    const r = await exec('curl', ['-s', '--path-as-is', '--max-time', '10', '-D', '-', '-w', '\n%{http_code} %{http_version}', ...hostArgs, ...args, url])
    const lines = r.out.split('\n')
    const [status, httpVersion] = (lines.pop() ?? '').split(' ')
    const all = lines.join('\n')
    const split = all.indexOf('\r\n\r\n')
    const body = split === -1 ? all : all.slice(split + 4)
    const headers: Record<string, string> = {}
    for (const line of (split === -1 ? '' : all.slice(0, split)).split('\r\n')) {
      const m = /^([^:\s]+):\s*(.*)$/.exec(line)
      if (m) headers[m[1].toLowerCase()] = headers[m[1].toLowerCase()] === undefined ? m[2] : `${headers[m[1].toLowerCase()]}, ${m[2]}`
    }
    let json: Reply['json']
    if (headers['content-type']?.startsWith('application/json')) json = JSON.parse(body)
    return { code: r.code, status: Number(status), body, headers, httpVersion, json }
  }

  const backend: IngressLab['backend'] = async (specs) => {
    const child = spawnIn(nodeBin, [join(programs, 'ingress-backend.ts'), ...specs])
    child.stderr!.on('data', (d: Buffer) => process.stderr.write(d))
    await new Promise<void>((done, fail) => {
      child.once('exit', (code) => fail(new Error(`ingress-backend ${specs.join(' ')} exited with ${code}`)))
      createInterface({ input: child.stdout! }).once('line', () => done())
    })
    child.removeAllListeners('exit')
    children.add(child)
    child.once('exit', () => children.delete(child))
    return () => stopChild(child)
  }

  const logFile = join(dir, 'ingress.log')
  const startIngress: IngressLab['startIngress'] = async (logLevel = 'warn') => {
    const child = spawnIn(join(root, 'bin/weft'), ['ingress', '--socket', api.socketPath!, '--kubeconfig', api.kubeconfig, '--http-listen', `${INGRESS_ADDRESS}:80`, '--https-listen', `${INGRESS_ADDRESS}:443`, '--status-listen', '127.0.0.1:10254'], { ...process.env, WEFT_LOG_LEVEL: logLevel })
    const out = createWriteStream(logFile)
    child.stdout!.pipe(out)
    child.stderr!.pipe(out)
    let exited = false
    child.once('exit', () => (exited = true))
    await until('weft ingress ready', async () => {
      if (exited) throw new Error(`weft ingress exited: ${await readFile(logFile, 'utf8')}`)
      return (await exec('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', 'http://127.0.0.1:10254/readyz'])).out === '200'
    }, 90_000)
  }

  const service: IngressLab['service'] = (name, port = 80, portName = 'http') =>
    client.create<V1Service>(kind('Service'), { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'default' }, spec: { ports: [{ name: portName, port, protocol: 'TCP' }] } })

  const endpoints: IngressLab['endpoints'] = async (svc, eps, portName = 'http') => {
    const ports = new Set(eps.map((e) => e.at.split(':')[1]))
    if (ports.size > 1) throw new Error('one slice carries one port: give endpoints of one port')
    const port = Number([...ports][0] ?? 8080)
    const name = `${svc}-e2e`
    const body: V1EndpointSlice = {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name, namespace: 'default', labels: { 'kubernetes.io/service-name': svc, 'endpointslice.kubernetes.io/managed-by': managedBy } },
      addressType: 'IPv4',
      endpoints: eps.map((e) => ({ addresses: [e.at.split(':')[0]], conditions: { ready: e.ready ?? true, serving: e.serving ?? e.ready ?? true, terminating: e.terminating ?? false } })),
      ports: [{ name: portName, port, protocol: 'TCP' }],
    }
    const existing = await client.get<V1EndpointSlice>(kind('EndpointSlice'), name, 'default').catch(() => undefined)
    if (existing) await client.update(kind('EndpointSlice'), { ...body, metadata: { ...body.metadata, resourceVersion: existing.metadata?.resourceVersion } })
    else await client.create(kind('EndpointSlice'), body)
  }

  const backendService: IngressLab['backendService'] = async (name, eps) => {
    await service(name)
    await endpoints(name, eps.map((at) => ({ at })))
  }

  const ingress: IngressLab['ingress'] = (name, spec, annotations) =>
    client.create<V1Ingress>(kind('Ingress'), { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name, namespace: 'default', ...(annotations ? { annotations } : {}) }, spec: { ingressClassName: 'weft', ...spec } })

  const deleteIngress: IngressLab['deleteIngress'] = async (name) => {
    await client.delete(kind('Ingress'), name, 'default')
  }

  const events: IngressLab['events'] = async (name) =>
    (await client.list<CoreV1Event>(kind('Event'), { namespace: 'default' })).items.filter((e) => e.involvedObject?.kind === 'Ingress' && e.involvedObject.name === name)

  const load: IngressLab['load'] = async (opts) => {
    const child = spawnIn(nodeBin, [join(programs, 'ingress-load.ts'), JSON.stringify({ target: `${INGRESS_ADDRESS}:80`, ...opts })])
    child.stderr!.on('data', (d: Buffer) => process.stderr.write(d))
    const lines = createInterface({ input: child.stdout! })
    const done = new Promise<LoadSummary>((resolve, reject) => {
      lines.on('line', (line) => {
        if (line.startsWith('{')) resolve(JSON.parse(line) as LoadSummary)
      })
      child.once('exit', (code) => reject(new Error(`ingress-load exited with ${code} without a summary`)))
    })
    done.catch(() => {})
    await new Promise<void>((r) => lines.once('line', () => r()))
    return {
      done,
      stop: async () => {
        child.kill('SIGTERM')
        return done
      },
    }
  }

  return { api, client, netns, dir, exec, http, backend, startIngress, log: () => readFile(logFile, 'utf8'), service, endpoints, backendService, ingress, deleteIngress, events, load }
}

/** The IngressClass weft serves. */
export async function createWeftClass(client: RestClient, isDefault = false): Promise<void> {
  await client.create(kind('IngressClass'), {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'IngressClass',
    metadata: { name: 'weft', ...(isDefault ? { annotations: { 'ingressclass.kubernetes.io/is-default-class': 'true' } } : {}) },
    spec: { controller: 'weft.dev/ingress' },
  })
}

export { until }
