// The query set's Services: a Namespace and N ClusterIP Services created through the API
// with a few requests in flight, each Service's allocated clusterIP read from the created
// object; and the files both servers and dnsperf read.
import type { V1Service } from '@kubernetes/client-node'
import type { Pool } from 'undici'
import { send } from '../apiserver/http.ts'
import { closedLoop } from '../lib/load.ts'

export const NAMESPACE = 'bench'

export interface BenchService {
  name: string
  fqdn: string
  clusterIP: string
}

export function serviceName(i: number): string {
  return `svc-${i}`
}

export function fqdn(name: string, zone: string): string {
  return `${name}.${NAMESPACE}.svc.${zone}`
}

export function serviceManifest(i: number): V1Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: serviceName(i), namespace: NAMESPACE },
    spec: { type: 'ClusterIP', ports: [{ name: 'http', port: 80, protocol: 'TCP' }] },
  }
}

/** Creates the Namespace, then `count` Services; returns them in index order with their clusterIPs. */
export async function createServices(api: Pool, count: number, concurrency: number, zone: string): Promise<{ services: BenchService[]; perSecond: number }> {
  await send(api, 'POST', '/api/v1/namespaces', JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NAMESPACE } }))
  const services: BenchService[] = new Array(count)
  const r = await closedLoop(count, concurrency, async (i) => {
    const created = JSON.parse(await send(api, 'POST', `/api/v1/namespaces/${NAMESPACE}/services`, JSON.stringify(serviceManifest(i)))) as V1Service
    const ip = created.spec?.clusterIP
    if (!ip || !/^\d+\.\d+\.\d+\.\d+$/.test(ip)) throw new Error(`Service ${serviceName(i)} was created without an IPv4 clusterIP (${String(ip)})`)
    services[i] = { name: serviceName(i), fqdn: fqdn(serviceName(i), zone), clusterIP: ip }
  })
  if (r.errors > 0) throw new Error(`${r.errors} of ${count} Service creates failed; first: ${(r.firstError as Error)?.message ?? String(r.firstError)}`)
  return { services, perSecond: r.rate }
}

/** dnsperf's input: one `name A` line per Service. */
export function queryFileText(services: readonly BenchService[]): string {
  return services.map((s) => `${s.fqdn} A\n`).join('')
}
