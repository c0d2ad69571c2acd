// The ProxyState the proxiers are benchmarked with: one measured Service whose endpoint is
// the real backend, plus synthetic ones (ClusterIPs in 10.96.0.0/12, 5 endpoints each at
// made-up pod IPs that nothing ever connects to).
import { makeServicePort, type Endpoint, type ProxyState, type ServiceEntry, type ServicePort } from '../../proxy/model.ts'

export const SERVICE_CIDR = '10.96.0.0/12'
/** Clients, node links and the backend pod are all in here, so nothing is masqueraded (pod-to-Service traffic). */
export const CLUSTER_CIDR = '10.64.0.0/10'
export const MEASURED_IP = '10.96.0.10'
export const MEASURED_PORT = 80
export const MEASURED_ID = 'bench/measured:http/TCP'
export const SYNTHETIC_ENDPOINTS = 5

export function servicePort(namespace: string, name: string, clusterIP: string, port: number): ServicePort {
  return makeServicePort({ namespace, name, portName: 'http', protocol: 'TCP', clusterIP, port })
}

export function endpoint(ip: string, port: number): Endpoint {
  return { ip, port, ready: true, serving: true, terminating: false, local: false }
}

/** The i-th synthetic ClusterIP: 10.97.0.0 upwards (clear of the measured one). */
export function syntheticIP(i: number): string {
  return `10.${97 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`
}

/** The k-th made-up pod IP: 10.80.0.0 upwards, inside the cluster CIDR, never reachable. */
export function madeUpPodIP(k: number): string {
  return `10.${80 + (k >> 16)}.${(k >> 8) & 255}.${k & 255}`
}

/** The i-th synthetic Service port; `moved`: its last endpoint replaced by another pod IP (one endpoint change). */
export function syntheticEntry(i: number, moved = false): ServiceEntry {
  const endpoints: Endpoint[] = []
  for (let j = 0; j < SYNTHETIC_ENDPOINTS; j++) endpoints.push(endpoint(madeUpPodIP(i * SYNTHETIC_ENDPOINTS + j), 8080))
  if (moved) endpoints[SYNTHETIC_ENDPOINTS - 1] = endpoint(`10.126.${(i >> 8) & 255}.${i & 255}`, 8080)
  return { port: servicePort('synthetic', `svc-${i}`, syntheticIP(i), 80), endpoints }
}

export interface StateOptions {
  /** Services in all, the measured one included. */
  services: number
  /** The backend the measured Service points at; omitted: no measured Service (control-plane runs). */
  backend?: { ip: string; port: number }
  nodeIPs?: string[]
}

/** The state with `services` Service ports; `replace` swaps in other entries by id (an endpoint change). */
export function benchState(opts: StateOptions, replace: ServiceEntry[] = []): ProxyState {
  const services = new Map<string, ServiceEntry>()
  let synthetic = opts.services
  if (opts.backend) {
    const port = servicePort('bench', 'measured', MEASURED_IP, MEASURED_PORT)
    services.set(MEASURED_ID, { port, endpoints: [endpoint(opts.backend.ip, opts.backend.port)] })
    synthetic--
  }
  for (let i = 0; i < synthetic; i++) {
    const e = syntheticEntry(i)
    services.set(e.port.id, e)
  }
  for (const e of replace) services.set(e.port.id, e)
  return { family: 4, serviceCIDRs: [SERVICE_CIDR], clusterCIDRs: [CLUSTER_CIDR], nodeIPs: opts.nodeIPs ?? [], services }
}
