// Starts a real weft API server for a test: in-process over a fresh SQLite store (or a
// given store), on a free loopback port, removed in teardown.
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ApiServer, type ApiServerOptions } from '../../src/apiserver/server.ts'
import { kubeconfigFor } from '../../src/cli/server.ts'
import { openStore } from '../../src/store/open-store.ts'
import type { Store } from '../../src/store/store.ts'
import type { WatchOptions } from '../../src/apiserver/watch.ts'

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
}

export async function startTestServer(t: Teardown, options: { store?: Store; serviceCidrs?: string[]; watch?: Partial<WatchOptions>; kubeletSocketDir?: string; socket?: boolean; kubeletSocketsInDir?: boolean; dnsReplicas?: number; ingress?: ApiServerOptions['ingress'] } = {}): Promise<TestServer> {
  const dir = await mkdtemp(join(tmpdir(), 'weft-test-'))
  const store = options.store ?? (await openStore({ dataDir: dir }))
  const socketPath = options.socket ? join(dir, 'apiserver.sock') : undefined
  const server = new ApiServer({ store, listen: '127.0.0.1:0', socketPath, serviceCidrs: options.serviceCidrs, watch: options.watch, kubeletSocketDir: options.kubeletSocketsInDir ? dir : options.kubeletSocketDir, dnsReplicas: options.dnsReplicas, ingress: options.ingress })
  const { url } = await server.start()
  const kubeconfig = join(dir, 'kubeconfig')
  await writeFile(kubeconfig, kubeconfigFor(url))
  t.teardown(async () => {
    await server.close()
    if (!options.store) await store.close()
    await rm(dir, { recursive: true, force: true })
  })
  return { url, server, store, dir, kubeconfig, socketPath }
}

/** Sends a JSON request and returns status and parsed body. */
export async function call(
  url: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: any; headers: Headers }> {
  const init: RequestInit = { method, headers: { 'content-type': 'application/json', ...headers } }
  if (body !== undefined) init.body = typeof body === 'string' ? body : JSON.stringify(body)
  const res = await fetch(url + path, init)
  const text = await res.text()
  let parsed: unknown = text
  try {
    parsed = JSON.parse(text)
  } catch {}
  return { status: res.status, body: parsed, headers: res.headers }
}
