// Wires a ServiceProxy to the real data planes and its HTTP endpoints: what `weft proxy`
// and `weft agent` run.
import { availableParallelism } from 'node:os'
import type { RestClient } from '../src/client/index.ts'
import { NftExec, flushUdpNodePortEndpoint, flushUdpServiceEndpoint, flushUdpToNodePort, flushUdpToServiceIP, probeNftables } from '../src/netfilter/index.ts'
import type { Logger } from '../src/util/log.ts'
import { ProxyHealthServer } from './health-server.ts'
import type { RequestedMode } from './mode.ts'
import type { Family } from './model.ts'
import { NftablesProxier } from './nftables/proxier.ts'
import type { Proxier, ProxyMode } from './proxier.ts'
import { ServiceProxy } from './service-proxy.ts'
import type { ConnectionPolicy } from './userspace/connection-policy.ts'
import { DEFAULT_UDP_SESSION_LIMIT, UserspaceLimits } from './userspace/limits.ts'
import { DEFAULT_TCP_IDLE_TIMEOUT_MS, UserspaceProxier } from './userspace/proxier.ts'

export interface ProxyConfig {
  mode: RequestedMode
  serviceCIDRs: string[]
  clusterCIDRs: string[]
  /** HOST:PORT for /healthz (and /metrics); '' for none. */
  healthzListen: string
  /** HOST:PORT for /metrics (and /healthz); '' for none. */
  metricsListen: string
  minSyncMs: number
  fullSyncMs: number
  udpIdleTimeoutMs: number
  /** Userspace mode: UDP sessions at once (both families together). */
  udpSessionLimit: number
  /** Userspace mode: relayed TCP connections idle this long are closed; 0: never. */
  tcpIdleTimeoutMs: number
  /** Userspace mode: keep the node from answering ARP for Service addresses. */
  strictArp: boolean
  /** Userspace mode: threads relaying TCP (relay-workers.ts). */
  userspaceWorkers: number
}

export const defaultProxyConfig: ProxyConfig = {
  mode: 'auto',
  serviceCIDRs: ['10.96.0.0/12'],
  clusterCIDRs: ['10.244.0.0/16'],
  healthzListen: '0.0.0.0:10256',
  metricsListen: '127.0.0.1:10249',
  minSyncMs: 100,
  fullSyncMs: 600_000,
  udpIdleTimeoutMs: 30_000,
  udpSessionLimit: DEFAULT_UDP_SESSION_LIMIT,
  tcpIdleTimeoutMs: DEFAULT_TCP_IDLE_TIMEOUT_MS,
  strictArp: true,
  userspaceWorkers: Math.min(availableParallelism(), 4),
}

export interface RunningProxy {
  proxy: ServiceProxy
  /** The bound ports of the healthz and metrics listeners, in that order (those not disabled). */
  ports: number[]
  /** The healthz and metrics listeners: the agent adds /healthz/netpol to them. */
  endpoints: ProxyHealthServer
  stop(): Promise<void>
}

export interface ProxyHooks {
  nodeIPs?: string[]
  /** Userspace mode: asked before each new relayed connection (the agent's NetworkPolicy verdict). */
  connectionPolicy?: ConnectionPolicy
}

export async function startProxy(config: ProxyConfig, client: RestClient, nodeName: string, log: Logger, hooks: ProxyHooks = {}, signal?: AbortSignal): Promise<RunningProxy> {
  const { nodeIPs, connectionPolicy } = hooks
  // One budget for both families' relays: they share the process's file descriptors.
  let limits: UserspaceLimits | undefined
  const userspaceLimits = (): UserspaceLimits => {
    if (limits !== undefined) return limits
    limits = new UserspaceLimits({ udpSessionLimit: config.udpSessionLimit, log })
    proxy.metrics.watchUserspace(limits)
    log.info({ udpSessionLimit: limits.udpSessionLimit, socketLimit: limits.socketLimit, tcpIdleTimeoutMs: config.tcpIdleTimeoutMs }, 'userspace relay limits')
    return limits
  }
  const createProxier = (mode: ProxyMode, family: Family): Proxier =>
    mode === 'nftables'
      ? new NftablesProxier({ family, nft: new NftExec(), conntrack: { flushUdpToServiceIP, flushUdpToNodePort, flushUdpServiceEndpoint, flushUdpNodePortEndpoint }, log })
      : new UserspaceProxier({ family, udpIdleTimeoutMs: config.udpIdleTimeoutMs, tcpIdleTimeoutMs: config.tcpIdleTimeoutMs, strictArp: config.strictArp, workers: config.userspaceWorkers, limits: userspaceLimits(), ...(connectionPolicy ? { connectionPolicy } : {}), log })
  const proxy = new ServiceProxy({
    client,
    nodeName,
    mode: config.mode,
    serviceCIDRs: config.serviceCIDRs,
    clusterCIDRs: config.clusterCIDRs,
    nodeIPs,
    createProxier,
    probe: () => probeNftables(),
    minSyncMs: config.minSyncMs,
    fullSyncMs: config.fullSyncMs,
    serviceHealthChecks: true,
    log,
  })
  const server = new ProxyHealthServer(proxy)
  // Listening first: /healthz answers 503 while the first sync is still running.
  const ports = await server.listen([config.healthzListen, config.metricsListen])
  try {
    await proxy.start(signal)
  } catch (err) {
    await server.close()
    await proxy.stop()
    throw err
  }
  return {
    proxy,
    ports,
    endpoints: server,
    async stop() {
      await server.close()
      await proxy.stop()
    },
  }
}
