// The routed set, as one list both proxies are configured from: Ingresses over several hosts
// with Prefix and Exact paths, each backed by one of a few Services whose EndpointSlices
// point at the one backend; and the API objects that express it for weft.
import type { V1EndpointSlice, V1Ingress, V1IngressClass, V1Secret, V1Service } from '@kubernetes/client-node'
import type { Pool } from 'undici'
import { send, type HttpError } from '../apiserver/http.ts'
import { closedLoop } from '../lib/load.ts'
import type { BenchCert } from './cert.ts'

export const NAMESPACE = 'bench'
export const CLASS = 'weft'
export const CONTROLLER = 'weft.dev/ingress'
export const TLS_SECRET = 'bench-tls'
export const SERVICE_COUNT = 10
/** Ingresses in the routed set (the throughput runs' route table, in weft and in nginx.conf). */
export const ROUTED = 100
const HOSTS = 20

export type PathType = 'Prefix' | 'Exact'

export interface BenchPath {
  path: string
  type: PathType
}

export interface BenchRoute {
  /** The Ingress name. */
  name: string
  host: string
  paths: BenchPath[]
  service: string
  tls: boolean
}

/** The request every throughput run sends: host bench.test, a path under Ingress route-40's Prefix /p40 (not its Exact path, not the / catch-all). */
export const TARGET = { host: 'bench.test', path: '/p40/items' }

export function serviceName(i: number): string {
  return `svc-${i % SERVICE_COUNT}`
}

/** route-0 … route-99: host bench.test or h1…h19.bench.test, Prefix /pN and Exact /eN/x; route-0 also Prefix / on bench.test. */
export function routedSet(): BenchRoute[] {
  return Array.from({ length: ROUTED }, (_, i) => ({
    name: `route-${i}`,
    host: i % HOSTS === 0 ? 'bench.test' : `h${i % HOSTS}.bench.test`,
    paths: [...(i === 0 ? [{ path: '/', type: 'Prefix' as const }] : []), { path: `/p${i}`, type: 'Prefix' as const }, { path: `/e${i}/x`, type: 'Exact' as const }],
    service: serviceName(i),
    tls: true,
  }))
}

/** A plain-HTTP Ingress with its own host, Prefix /: the routable-latency set (extra-N) and its new Ingresses (new-N). */
export function hostRoute(prefix: string, i: number): BenchRoute {
  return { name: `${prefix}-${i}`, host: `${prefix}-${i}.bench.test`, paths: [{ path: '/', type: 'Prefix' }], service: serviceName(i), tls: false }
}

export function ingressManifest(r: BenchRoute): V1Ingress {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    // Plain HTTP to TLS hosts is served, not redirected (the optional plain-HTTP run).
    metadata: { name: r.name, namespace: NAMESPACE, annotations: { 'weft.dev/ssl-redirect': 'false' } },
    spec: {
      ingressClassName: CLASS,
      ...(r.tls ? { tls: [{ hosts: [r.host], secretName: TLS_SECRET }] } : {}),
      rules: [
        {
          host: r.host,
          http: { paths: r.paths.map((p) => ({ path: p.path, pathType: p.type, backend: { service: { name: r.service, port: { number: 80 } } } })) },
        },
      ],
    },
  }
}

function serviceManifest(name: string): V1Service {
  // No selector: no controller would manage its EndpointSlices even if one ran.
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: NAMESPACE }, spec: { type: 'ClusterIP', ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 8080 }] } }
}

function sliceManifest(service: string, backendPort: number): V1EndpointSlice {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: `${service}-bench`, namespace: NAMESPACE, labels: { 'kubernetes.io/service-name': service } },
    addressType: 'IPv4',
    ports: [{ name: 'http', port: backendPort, protocol: 'TCP' }],
    endpoints: [{ addresses: ['127.0.0.1'], conditions: { ready: true } }],
  }
}

function secretManifest(cert: BenchCert): V1Secret {
  const b64 = (s: string) => Buffer.from(s).toString('base64')
  return { apiVersion: 'v1', kind: 'Secret', type: 'kubernetes.io/tls', metadata: { name: TLS_SECRET, namespace: NAMESPACE }, data: { 'tls.crt': b64(cert.cert), 'tls.key': b64(cert.key) } }
}

const classManifest: V1IngressClass = { apiVersion: 'networking.k8s.io/v1', kind: 'IngressClass', metadata: { name: CLASS }, spec: { controller: CONTROLLER } }

/** Creates IngressClass `weft`, unless the API server already has one (its bootstrap may create it) with weft's controller. */
async function ensureClass(api: Pool): Promise<void> {
  try {
    await send(api, 'POST', '/apis/networking.k8s.io/v1/ingressclasses', JSON.stringify(classManifest))
  } catch (err) {
    if ((err as HttpError).status !== 409) throw err
    const existing = JSON.parse(await send(api, 'GET', `/apis/networking.k8s.io/v1/ingressclasses/${CLASS}`)) as V1IngressClass
    if (existing.spec?.controller !== CONTROLLER) throw new Error(`IngressClass ${CLASS} exists with controller ${existing.spec?.controller}, not ${CONTROLLER}`)
  }
}

export const INGRESSES = `/apis/networking.k8s.io/v1/namespaces/${NAMESPACE}/ingresses`

/** The Namespace, IngressClass, TLS Secret, Services and their EndpointSlices (pointing at the backend). */
export async function createBackends(api: Pool, backendPort: number, cert: BenchCert): Promise<void> {
  const post = (path: string, body: unknown) => send(api, 'POST', path, JSON.stringify(body))
  await post('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NAMESPACE } })
  await ensureClass(api)
  await post(`/api/v1/namespaces/${NAMESPACE}/secrets`, secretManifest(cert))
  for (let i = 0; i < SERVICE_COUNT; i++) {
    await post(`/api/v1/namespaces/${NAMESPACE}/services`, serviceManifest(serviceName(i)))
    await post(`/apis/discovery.k8s.io/v1/namespaces/${NAMESPACE}/endpointslices`, sliceManifest(serviceName(i), backendPort))
  }
}

/** Creates the Ingresses with `concurrency` requests in flight; returns creates per second. */
export async function createIngresses(api: Pool, routes: readonly BenchRoute[], concurrency: number): Promise<number> {
  const r = await closedLoop(routes.length, concurrency, async (i) => {
    await send(api, 'POST', INGRESSES, JSON.stringify(ingressManifest(routes[i]!)))
  })
  if (r.errors > 0) throw new Error(`${r.errors} of ${routes.length} Ingress creates failed; first: ${(r.firstError as Error)?.message ?? String(r.firstError)}`)
  return r.rate
}

/** EndpointSlices in the namespace as the API has them now (to check nothing else rewrote ours). */
export async function sliceVersions(api: Pool): Promise<string> {
  const list = JSON.parse(await send(api, 'GET', `/apis/discovery.k8s.io/v1/namespaces/${NAMESPACE}/endpointslices`)) as { items: V1EndpointSlice[] }
  return list.items.map((s) => `${s.metadata?.name}@${s.metadata?.resourceVersion}`).sort().join(',')
}
