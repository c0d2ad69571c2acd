// What every cluster has from the start: the system namespaces and the `kubernetes`
// Service (first address of the service CIDR) pointing at the API server.
import { isIP } from 'node:net'
import { resources } from '../api/registry.ts'
import { isAlreadyExists } from '../util/errors.ts'
import type { ResourceHandler, WriteOptions } from './resource-handler.ts'

const systemNamespaces = ['default', 'kube-system', 'kube-public', 'kube-node-lease']

function info(kind: string) {
  return resources.find((r) => r.kind === kind)!
}

export async function bootstrap(handler: ResourceHandler, apiHost: string, apiPort: number, firstServiceIP: string): Promise<void> {
  const opts = (): WriteOptions => ({
    query: new URLSearchParams({ fieldManager: 'weft-apiserver' }),
    identity: { user: 'system:apiserver', groups: ['system:masters'], userAgent: 'weft-apiserver' },
    warnings: [],
  })
  /** Creates the object; if it exists and `refresh` names fields, sets those to the wanted values. */
  const ensure = async (kind: string, namespace: string | undefined, body: Record<string, unknown>, refresh: string[] = []) => {
    const i = info(kind)
    try {
      await handler.create({ kind: 'resource', info: i, namespace, name: undefined, subresource: undefined, verb: 'create' }, structuredClone(body), opts())
    } catch (err) {
      if (!isAlreadyExists(err)) throw err
      if (refresh.length === 0) return
      const name = (body.metadata as { name: string }).name
      await handler.guaranteedUpdate({ kind: 'resource', info: i, namespace, name, subresource: undefined, verb: 'update' }, opts(), undefined, (current) => {
        for (const field of refresh) current[field] = structuredClone(body[field])
        return current
      })
    }
  }
  for (const name of systemNamespaces) await ensure('Namespace', undefined, { metadata: { name } })
  await ensure('Service', 'default', {
    metadata: { name: 'kubernetes', labels: { component: 'apiserver', provider: 'kubernetes' } },
    spec: { clusterIP: firstServiceIP, ports: [{ name: 'https', port: 443, protocol: 'TCP', targetPort: apiPort }] },
  })
  const family = isIP(apiHost)
  if (family === 0 || apiHost === '0.0.0.0' || apiHost === '::') return
  await ensure('Endpoints', 'default', {
    metadata: { name: 'kubernetes', labels: { 'endpointslice.kubernetes.io/skip-mirror': 'true' } },
    subsets: [{ addresses: [{ ip: apiHost }], ports: [{ name: 'https', port: apiPort, protocol: 'TCP' }] }],
  }, ['subsets'])
  await ensure('EndpointSlice', 'default', {
    metadata: { name: 'kubernetes', labels: { 'kubernetes.io/service-name': 'kubernetes' } },
    addressType: family === 6 ? 'IPv6' : 'IPv4',
    endpoints: [{ addresses: [apiHost], conditions: { ready: true } }],
    ports: [{ name: 'https', port: apiPort, protocol: 'TCP' }],
  }, ['endpoints', 'ports'])
}
