// `weft load`'s command line: flags → one validated options object. Pure: resolution against
// the API, scenario files and the run itself take these options.
import { parseArgs } from 'node:util'
import { oneOf, wholeNumber } from '../src/cli/flag-values.ts'
import { parseGoDuration } from '../src/util/go-duration.ts'
import { vias, type Via } from './target.ts'
import type { Protocol } from './types.ts'

export const protocols: readonly Protocol[] = ['http1', 'http2', 'grpc', 'tcp', 'udp', 'dns']
export const progressModes = ['auto', 'tty', 'plain', 'none'] as const
export type ProgressMode = (typeof progressModes)[number]

/** The longest run one command takes; HDR histograms track latencies up to a minute. */
const MAX_DURATION_MS = 24 * 3_600_000
const MAX_BODY_BYTES = 16 << 20

export interface LoadOptions {
  /** The target as written; undefined only when a scenario file names it. */
  target?: string
  scenarioFile?: string
  /** Requests per second in all (open loop); undefined: closed loop. */
  rate?: number
  /** Undefined: 10 in a closed loop, 64 in an open one (the plan decides which, a scenario's phases included). */
  connections?: number
  durationMs: number
  requests?: number
  warmupMs: number
  timeoutMs: number
  protocol?: Protocol
  http2: boolean
  keepAlive: boolean
  method: string
  headers: [string, string][]
  body?: Buffer
  host?: string
  /** svc/ingress/pod targets: the HTTP path and query (a URL target has its own). */
  path?: string
  insecure: boolean
  grpcService: string
  dnsName?: string
  dnsType: string
  udpPayloadBytes: number
  identifyEndpoints: boolean
  via: Via
  namespace?: string
  kubeconfig?: string
  fromPods?: number
  nodes?: string[]
  image: string
  outDir?: string
  progress: ProgressMode
  json: boolean
}

export const loadUsage = `Usage: weft load TARGET [flags]
       weft load -f SCENARIO.yaml [TARGET] [flags]
       weft load compare A B [--out DIR] [--labels NAME_A,NAME_B]

Sends load to TARGET and reports what happened: latency percentiles (HDR histograms), errors by
class, which endpoint answered, and everything per second, aligned with a scenario's actions.

TARGET is a URL (http://, https://, grpc://, grpcs://, tcp://HOST:PORT, udp://HOST:PORT,
dns://SERVER[:PORT]/NAME[?type=A]), or an object resolved through the API:
  svc/NAME[.NS][:PORT]    a Service (--via picks how it is reached)
  ingress/NAME[.NS]       an Ingress: its first rule's host and path, at the Ingress's address
  pod/NAME[.NS][:PORT]    one pod, directly

Load:
  --rate N                open loop: N requests per second in all (split over --from-pods
                          generators), each timed from when it was meant to be sent, so a
                          stalled server shows in the latencies (no coordinated omission).
                          Without --rate: closed loop, --connections requests in flight.
  -c, --connections N     closed loop: requests in flight (default 10); open loop: the most
                          connections opened (default 64)
  -d, --duration D        how long to send (default 10s; 500ms, 30s, 1m30s, 1h)
  --requests N            stop after N requests (with --duration: whichever comes first)
  --warmup D              send this long first without recording it (default 0s)
  --timeout D             a request not answered in time is a timeout error (default 10s)
  -f, --file SCENARIO     phases (rates, durations) and actions during the load (scale, roll
                          out, delete pods, drain, restart agents, add Services, flip readiness)

Protocol:
  --protocol P            http1, http2, grpc, tcp, udp or dns (default: from the URL's scheme)
  --http2                 HTTP/2 for http(s):// targets (h2 over TLS, h2c prior knowledge over plain)
  --new-connections       HTTP/1.1: a new connection per request (default: keep-alive)
  -X, --method M          HTTP method (default GET)
  -H, --header 'K: V'     an HTTP request header (repeat for more)
  --body TEXT | --body-file FILE   the request body
  --path PATH             svc/, ingress/ and pod/ targets: the HTTP path and query (default /, or
                          the Ingress rule's path)
  --host NAME             the Host header / :authority and TLS server name (default: from the target)
  --insecure              accept any TLS certificate
  --grpc-service NAME     the service the gRPC health check asks about (default: the server's overall health)
  --dns-name NAME         DNS mode: the name to query (or in the dns:// URL)
  --dns-type T            DNS mode: the record type (default A)
  --udp-payload N         UDP mode: bytes per datagram (default 64)
  --no-endpoints          do not work out which endpoint answered each request

Targets through the API:
  --via MODE              svc targets: clusterip (default), nodeport, endpoints (every ready
                          endpoint directly, for comparison), loadbalancer
  -n, --namespace NS      namespace of svc/ingress/pod targets and scenario objects (default: the
                          kubeconfig's, else default)
  --kubeconfig FILE       API credentials (default: $KUBECONFIG, ~/.kube/config, in a pod its
                          service account, else a lab made by 'weft up' in this directory)
  --from-pods N           send from N load-generator pods (image weft/load) spread over the nodes,
                          started together, their HDR histograms merged; removed afterwards
  --nodes A,B             the nodes those pods run on (default: every Ready, schedulable node)
  --image IMAGE           the load-generator image (default weft/load)

Output:
  --out DIR               write DIR/result.json and a self-contained DIR/report.html
  --progress MODE         auto (default: a live line on a terminal, plain lines otherwise), tty,
                          plain or none
  --json                  print result.json on stdout instead of the summary
  -h, --help              show this help
`

function header(value: string): [string, string] {
  const colon = value.indexOf(':')
  const name = colon > 0 ? value.slice(0, colon).trim() : ''
  if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) throw new Error(`--header "${value}" must be "Name: value" with a valid header name`)
  const v = value.slice(colon + 1).trim()
  if (/[\r\n\0]/.test(v)) throw new Error(`--header "${name}": the value may not contain CR, LF or NUL`)
  return [name, v]
}

function duration(flag: string, value: string | undefined, fallback: number, allowZero = false): number {
  if (value === undefined) return fallback
  const ms = parseGoDuration(value.trim())
  if (ms === undefined || ms < 0 || (ms === 0 && !allowZero)) throw new Error(`${flag} "${value}" must be a ${allowZero ? '' : 'positive '}duration like 500ms, 30s, 1m30s or 1h`)
  if (ms > MAX_DURATION_MS) throw new Error(`${flag} "${value}" is longer than 24h`)
  return ms
}

export function parseLoadArgs(argv: string[], readFile: (path: string) => Buffer): LoadOptions {
  const { values: v, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      rate: { type: 'string' },
      connections: { type: 'string', short: 'c' },
      duration: { type: 'string', short: 'd' },
      requests: { type: 'string' },
      warmup: { type: 'string' },
      timeout: { type: 'string' },
      file: { type: 'string', short: 'f' },
      protocol: { type: 'string' },
      http2: { type: 'boolean' },
      'new-connections': { type: 'boolean' },
      method: { type: 'string', short: 'X' },
      header: { type: 'string', short: 'H', multiple: true },
      body: { type: 'string' },
      'body-file': { type: 'string' },
      host: { type: 'string' },
      path: { type: 'string' },
      insecure: { type: 'boolean' },
      'grpc-service': { type: 'string' },
      'dns-name': { type: 'string' },
      'dns-type': { type: 'string' },
      'udp-payload': { type: 'string' },
      'no-endpoints': { type: 'boolean' },
      via: { type: 'string' },
      namespace: { type: 'string', short: 'n' },
      kubeconfig: { type: 'string' },
      'from-pods': { type: 'string' },
      nodes: { type: 'string' },
      image: { type: 'string' },
      out: { type: 'string' },
      progress: { type: 'string' },
      json: { type: 'boolean' },
    },
  })
  if (positionals.length > 1) throw new Error(`one target only, got ${positionals.map((p) => JSON.stringify(p)).join(', ')}`)
  const target = positionals[0]
  if (target === undefined && v.file === undefined) throw new Error('no target: give a URL, svc/NAME, ingress/NAME or pod/NAME (or a scenario file with -f that names one)')
  const rate = v.rate === undefined ? undefined : positiveNumber('--rate', v.rate, 1_000_000)
  if (v.body !== undefined && v['body-file'] !== undefined) throw new Error('--body and --body-file: give one of them')
  let body: Buffer | undefined
  if (v.body !== undefined) body = Buffer.from(v.body)
  if (v['body-file'] !== undefined) {
    body = readFile(v['body-file'])
    if (body.length > MAX_BODY_BYTES) throw new Error(`--body-file ${v['body-file']} is larger than 16 MiB`)
  }
  const method = v.method ?? 'GET'
  if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(method)) throw new Error(`--method "${method}" is not an HTTP method token`)
  const host = v.host
  if (host !== undefined && !/^[A-Za-z0-9.:[\]-]+$/.test(host)) throw new Error(`--host "${host}" is not a host name`)
  const dnsType = (v['dns-type'] ?? 'A').toUpperCase()
  if (!/^[A-Z0-9]{1,10}$/.test(dnsType)) throw new Error(`--dns-type "${v['dns-type']}" is not a record type`)
  const nodes = v.nodes === undefined ? undefined : v.nodes.split(',').map((n) => n.trim()).filter(Boolean)
  if (nodes !== undefined && nodes.length === 0) throw new Error('--nodes names no node')
  const fromPods = v['from-pods'] === undefined ? undefined : wholeNumber('--from-pods', v['from-pods'], { min: 1, max: 1000, what: 'pods' })
  if (nodes !== undefined && fromPods === undefined) throw new Error('--nodes chooses where --from-pods generators run: give --from-pods N too')
  return {
    target,
    scenarioFile: v.file,
    rate,
    connections: v.connections === undefined ? undefined : wholeNumber('--connections', v.connections, { min: 1, max: 100_000, what: 'connections' }),
    durationMs: duration('--duration', v.duration, 10_000),
    requests: v.requests === undefined ? undefined : wholeNumber('--requests', v.requests, { min: 1, what: 'requests' }),
    warmupMs: duration('--warmup', v.warmup, 0, true),
    timeoutMs: timeout(v.timeout),
    protocol: v.protocol === undefined ? undefined : oneOf('--protocol', v.protocol, protocols),
    http2: v.http2 ?? false,
    keepAlive: !(v['new-connections'] ?? false),
    method,
    headers: (v.header ?? []).map(header),
    body,
    host,
    path: v.path,
    insecure: v.insecure ?? false,
    grpcService: v['grpc-service'] ?? '',
    dnsName: v['dns-name'],
    dnsType,
    udpPayloadBytes: v['udp-payload'] === undefined ? 64 : wholeNumber('--udp-payload', v['udp-payload'], { min: 8, max: 65_000, what: 'bytes' }),
    identifyEndpoints: !(v['no-endpoints'] ?? false),
    via: v.via === undefined ? 'clusterip' : oneOf('--via', v.via, vias),
    namespace: v.namespace,
    kubeconfig: v.kubeconfig,
    fromPods,
    nodes,
    image: v.image ?? 'weft/load',
    outDir: v.out,
    progress: v.progress === undefined ? 'auto' : oneOf('--progress', v.progress, progressModes),
    json: v.json ?? false,
  }
}

function timeout(value: string | undefined): number {
  const ms = duration('--timeout', value, 10_000)
  if (ms > 60_000) throw new Error(`--timeout "${value}" must be at most 60s: latencies are tracked up to a minute`)
  return ms
}

function positiveNumber(flag: string, value: string, max: number): number {
  const n = /^\d+(\.\d+)?$/.test(value.trim()) ? Number(value) : NaN
  if (!(n > 0 && n <= max)) throw new Error(`${flag} "${value}" must be a number above 0 and at most ${max.toLocaleString('en-US')}`)
  return n
}
