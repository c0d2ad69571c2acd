// `weft ingress`: the Ingress controller (also what the built-in image `weft/ingress` runs).
import { isIP } from 'node:net'
import { availableParallelism } from 'node:os'
import { parseTrustedProxies } from '../../ingress/headers.ts'
import { defaultIngressConfig, startIngress, type IngressConfig } from '../../ingress/run.ts'
import type { PublishSource } from '../../ingress/status-addresses.ts'
import { boolFlag, timerDuration, wholeNumber } from './flag-values.ts'
import { runComponent, connectionUsage } from './serve.ts'

const d = defaultIngressConfig

export const ingressUsage = `Usage: weft ingress [flags]

Runs the Ingress controller: serves the Ingresses of its IngressClass over HTTP and HTTPS
(certificates from kubernetes.io/tls Secrets by SNI, h2 and http/1.1), routing by host and
path straight to the ready endpoints of the backend Services.

Flags:
${connectionUsage}
  --http-listen A           plain HTTP on HOST:PORT (default ${d.httpListen}; '' for none)
  --https-listen A          HTTPS on HOST:PORT (default ${d.httpsListen}; '' for none)
  --ssl-redirect[=BOOL]     plain HTTP to a host that has TLS gets a 308 to HTTPS (default false:
                            served); an Ingress's weft.dev/ssl-redirect annotation overrides it
  --https-redirect-port N   the port HTTP→HTTPS redirects name (default: the HTTPS port)
  --trusted-proxies CIDRS   peers (comma-separated addresses and CIDRs, e.g. a load balancer's)
                            whose X-Forwarded-For and Forwarded are appended to; everyone
                            else's are overwritten with the peer address (default: none)
  --h2-max-concurrent-streams N
                            streams an HTTP/2 client may have open at once (default 128)
  --max-connections N       client connections each listener (HTTP, HTTPS) holds at once; past it
                            a new one is closed as it arrives (default 16384, less when the
                            open-file limit is low: a quarter of what it leaves, 192 for 1024)
  --keep-alive-timeout D    an HTTP/1.1 client connection idle between requests this long is closed
                            (default 75s, as ingress-nginx)
  --h2-idle-timeout D       an HTTP/2 connection with no open streams that is silent this long is
                            closed, and a request body that stalls this long is reset (default 60s)
  --workers N               threads serving the listeners, each with its own listening sockets on the
                            ports (SO_REUSEPORT), route table copy and upstream connections; the
                            main thread also watches the API and writes status (default: the CPUs,
                            ${availableParallelism()} here)
  --ingress-class NAME      the IngressClass name served (default ${d.classes.className})
  --controller NAME         the IngressClass spec.controller served (default ${d.classes.controller})
  --status-listen A         /healthz, /readyz and /metrics on HOST:PORT (default ${d.statusListen}; '' for none)
  --publish-service NS/NAME status.loadBalancer.ingress of served Ingresses copies this Service's
                            load balancer addresses (and external IPs): for a controller behind it
  --publish-status-address LIST
                            status.loadBalancer.ingress names these IPs or hostnames (comma-separated)
  --update-status BOOL      write status.loadBalancer.ingress at all (default true). Without a
                            --publish-* flag it names, inside a pod ($POD_NAME and $POD_NAMESPACE
                            set), the host IPs of the Ready pods labelled like this one (a
                            host-network DaemonSet's nodes), else the listeners' addresses
                            unless they are wildcards
  -h, --help                show this help
`

function port(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined
  const n = Number(value)
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new Error(`${flag} "${value}" must be a port number (1-65535)`)
  return n
}

function publishSource(values: Record<string, string | boolean | undefined>, listen: string[]): PublishSource {
  const update = values['update-status'] === undefined ? 'true' : String(values['update-status'])
  if (update !== 'true' && update !== 'false') throw new Error(`--update-status "${update}" must be true or false`)
  const service = values['publish-service'] as string | undefined
  const addresses = values['publish-status-address'] as string | undefined
  if (service !== undefined && addresses !== undefined) throw new Error('--publish-service and --publish-status-address name the addresses two ways: give one')
  if (update === 'false') return { kind: 'none' }
  if (service !== undefined) {
    const m = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?)\/([a-z0-9]([-a-z0-9]*[a-z0-9])?)$/.exec(service)
    if (!m) throw new Error(`--publish-service "${service}" must be NAMESPACE/NAME`)
    return { kind: 'service', namespace: m[1]!, name: m[3]! }
  }
  if (addresses !== undefined) {
    const list = addresses.split(',').map((a) => a.trim()).filter(Boolean)
    const bad = list.find((a) => !isIP(a) && !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/i.test(a))
    if (bad !== undefined || list.length === 0) throw new Error(`--publish-status-address "${addresses}" must list IP addresses or DNS names${bad ? ` ("${bad}" is neither)` : ''}`)
    return { kind: 'addresses', addresses: list }
  }
  const { POD_NAME, POD_NAMESPACE } = process.env
  if (POD_NAME && POD_NAMESPACE) return { kind: 'pods', namespace: POD_NAMESPACE, podName: POD_NAME }
  return { kind: 'listeners', listen }
}

export function ingressConfigFrom(values: Record<string, string | boolean | undefined>): IngressConfig {
  const s = (k: string, fallback: string) => (values[k] === undefined ? fallback : String(values[k]))
  const className = s('ingress-class', d.classes.className)
  if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(className)) throw new Error(`--ingress-class "${className}" is not a valid IngressClass name`)
  const httpListen = s('http-listen', d.httpListen)
  const httpsListen = s('https-listen', d.httpsListen)
  return {
    httpListen,
    httpsListen,
    httpsRedirectPort: port('--https-redirect-port', values['https-redirect-port'] as string | undefined),
    sslRedirect: boolFlag('--ssl-redirect', values['ssl-redirect'], false),
    trustedProxies: parseTrustedProxies(s('trusted-proxies', '')),
    h2MaxConcurrentStreams: wholeNumber('--h2-max-concurrent-streams', s('h2-max-concurrent-streams', '128'), { min: 1, max: 2 ** 31 - 1 }),
    h2IdleTimeoutMs: timerDuration('--h2-idle-timeout', s('h2-idle-timeout', '60s')),
    keepAliveTimeoutMs: timerDuration('--keep-alive-timeout', s('keep-alive-timeout', '75s')),
    maxConnections: values['max-connections'] === undefined ? undefined : wholeNumber('--max-connections', String(values['max-connections']), { min: 1, max: 2 ** 31 - 1 }),
    classes: { className, controller: s('controller', d.classes.controller) },
    statusListen: s('status-listen', d.statusListen),
    publish: publishSource(values, [httpListen, httpsListen]),
    workers: wholeNumber('--workers', s('workers', String(availableParallelism())), { min: 1, max: 1024 }),
  }
}

export function runIngress(argv: string[]): Promise<void> {
  return runComponent(argv, { boolFlags: ['ssl-redirect'], flags: ['http-listen', 'https-listen', 'https-redirect-port', 'ssl-redirect', 'trusted-proxies', 'h2-max-concurrent-streams', 'h2-idle-timeout', 'keep-alive-timeout', 'max-connections', 'workers', 'ingress-class', 'controller', 'status-listen', 'publish-service', 'publish-status-address', 'update-status'], usage: ingressUsage, configFrom: ingressConfigFrom, name: 'ingress', start: startIngress })
}
