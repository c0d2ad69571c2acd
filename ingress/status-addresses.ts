// Which addresses an Ingress's status.loadBalancer.ingress names: where clients reach this
// controller. Pure; the sources are, as ingress-nginx has them:
//   - fixed addresses (--publish-status-address);
//   - a Service's load balancer status (--publish-service), for controllers behind a
//     LoadBalancer Service;
//   - inside a pod (POD_NAME/POD_NAMESPACE set), the host IPs of the Running, Ready pods
//     labelled like this one: the nodes a host-network DaemonSet serves on;
//   - otherwise the addresses the listeners are bound to, unless they are wildcards.
import { isIP } from 'node:net'
import type { V1IngressLoadBalancerIngress, V1Pod, V1Service } from '@kubernetes/client-node'
import { parseListenAddress } from '../src/util/host-port.ts'

export type PublishSource =
  | { kind: 'none' }
  | { kind: 'addresses'; addresses: string[] }
  | { kind: 'service'; namespace: string; name: string }
  | { kind: 'pods'; namespace: string; podName: string }
  | { kind: 'listeners'; listen: string[] }

/** Labels that differ between revisions of one DaemonSet or Deployment, so they do not tell its pods apart. */
const REVISION_LABELS = new Set(['pod-template-hash', 'controller-revision-hash', 'pod-template-generation'])

/** The label selector for pods like `self` ('' when it has no identifying labels). */
export function siblingSelector(self: V1Pod): string {
  return Object.entries(self.metadata?.labels ?? {})
    .filter(([k]) => !REVISION_LABELS.has(k))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join(',')
}

function servingPod(pod: V1Pod): boolean {
  return pod.status?.phase === 'Running' && !pod.metadata?.deletionTimestamp && (pod.status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True')
}

function entry(address: string): V1IngressLoadBalancerIngress {
  return isIP(address) ? { ip: address } : { hostname: address }
}

function sorted(entries: V1IngressLoadBalancerIngress[]): V1IngressLoadBalancerIngress[] {
  const seen = new Set<string>()
  const out: V1IngressLoadBalancerIngress[] = []
  for (const e of entries) {
    const id = e.ip ?? e.hostname ?? ''
    if (!id || seen.has(id)) continue
    seen.add(id)
    out.push(e)
  }
  return out.sort((a, b) => ((a.ip ?? a.hostname!) < (b.ip ?? b.hostname!) ? -1 : 1))
}

export interface PublishInputs {
  /** The published Service (kind 'service'). */
  service?: V1Service
  /** The pods labelled like this one (kind 'pods'). */
  pods?: readonly V1Pod[]
}

/** The status.loadBalancer.ingress every served Ingress should carry; undefined for 'none' (leave statuses alone). */
export function statusAddresses(source: PublishSource, inputs: PublishInputs): V1IngressLoadBalancerIngress[] | undefined {
  switch (source.kind) {
    case 'none':
      return undefined
    case 'addresses':
      return sorted(source.addresses.map(entry))
    case 'service': {
      const lb = (inputs.service?.status?.loadBalancer?.ingress ?? []).map((i) => (i.ip ? { ip: i.ip } : { hostname: i.hostname ?? '' }))
      return sorted([...lb, ...(inputs.service?.spec?.externalIPs ?? []).map(entry)])
    }
    case 'pods':
      return sorted((inputs.pods ?? []).filter(servingPod).flatMap((p) => (p.status?.hostIP ? [entry(p.status.hostIP)] : [])))
    case 'listeners':
      return sorted(
        source.listen.flatMap((l) => {
          if (!l) return []
          const { host } = parseListenAddress(l)
          return host && host !== '0.0.0.0' && host !== '::' ? [entry(host)] : []
        }),
      )
  }
}

/** True when an Ingress's current status already names exactly `wanted`. */
export function statusIsCurrent(current: readonly V1IngressLoadBalancerIngress[] | undefined, wanted: readonly V1IngressLoadBalancerIngress[]): boolean {
  const have = sorted([...(current ?? [])].map((i) => (i.ip ? { ip: i.ip } : { hostname: i.hostname ?? '' })))
  return have.length === wanted.length && have.every((h, i) => h.ip === wanted[i]!.ip && h.hostname === wanted[i]!.hostname)
}
