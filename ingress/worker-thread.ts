// An Ingress worker thread (--workers): an IngressServer of its own on the main thread's
// ports (SO_REUSEPORT), with its own route table, certificates, balancer and upstream pools,
// rebuilt from each state the main thread sends. Started by IngressWorkers (workers.ts).
import { parentPort, workerData } from 'node:worker_threads'
import type { V1Ingress, V1Secret } from '@kubernetes/client-node'
import { objectKey } from '../src/client/index.ts'
import { logger } from '../src/util/log.ts'
import { Balancer, endpointId } from './balancer.ts'
import { CertStore } from './cert-store.ts'
import type { Endpoint } from './endpoints.ts'
import { TrustedProxies, type TrustedCidr } from './headers.ts'
import { IngressMetrics } from './metrics.ts'
import { UpstreamPools } from './proxy.ts'
import { RouteTableBuilder } from './route-table.ts'
import { IngressServer } from './server.ts'

/** Plain data (structured-cloned): the server options of the main thread's server, its listeners' bound addresses, and the default certificate. */
export interface WorkerData {
  server: {
    httpListen: string
    httpsListen: string
    httpsRedirectPort?: number
    sslRedirect?: boolean
    trustedProxies: TrustedCidr[]
    h2IdleTimeoutMs?: number
    h2MaxConcurrentStreams?: number
    maxConnections?: number
    headersTimeoutMs?: number
    keepAliveTimeoutMs?: number
  }
  defaultCert: { cert: string; key: string }
}

/** What changed since the last state a thread was sent (workers.ts: stateDelta). */
export interface StateDelta {
  seq: number
  ingresses: V1Ingress[]
  removedIngresses: string[]
  secrets: [string, V1Secret][]
  removedSecrets: string[]
  endpoints: [string, Endpoint[]][]
  removedEndpoints: string[]
}

export type ToWorker = { type: 'state'; delta: StateDelta } | { type: 'metrics'; id: number } | { type: 'stop' }
export type FromWorker = { type: 'ready' } | { type: 'failed'; message: string } | { type: 'applied'; seq: number } | { type: 'metrics'; id: number; json: unknown; error?: string }

const port = parentPort!
const data = workerData as WorkerData
const log = logger('ingress')
const balancer = new Balancer()
const certs = new CertStore(data.defaultCert)
const pools = new UpstreamPools()
const metrics = new IngressMetrics({ processMetrics: false })
const { trustedProxies, ...listen } = data.server
const server = new IngressServer({ ...listen, trustedProxies: trustedProxies.length > 0 ? new TrustedProxies(trustedProxies) : undefined, certs, balancer, pools, metrics, log, reusePort: true })
const builder = new RouteTableBuilder()
const ingresses = new Map<string, V1Ingress>()
const secrets = new Map<string, V1Secret>()
const endpoints = new Map<string, Endpoint[]>()
let started = false

function apply(delta: StateDelta): void {
  for (const ing of delta.ingresses) ingresses.set(objectKey(ing), ing)
  for (const key of delta.removedIngresses) ingresses.delete(key)
  for (const [id, secret] of delta.secrets) secrets.set(id, secret)
  for (const id of delta.removedSecrets) secrets.delete(id)
  for (const [key, eps] of delta.endpoints) {
    endpoints.set(key, eps)
    balancer.setEndpoints(key, eps)
  }
  for (const key of delta.removedEndpoints) {
    endpoints.delete(key)
    balancer.setEndpoints(key, [])
  }
  const { table } = builder.update(ingresses.values())
  certs.update(table.tlsHosts(), secrets)
  server.setTable(table)
  const live = new Set<string>()
  for (const eps of endpoints.values()) for (const ep of eps) live.add(endpointId(ep))
  void pools.prune(live)
  void server.grpcSessions.prune(live)
  server.rawPools.prune(live)
  if (delta.ingresses.length > 0 || delta.removedIngresses.length > 0) metrics.forget(new Set(ingresses.keys()))
  port.postMessage({ type: 'applied', seq: delta.seq } satisfies FromWorker)
}

port.on('message', (message: ToWorker) => {
  if (message.type === 'state') {
    apply(message.delta)
    if (started) return
    started = true
    server.start().then(
      () => port.postMessage({ type: 'ready' } satisfies FromWorker),
      (err: Error) => port.postMessage({ type: 'failed', message: err.message } satisfies FromWorker),
    )
  } else if (message.type === 'metrics') {
    void metrics.registry
      .getMetricsAsJSON()
      .then((json) => port.postMessage({ type: 'metrics', id: message.id, json } satisfies FromWorker))
      .catch((err: Error) => port.postMessage({ type: 'metrics', id: message.id, json: [], error: err.message } satisfies FromWorker))
  } else {
    void server
      .close()
      .then(() => pools.close())
      .then(() => port.close())
  }
})
