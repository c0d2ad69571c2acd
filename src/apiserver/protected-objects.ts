// Objects the cluster cannot do without, which the API server refuses to delete: upstream's
// immortal namespaces (NamespaceLifecycle admission) and what weft's bootstrap made for the
// cluster and does not re-create while it runs (the `kubernetes` Service and its endpoints,
// the cluster DNS when the server runs it).
import type { ResourceInfo } from '../api/registry.ts'
import { SYSTEM_PRIORITY_CLASSES } from '../api/validation/misc.ts'

/** Why `namespace/name` of `info` may not be deleted, or undefined when it may. */
export type DeletionGuard = (info: ResourceInfo, namespace: string | undefined, name: string) => string | undefined

export const IMMORTAL_NAMESPACES: readonly string[] = ['default', 'kube-system', 'kube-public', 'kube-node-lease']

export function deletionGuard(opts: { clusterDns: boolean }): DeletionGuard {
  const kept = new Map<string, string>()
  const keep = (kind: string, namespace: string, name: string, why: string) => kept.set(`${kind}/${namespace}/${name}`, why)
  const apiServer = 'the cluster needs it: it is how pods reach the API server'
  keep('Service', 'default', 'kubernetes', apiServer)
  keep('Endpoints', 'default', 'kubernetes', apiServer)
  keep('EndpointSlice', 'default', 'kubernetes', apiServer)
  if (opts.clusterDns) {
    const dns = 'the cluster DNS needs it (weft server --dns-replicas 0 runs without cluster DNS)'
    keep('Service', 'kube-system', 'kube-dns', dns)
    keep('Deployment', 'kube-system', 'coredns', dns)
    keep('ServiceAccount', 'kube-system', 'coredns', dns)
  }
  return (info, namespace, name) => {
    if (info.kind === 'Namespace') return IMMORTAL_NAMESPACES.includes(name) ? 'this namespace may not be deleted' : undefined
    if (info.kind === 'PriorityClass') return SYSTEM_PRIORITY_CLASSES.some((c) => c.name === name) ? 'this is a system priority class and cannot be deleted' : undefined
    if (info.group !== '' && info.group !== 'apps' && info.group !== 'discovery.k8s.io') return undefined
    return kept.get(`${info.kind}/${namespace ?? ''}/${name}`)
  }
}
