// Wires the DNS server together: what `weft dns` (and the `weft/dns` image) runs.
import { readFile } from 'node:fs/promises'
import { availableParallelism } from 'node:os'
import { AggregatorRegistry } from 'prom-client'
import type { RestClient } from '../src/client/index.ts'
import { parseResolvConf } from '../src/kubelet/resolv-conf.ts'
import { HttpEndpoints } from '../src/util/http-endpoints.ts'
import type { Logger } from '../src/util/log.ts'
import { defaultForwarderOptions, type ForwardPolicy } from './forwarder.ts'
import type { QueryHandler } from './handler.ts'
import { DnsMetrics } from './metrics.ts'
import { createQueryPlane, type QueryPlaneConfig } from './query-plane.ts'
import { QueryThreads } from './query-threads.ts'
import { defaultCacheOptions } from './response-cache.ts'
import { DnsServer, type BoundAddress } from './server.ts'
import type { PodRecordsMode, ZoneConfig } from './zone-index.ts'
import { ZoneSource } from './zone-source.ts'

export interface DnsConfig {
  /** HOST:PORT for UDP and TCP. */
  listen: string[]
  zone: string
  ttl: number
  pods: PodRecordsMode
  /** The DNS Service's own addresses (glue for `ns.dns.<zone>`). */
  nameserverIPs: string[]
  /** Upstream servers; empty: the nameservers of `resolvConf`; ['none']: no forwarding. */
  upstreams: string[]
  resolvConf: string
  policy: ForwardPolicy
  forwardTimeoutMs: number
  maxConcurrent: number
  healthCheckMs: number
  cacheCapacity: number
  cacheSuccessTtl: number
  cacheDenialTtl: number
  /** Seconds a SERVFAIL is cached (0: never). */
  cacheServfailTtl: number
  autopath: boolean
  /** HOST:PORT of /health; '' for none. */
  healthListen: string
  /** HOST:PORT of /ready; '' for none. */
  readyListen: string
  /** HOST:PORT of /metrics; '' for none. */
  metricsListen: string
  /** Threads answering UDP queries, each with its own socket on the port (TCP stays on the main thread). */
  threads: number
}

export const defaultDnsConfig: DnsConfig = {
  listen: ['0.0.0.0:53'],
  zone: 'cluster.local',
  ttl: 5,
  pods: 'verified',
  nameserverIPs: [],
  upstreams: [],
  resolvConf: '/etc/resolv.conf',
  policy: defaultForwarderOptions.policy,
  forwardTimeoutMs: defaultForwarderOptions.timeoutMs,
  maxConcurrent: defaultForwarderOptions.maxConcurrent,
  healthCheckMs: defaultForwarderOptions.healthCheckMs,
  cacheCapacity: defaultCacheOptions.capacity,
  cacheSuccessTtl: 30,
  cacheDenialTtl: 30,
  cacheServfailTtl: defaultCacheOptions.servfailTtl,
  autopath: true,
  healthListen: '0.0.0.0:8080',
  readyListen: '0.0.0.0:8181',
  metricsListen: '0.0.0.0:9153',
  threads: defaultThreads(availableParallelism()),
}

/**
 * One thread per CPU up to 4, but one in all on 2 CPUs or fewer: a thread answers ~170k
 * queries/s on one core through the batch addon, and on 2 CPUs the second thread competed
 * with the clients on the same node for the other core while costing ~50 MiB (an isolate, a
 * zone copy). See bench/dns/README.md.
 */
export function defaultThreads(cpus: number): number {
  return cpus <= 2 ? 1 : Math.min(4, cpus)
}

export interface RunningDns {
  handler: QueryHandler
  source: ZoneSource
  metrics: DnsMetrics
  /** The DNS listeners' bound addresses. */
  addresses: BoundAddress[]
  /** Bound ports of /health, /ready and /metrics, in that order (those not disabled). */
  httpPorts: number[]
  stop(): Promise<void>
}

export async function startDns(config: DnsConfig, client: RestClient, log: Logger, signal?: AbortSignal): Promise<RunningDns> {
  const zone: ZoneConfig = { zone: config.zone.toLowerCase().replace(/\.$/, ''), ttl: config.ttl, pods: config.pods, nameserverIPs: config.nameserverIPs }
  const resolv = parseResolvConf(config.upstreams.length === 0 || config.autopath ? await readFile(config.resolvConf, 'utf8').catch(() => '') : '')
  const upstreams = config.upstreams.length === 0 ? resolv.nameservers : config.upstreams.includes('none') ? [] : config.upstreams
  if (config.upstreams.length === 0 && upstreams.length === 0) log.warn({ resolvConf: config.resolvConf }, 'no nameservers to forward to: names outside the cluster zone are refused')
  const plane: QueryPlaneConfig = {
    zone,
    autopath: config.autopath,
    hostSearch: config.autopath ? resolv.searches : [],
    forwarder: { upstreams, policy: config.policy, timeoutMs: config.forwardTimeoutMs, maxConcurrent: config.maxConcurrent, healthCheckMs: config.healthCheckMs, maxFails: defaultForwarderOptions.maxFails },
    cache: { ...defaultCacheOptions, capacity: config.cacheCapacity, maxPositiveTtl: config.cacheSuccessTtl, maxNegativeTtl: config.cacheDenialTtl, servfailTtl: config.cacheServfailTtl },
  }
  const port = config.listen[0]?.slice(config.listen[0].lastIndexOf(':') + 1) ?? '53'
  const metrics = new DnsMetrics(`dns://:${port}`)
  const main = createQueryPlane(plane, metrics)
  const extraThreads = Math.max(0, config.threads - 1)
  const server = new DnsServer(main.handler, { listen: config.listen, reusePort: extraThreads > 0 })
  let threads: QueryThreads | undefined
  let threadsReady = extraThreads === 0
  const source = new ZoneSource({
    client,
    config: zone,
    watchPods: config.autopath || config.pods === 'verified',
    onIndex: (index, snapshot) => {
      main.handler.setIndex(index)
      threads?.update(snapshot)
    },
    log,
  })
  const ready = () => source.ready && threadsReady
  const http = new HttpEndpoints({
    '/health': (res) => {
      res.writeHead(200, { 'content-type': 'text/plain' })
      res.end('OK')
    },
    '/ready': (res) => {
      res.writeHead(ready() ? 200 : 503, { 'content-type': 'text/plain' })
      res.end(ready() ? 'OK' : 'the zone has not been loaded from the API server yet')
    },
    '/metrics': async (res) => {
      const text = threads
        ? await AggregatorRegistry.aggregate([await metrics.registry.getMetricsAsJSON(), ...((await threads.metrics()) as object[])]).metrics()
        : await metrics.registry.metrics()
      res.writeHead(200, { 'content-type': metrics.registry.contentType })
      res.end(text)
    },
  })
  const stopAll = async () => {
    await http.close()
    await server.close()
    await threads?.stop()
    await source.stop()
    await main.close()
  }
  try {
    const httpPorts = await http.listen([config.healthListen, config.readyListen, config.metricsListen])
    // DNS is served only once the zone is loaded: an empty zone would answer NXDOMAIN for every Service.
    await source.start(signal)
    const addresses = await server.start()
    log.info({ addresses, zone: zone.zone, upstreams, threads: config.threads, udp: server.udpBatch ? 'batch addon' : 'node:dgram' }, 'DNS server listening')
    if (extraThreads > 0) {
      threads = new QueryThreads(extraThreads, { config: plane, listen: addresses.map((a) => `${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}`), metricsServer: metrics.server }, main.forwarding, log)
      await threads.start(source.snapshot!)
      threadsReady = true
    }
    log.info({ services: main.handler.index.serviceCount }, 'cluster zone loaded')
    return { handler: main.handler, source, metrics, addresses, httpPorts, stop: stopAll }
  } catch (err) {
    await stopAll()
    throw err
  }
}
