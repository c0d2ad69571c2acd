// `weft dns`: the cluster DNS server (also what the built-in image `weft/dns` runs).
import type { ForwardPolicy } from '../../dns/forwarder.ts'
import { defaultDnsConfig, startDns, type DnsConfig } from '../../dns/run.ts'
import { MAX_SERVFAIL_TTL } from '../../dns/response-cache.ts'
import type { PodRecordsMode } from '../../dns/zone-index.ts'
import { runComponent, connectionUsage } from './serve.ts'
import { boolFlag, oneOf, optionalTimeout, timerDuration, wholeNumber } from './flag-values.ts'

const d = defaultDnsConfig

export const dnsUsage = `Usage: weft dns [flags]

Runs the cluster DNS server: answers the cluster zone from the Services, EndpointSlices and
Pods it watches (Kubernetes DNS-based service discovery, schema 1.1.0) and forwards every
other name to upstream servers, over UDP and TCP.

Flags:
${connectionUsage}
  --listen ADDRS            HOST:PORT to serve DNS on, UDP and TCP, comma-separated (default ${d.listen.join(',')})
  --zone DOMAIN             the cluster domain (default ${d.zone})
  --ttl SECONDS             TTL of the zone's records and of its negative answers (default ${d.ttl})
  --pods MODE               pod records <a-b-c-d>.<ns>.pod.<zone>: disabled, insecure (any address)
                            or verified (only addresses of existing pods; default ${d.pods})
  --nameserver-ips IPS      the DNS Service's own addresses, for the zone's NS record (default: none)
  --upstream ADDRS          upstream servers IP[:PORT], comma-separated; "none": refuse names outside
                            the zone (default: the nameservers in --resolv-conf)
  --resolv-conf PATH        upstreams and host search domains (default ${d.resolvConf})
  --policy P                upstream order: random, round_robin or sequential (default ${d.policy})
  --forward-timeout D       a forwarded query's deadline, then SERVFAIL (default ${d.forwardTimeoutMs}ms)
  --max-concurrent N        forwarded queries in flight; more are REFUSED (default ${d.maxConcurrent})
  --health-check D          probe interval of an upstream marked down (default ${d.healthCheckMs}ms)
  --cache-capacity N        cached upstream replies (default ${d.cacheCapacity})
  --cache-success-ttl S     cap on the TTL of cached answers, seconds (default ${d.cacheSuccessTtl})
  --cache-denial-ttl S      cap on the TTL of cached NXDOMAIN/NODATA, seconds (default ${d.cacheDenialTtl})
  --cache-servfail-ttl D    how long an upstream SERVFAIL (or no answer by the deadline) is cached:
                            seconds or a duration (500ms, 5s, 1m), at most 5m; 0 disables (default ${d.cacheServfailTtl}s)
  --autopath=false          do not walk pods' search paths server-side
  --health-listen A         /health on HOST:PORT (default ${d.healthListen}; '' for none)
  --ready-listen A          /ready on HOST:PORT (default ${d.readyListen}; '' for none)
  --metrics-listen A        /metrics on HOST:PORT (default ${d.metricsListen}; '' for none)
  --threads N               threads answering UDP queries, each with its own socket on the port
                            (SO_REUSEPORT); TCP is answered by the first (default: the CPUs, at most 4;
                            1 on 2 CPUs or fewer)
  -h, --help                show this help
`

const list = (v: string | undefined) => (v ?? '').split(',').map((s) => s.trim()).filter(Boolean)

/** Seconds: whole seconds (as the other cache flags take) or a duration (whole milliseconds), 0 disables; at most 5 minutes. */
function servfailTtl(flag: string, value: string): number {
  const seconds = /^\d+$/.test(value.trim()) ? wholeNumber(flag, value) : optionalTimeout(flag, value, 'caching server failures') / 1000
  if (seconds > MAX_SERVFAIL_TTL) throw new Error(`${flag} "${value}" must be at most 5m: RFC 2308 forbids caching a server failure longer`)
  return seconds
}

export function dnsConfigFrom(values: Record<string, string | boolean | undefined>): DnsConfig {
  const s = (k: string, fallback: string) => (values[k] === undefined ? fallback : String(values[k]))
  const listen = list(s('listen', d.listen.join(',')))
  if (listen.length === 0) throw new Error('--listen must name at least one HOST:PORT')
  const zone = s('zone', d.zone).toLowerCase().replace(/\.$/, '')
  if (!/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/.test(zone)) throw new Error(`--zone "${zone}" is not a domain name`)
  return {
    listen,
    zone,
    ttl: wholeNumber('--ttl', s('ttl', String(d.ttl))),
    pods: oneOf<PodRecordsMode>('--pods', s('pods', d.pods), ['disabled', 'insecure', 'verified']),
    nameserverIPs: list(s('nameserver-ips', '')),
    upstreams: list(s('upstream', '')),
    resolvConf: s('resolv-conf', d.resolvConf),
    policy: oneOf<ForwardPolicy>('--policy', s('policy', d.policy), ['random', 'round_robin', 'sequential']),
    forwardTimeoutMs: timerDuration('--forward-timeout', s('forward-timeout', `${d.forwardTimeoutMs}ms`)),
    maxConcurrent: wholeNumber('--max-concurrent', s('max-concurrent', String(d.maxConcurrent)), { min: 1 }),
    healthCheckMs: timerDuration('--health-check', s('health-check', `${d.healthCheckMs}ms`)),
    cacheCapacity: wholeNumber('--cache-capacity', s('cache-capacity', String(d.cacheCapacity))),
    cacheSuccessTtl: wholeNumber('--cache-success-ttl', s('cache-success-ttl', String(d.cacheSuccessTtl))),
    cacheDenialTtl: wholeNumber('--cache-denial-ttl', s('cache-denial-ttl', String(d.cacheDenialTtl))),
    cacheServfailTtl: servfailTtl('--cache-servfail-ttl', s('cache-servfail-ttl', String(d.cacheServfailTtl))),
    autopath: boolFlag('--autopath', values.autopath, true),
    healthListen: s('health-listen', d.healthListen),
    readyListen: s('ready-listen', d.readyListen),
    metricsListen: s('metrics-listen', d.metricsListen),
    threads: wholeNumber('--threads', s('threads', String(d.threads)), { min: 1 }),
  }
}

const stringFlags = [
  'listen', 'zone', 'ttl', 'pods', 'nameserver-ips', 'upstream', 'resolv-conf', 'policy', 'forward-timeout', 'max-concurrent',
  'health-check', 'cache-capacity', 'cache-success-ttl', 'cache-denial-ttl', 'cache-servfail-ttl', 'autopath', 'health-listen', 'ready-listen', 'metrics-listen', 'threads',
] as const

export function runDns(argv: string[]): Promise<void> {
  return runComponent(argv, { flags: stringFlags, boolFlags: ['autopath'], usage: dnsUsage, configFrom: dnsConfigFrom, name: 'dns', start: startDns })
}
