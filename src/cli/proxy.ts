// `weft proxy`: the service proxy alone; its flags are shared with `weft agent`.
import { hostname } from 'node:os'
import { parseArgs } from 'node:util'
import { parseMode } from '../../proxy/mode.ts'
import { defaultProxyConfig, startProxy, type ProxyConfig } from '../../proxy/run.ts'
import { MAX_WORKERS } from '../../proxy/userspace/proxier.ts'
import { logger } from '../util/log.ts'
import { boolFlag, cidrList, optionalTimeout, timerDuration, wholeNumber } from './flag-values.ts'
import { componentClient, serveUntilSignal, connectionUsage } from './serve.ts'

export const proxyFlagsUsage = `  --proxy-mode MODE           nftables, userspace or auto (default auto: nftables, or userspace when
                              nftables cannot be used here — no nft, no CAP_NET_ADMIN, no nf_tables)
  --service-cidr CIDRS        the service network(s), one per family (default ${defaultProxyConfig.serviceCIDRs.join(',')});
                              their families are the ones proxied; unallocated addresses in them are dropped
  --cluster-cidr CIDRS        the pod network(s): Service traffic from outside them is masqueraded
                              (default ${defaultProxyConfig.clusterCIDRs.join(',')})
  --healthz-bind-address A    /healthz and /livez (and /metrics) on HOST:PORT (default ${defaultProxyConfig.healthzListen}; '' for none)
  --metrics-bind-address A    /metrics (and /healthz) on HOST:PORT (default ${defaultProxyConfig.metricsListen}; '' for none)
  --min-sync-period D         at most one rule sync per D (default 100ms)
  --full-sync-period D        a full resync of every rule at least every D (default 10m)
  --udp-timeout D             userspace mode: idle time after which a UDP session ends (default 30s)
  --udp-session-limit N       userspace mode: UDP sessions at once; a new client past it is dropped
                              (default ${defaultProxyConfig.udpSessionLimit}; TCP and UDP relays together also stay within
                              four fifths of the open-file limit)
  --tcp-idle-timeout D        userspace mode: a relayed TCP connection with no traffic either way for D
                              is closed, giving its sockets back (default 1h; 0 disables it)
  --userspace-workers N       userspace mode: threads relaying TCP, sharing each Service port (SO_REUSEPORT)
                              (default ${defaultProxyConfig.userspaceWorkers}: the CPUs, at most 4; ~26 MiB each beyond the
                              first; UDP, ClientIP affinity and NetworkPolicy-judged connections
                              stay on the main thread)
  --strict-arp=false          userspace mode: leave arp_ignore/arp_announce alone (default: set them to 1/2,
                              so the node answers ARP for no Service address on its links)`

export const proxyUsage = `Usage: weft proxy [flags]

Runs the service proxy alone: watches Services, EndpointSlices and this Node, and makes every
Service address (ClusterIP, NodePort, externalIPs, load-balancer IPs) work on this host, with
nftables rules in the tables ip/ip6 weft-proxy, or with userspace listeners.

Flags:
${connectionUsage}
  --node-name NAME            this Node's name (default: the hostname)
${proxyFlagsUsage}
  -h, --help                  show this help
`

export const proxyOptions = {
  'proxy-mode': { type: 'string', default: 'auto' },
  'service-cidr': { type: 'string', default: defaultProxyConfig.serviceCIDRs.join(',') },
  'cluster-cidr': { type: 'string', default: defaultProxyConfig.clusterCIDRs.join(',') },
  'healthz-bind-address': { type: 'string', default: defaultProxyConfig.healthzListen },
  'metrics-bind-address': { type: 'string', default: defaultProxyConfig.metricsListen },
  'min-sync-period': { type: 'string', default: '100ms' },
  'full-sync-period': { type: 'string', default: '10m' },
  'udp-timeout': { type: 'string', default: '30s' },
  'udp-session-limit': { type: 'string', default: String(defaultProxyConfig.udpSessionLimit) },
  'tcp-idle-timeout': { type: 'string', default: '1h' },
  'strict-arp': { type: 'string', default: 'true' },
  'userspace-workers': { type: 'string', default: String(defaultProxyConfig.userspaceWorkers) },
} as const

export function proxyConfigFrom(values: Record<string, string | boolean | undefined>): ProxyConfig {
  const s = (k: keyof typeof proxyOptions) => String(values[k] ?? proxyOptions[k].default)
  const serviceCIDRs = cidrList('--service-cidr', s('service-cidr'))
  if (serviceCIDRs.length === 0) throw new Error('--service-cidr must name at least one CIDR')
  return {
    mode: parseMode(s('proxy-mode')),
    serviceCIDRs,
    clusterCIDRs: cidrList('--cluster-cidr', s('cluster-cidr')),
    healthzListen: s('healthz-bind-address'),
    metricsListen: s('metrics-bind-address'),
    minSyncMs: timerDuration('--min-sync-period', s('min-sync-period')),
    fullSyncMs: timerDuration('--full-sync-period', s('full-sync-period')),
    udpIdleTimeoutMs: timerDuration('--udp-timeout', s('udp-timeout')),
    udpSessionLimit: wholeNumber('--udp-session-limit', s('udp-session-limit'), { min: 1, what: 'sessions' }),
    tcpIdleTimeoutMs: optionalTimeout('--tcp-idle-timeout', s('tcp-idle-timeout'), 'the idle timeout'),
    strictArp: boolFlag('--strict-arp', s('strict-arp'), true),
    userspaceWorkers: wholeNumber('--userspace-workers', s('userspace-workers'), { min: 1, max: MAX_WORKERS, what: 'threads' }),
  }
}

export async function runProxy(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      server: { type: 'string' },
      kubeconfig: { type: 'string' },
      socket: { type: 'string' },
      'node-name': { type: 'string' },
      ...proxyOptions,
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  })
  if (values.help) {
    process.stdout.write(proxyUsage)
    return
  }
  const config = proxyConfigFrom(values)
  const log = logger('proxy')
  const client = componentClient(values, 'weft-proxy')
  await serveUntilSignal(client, (signal) => startProxy(config, client, values['node-name'] ?? hostname(), log, {}, signal))
}
