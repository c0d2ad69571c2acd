// Starts a real weft API server for a test: in-process over a fresh SQLite store (or a
// given store), on a free loopback port, removed in teardown.
import { mkdtempSync, rmSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Agent, fetch as undiciFetch, type Headers as UndiciHeaders } from 'undici'
import { ApiServer, type ApiServerOptions } from '../../src/apiserver/server.ts'
import { securityFromPki } from '../../src/apiserver/security.ts'
import { adminKubeconfig } from '../../src/cli/server.ts'
import type { Credentials, ServerAddress } from '../../src/client/index.ts'
import { ensureClusterPki, type ClusterPki } from '../../src/pki/cluster-pki.ts'
import { openStore } from '../../src/store/open-store.ts'
import type { Store } from '../../src/store/store.ts'
import type { WatchOptions } from '../../src/apiserver/watch.ts'
import { onInterrupt } from './netns.ts'

interface Teardown {
  teardown(fn: () => unknown): void
}

export interface TestServer {
  url: string
  server: ApiServer
  store: Store
  dir: string
  kubeconfig: string
  /** The unix socket, when asked for (agents in other network namespaces use it). */
  socketPath?: string
  /** The server's URL with the admin's credentials: `new RestClient(server.address)`. */
  address: ServerAddress & { server: string }
}

let sharedPki: Promise<ClusterPki> | undefined

/**
 * One cluster PKI for every test server of this process (made once, removed at exit):
 * each server serves with it, and `call` and `adminCredentials` speak as its admin.
 */
export function testPki(): Promise<ClusterPki> {
  if (!sharedPki) {
    const dir = mkdtempSync(join(tmpdir(), 'weft-test-pki-'))
    onInterrupt(() => rmSync(dir, { recursive: true, force: true }))
    sharedPki = ensureClusterPki(dir, { listenHosts: ['127.0.0.1', 'localhost', '172.31.0.1'], serviceIP: '10.96.0.1', clusterDomain: 'cluster.local' })
  }
  return sharedPki
}

/** The cluster admin (system:masters): what kubectl gets in the written kubeconfig. */
export async function adminCredentials(): Promise<Credentials> {
  const pki = await testPki()
  return { caPem: pki.ca.certPem, certPem: pki.admin.certPem, keyPem: pki.admin.keyPem }
}

/** A user's client certificate from the test CA: CN = user, O = groups. */
export async function userCredentials(user: string, groups: string[] = []): Promise<Credentials> {
  const pki = await testPki()
  const { issueCertificate } = await import('../../src/pki/certificates.ts')
  const cert = await issueCertificate(pki.ca, { commonName: user, organizations: groups, usages: ['client'], validityDays: 1 })
  return { caPem: pki.ca.certPem, certPem: cert.certPem, keyPem: cert.keyPem }
}

export async function startTestServer(t: Teardown, options: { store?: Store; serviceCidrs?: string[]; watch?: Partial<WatchOptions>; kubeletSocketDir?: string; socket?: boolean; kubeletSocketsInDir?: boolean; dnsReplicas?: number; ingress?: ApiServerOptions['ingress']; log?: ApiServerOptions['log']; advertise?: ApiServerOptions['advertise']; limits?: ApiServerOptions['limits']; metrics?: ApiServerOptions['metrics'] } = {}): Promise<TestServer> {
  const dir = await mkdtemp(join(tmpdir(), 'weft-test-'))
  const forget = onInterrupt(() => rmSync(dir, { recursive: true, force: true }))
  const store = options.store ?? (await openStore({ dataDir: dir }))
  const socketPath = options.socket ? join(dir, 'apiserver.sock') : undefined
  const pki = await testPki()
  const server = new ApiServer({ store, security: securityFromPki(pki, 'cluster.local'), listen: '127.0.0.1:0', socketPath, serviceCidrs: options.serviceCidrs, watch: options.watch, kubeletSocketDir: options.kubeletSocketsInDir ? dir : options.kubeletSocketDir, dnsReplicas: options.dnsReplicas, ingress: options.ingress, log: options.log, advertise: options.advertise, limits: options.limits, metrics: options.metrics })
  const { url } = await server.start()
  const kubeconfig = join(dir, 'kubeconfig')
  await writeFile(kubeconfig, adminKubeconfig(url, pki), { mode: 0o600 })
  t.teardown(async () => {
    await server.close()
    if (!options.store) await store.close()
    await rm(dir, { recursive: true, force: true })
    forget()
  })
  return { url, server, store, dir, kubeconfig, socketPath, address: { server: url, credentials: await adminCredentials() } }
}

const dispatchers = new Map<string, Agent>()

/** An undici dispatcher that authenticates with `credentials` (the admin's by default). */
export async function dispatcherFor(credentials?: Credentials): Promise<Agent> {
  const c = credentials ?? (await adminCredentials())
  const key = JSON.stringify([c.certPem ?? '', c.token ?? ''])
  let agent = dispatchers.get(key)
  if (!agent) {
    agent = new Agent({ connect: { ca: c.caPem, cert: c.certPem, key: c.keyPem } })
    dispatchers.set(key, agent)
  }
  return agent
}

/** Sends a JSON request as the cluster admin (or as `as`) and returns status and parsed body. */
export async function call(
  url: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
  as?: Credentials,
): Promise<{ status: number; body: any; headers: UndiciHeaders }> {
  const init: Parameters<typeof undiciFetch>[1] = { method, headers: { 'content-type': 'application/json', ...(as?.token ? { authorization: `Bearer ${as.token}` } : {}), ...headers }, dispatcher: await dispatcherFor(as) }
  if (body !== undefined) init.body = typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body)
  const res = await undiciFetch(url + path, init)
  const text = await res.text()
  let parsed: unknown = text
  try {
    parsed = JSON.parse(text)
  } catch {}
  return { status: res.status, body: parsed, headers: res.headers }
}

/** fetch() as the cluster admin (or as `as`), for tests that read raw responses (watch streams). */
export async function adminFetch(url: string, init: Parameters<typeof undiciFetch>[1] = {}, as?: Credentials): ReturnType<typeof undiciFetch> {
  return undiciFetch(url, { ...init, dispatcher: await dispatcherFor(as) })
}
