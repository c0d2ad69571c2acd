// Wires the Ingress controller together: what `weft ingress` runs.
import { AggregatorRegistry } from 'prom-client'
import type { RestClient } from '../src/client/index.ts'
import { parseListenAddress } from '../src/util/host-port.ts'
import { HttpEndpoints } from '../src/util/http-endpoints.ts'
import type { Logger } from '../src/util/log.ts'
import { Balancer } from './balancer.ts'
import { CertStore } from './cert-store.ts'
import { backendKey } from './endpoints.ts'
import { defaultIngressClassConfig, type IngressClassConfig } from './ingress-class.ts'
import { IngressSource, type ServedState } from './ingress-source.ts'
import type { TrustedProxies } from './headers.ts'
import { IngressMetrics } from './metrics.ts'
import { UpstreamPools } from './proxy.ts'
import { selfSigned } from './self-signed.ts'
import { IngressServer } from './server.ts'
import type { PublishSource } from './status-addresses.ts'
import { IngressStatusWriter } from './status-writer.ts'
import { IngressWorkers } from './workers.ts'

export interface IngressConfig {
  httpListen: string
  httpsListen: string
  /** The port HTTP→HTTPS redirects name (the HTTPS port clients reach, e.g. behind a port publisher). */
  httpsRedirectPort?: number
  /** Redirect plain HTTP for TLS hosts to HTTPS unless an Ingress says weft.dev/ssl-redirect: "false" (default false). */
  sslRedirect?: boolean
  /** Peers whose X-Forwarded-For and Forwarded are appended to (default: none). */
  trustedProxies?: TrustedProxies
  /** See IngressServerOptions. */
  h2IdleTimeoutMs?: number
  keepAliveTimeoutMs?: number
  h2MaxConcurrentStreams?: number
  /** Client connections each listener holds at once (default: defaultMaxConnections() in server.ts). */
  maxConnections?: number
  classes: IngressClassConfig
  /** HOST:PORT of /healthz, /readyz and /metrics; '' for none. */
  statusListen: string
  /** See IngressServerOptions. */
  headersTimeoutMs?: number
  /** What status.loadBalancer.ingress of served Ingresses names (default: the listeners' addresses). */
  publish?: PublishSource
  /** Threads serving the listeners (default 1: the main thread alone); see workers.ts. */
  workers?: number
}

export const defaultIngressConfig: IngressConfig = {
  httpListen: '0.0.0.0:80',
  httpsListen: '0.0.0.0:443',
  classes: defaultIngressClassConfig,
  statusListen: '0.0.0.0:10254',
}

export interface RunningIngress {
  server: IngressServer
  source: IngressSource
  status: IngressStatusWriter
  balancer: Balancer
  certs: CertStore
  statusPorts: number[]
  /** The worker threads beside the main thread's server (--workers N > 1). */
  workers?: IngressWorkers
  stop(): Promise<void>
}

export async function startIngress(config: IngressConfig, client: RestClient, log: Logger, signal?: AbortSignal): Promise<RunningIngress> {
  const defaultCert = await selfSigned(['weft-ingress-default'])
  const certs = new CertStore(defaultCert)
  const extraThreads = Math.max(0, (config.workers ?? 1) - 1)
  const balancer = new Balancer()
  const pools = new UpstreamPools()
  const metrics = new IngressMetrics()
  /** The served set the metrics last forgot the others of. */
  let forgotten: ReadonlySet<string> | undefined
  const server = new IngressServer({ httpListen: config.httpListen, httpsListen: config.httpsListen, httpsRedirectPort: config.httpsRedirectPort, sslRedirect: config.sslRedirect, trustedProxies: config.trustedProxies, h2IdleTimeoutMs: config.h2IdleTimeoutMs, h2MaxConcurrentStreams: config.h2MaxConcurrentStreams, maxConnections: config.maxConnections, headersTimeoutMs: config.headersTimeoutMs, keepAliveTimeoutMs: config.keepAliveTimeoutMs, certs, balancer, pools, metrics, log, reusePort: extraThreads > 0 })
  let workers: IngressWorkers | undefined
  let latest: ServedState | undefined
  const status = new IngressStatusWriter(client, config.publish ?? { kind: 'listeners', listen: [config.httpListen, config.httpsListen] }, () => source.served(), log)
  const source = new IngressSource({
    client,
    classes: config.classes,
    certs,
    balancer,
    log,
    onTable: (table) => {
      server.setTable(table)
      const live = new Set<string>()
      const backends = [...table.routes().map((r) => r.backend), ...table.defaultBackends().map((d) => d.backend)]
      for (const b of backends) for (const s of balancer.state(backendKey(b))) live.add(s.endpoint)
      void pools.prune(live)
      void server.grpcSessions.prune(live)
      server.rawPools.prune(live)
      // The series of Ingresses no longer served go, when that set changed (most changes are endpoints').
      if (source.servedKeys !== forgotten) metrics.forget((forgotten = source.servedKeys))
    },
    onState: (state) => {
      latest = state
      workers?.update(state)
    },
    onIngresses: () => status.changed(),
  })
  const statusEndpoints = new HttpEndpoints({
    '/healthz': (res) => {
      res.writeHead(200, { 'content-type': 'text/plain' })
      res.end('ok')
    },
    '/readyz': (res) => {
      const ready = source.ready && (workers?.ready ?? true)
      res.writeHead(ready ? 200 : 503, { 'content-type': 'text/plain' })
      res.end(ready ? 'ok' : source.ready ? 'a worker thread is not serving' : 'the routes have not been loaded from the API server yet')
    },
    '/metrics': async (res) => {
      const text = workers ? await AggregatorRegistry.aggregate([await metrics.registry.getMetricsAsJSON(), ...((await workers.metrics()) as object[])]).metrics() : await metrics.registry.metrics()
      res.writeHead(200, { 'content-type': metrics.registry.contentType })
      res.end(text)
    },
  })
  const stopAll = async () => {
    await statusEndpoints.close()
    await workers?.stop()
    await server.close()
    await source.stop()
    await status.stop()
    await pools.close()
  }
  try {
    const statusPorts = await statusEndpoints.listen([config.statusListen])
    // Requests are served only once the routes are loaded: an empty table would answer 404 to everything.
    await source.start(signal)
    await server.start()
    if (extraThreads > 0) {
      // The other threads bind the ports the main thread's listeners got (a port 0 is chosen once).
      const bound = (listen: string, port: number) => {
        if (!listen) return ''
        const { host } = parseListenAddress(listen)
        return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`
      }
      workers = new IngressWorkers(
        extraThreads,
        {
          server: { httpListen: bound(config.httpListen, server.httpPort), httpsListen: bound(config.httpsListen, server.httpsPort), httpsRedirectPort: config.httpsRedirectPort ?? (config.httpsListen ? server.httpsPort : undefined), sslRedirect: config.sslRedirect, trustedProxies: [...(config.trustedProxies?.cidrs ?? [])], h2IdleTimeoutMs: config.h2IdleTimeoutMs, h2MaxConcurrentStreams: config.h2MaxConcurrentStreams, maxConnections: config.maxConnections, headersTimeoutMs: config.headersTimeoutMs, keepAliveTimeoutMs: config.keepAliveTimeoutMs },
          defaultCert,
        },
        log,
        metrics,
      )
      await workers.start(latest!)
    }
    // Statuses name the listeners only once they are serving.
    await status.start(signal)
    log.info({ http: server.httpPort, https: server.httpsPort, workers: extraThreads + 1, routes: source.table?.routes().length ?? 0 }, 'Ingress controller serving')
    return { server, source, status, balancer, certs, statusPorts, workers, stop: stopAll }
  } catch (err) {
    await stopAll()
    throw err
  }
}
