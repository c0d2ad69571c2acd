// Service, Endpoints, EndpointSlice, Ingress, IngressClass and NetworkPolicy columns.
import type {
  V1EndpointSlice,
  V1Endpoints,
  V1Ingress,
  V1IngressClass,
  V1NetworkPolicy,
  V1Service,
  V1ServicePort,
} from '@kubernetes/client-node'
import { ageColumn, col, formatLabelSelector, formatLabels, joinHostPort, listWithMore, nameColumn, since } from './format.ts'
import type { Printer } from './format.ts'

/** Unique IPs (else hostnames) of load-balancer ingress points, sorted, comma-joined. */
function loadBalancerAddresses(ingress: { ip?: string; hostname?: string }[] | undefined): string {
  const set = new Set<string>()
  for (const i of ingress ?? []) {
    if (i.ip) set.add(i.ip)
    else if (i.hostname) set.add(i.hostname)
  }
  return [...set].sort().join(',')
}

function externalIP(svc: V1Service, type: string): string {
  const externalIPs = svc.spec?.externalIPs ?? []
  switch (type) {
    case 'ClusterIP':
    case 'NodePort':
      return externalIPs.length > 0 ? externalIPs.join(',') : '<none>'
    case 'LoadBalancer': {
      const lb = loadBalancerAddresses(svc.status?.loadBalancer?.ingress)
      if (externalIPs.length > 0) return [...(lb ? lb.split(',') : []), ...externalIPs].join(',')
      return lb || '<pending>'
    }
    case 'ExternalName':
      return svc.spec?.externalName ?? ''
  }
  return '<unknown>'
}

export function servicePorts(ports: V1ServicePort[] | undefined): string {
  const text = (ports ?? [])
    .map((p) => {
      const protocol = p.protocol ?? 'TCP'
      return p.nodePort && p.nodePort > 0 ? `${p.port}:${p.nodePort}/${protocol}` : `${p.port}/${protocol}`
    })
    .join(',')
  return text === '' ? '<none>' : text
}

export const servicePrinter: Printer = {
  columns: [
    nameColumn(),
    col('Type', 'string', 'type determines how the Service is exposed.'),
    col('Cluster-IP', 'string', 'clusterIP is the IP address of the service and is usually assigned randomly.'),
    col('External-IP', 'string', 'externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this service.'),
    col('Port(s)', 'string', 'The list of ports that are exposed by this service.'),
    ageColumn(),
    col('Selector', 'string', 'Route service traffic to pods with label keys and values matching this selector.', 1),
  ],
  row(obj, now) {
    const svc = obj as V1Service
    const type = svc.spec?.type ?? 'ClusterIP'
    const clusterIP = svc.spec?.clusterIPs?.[0] || svc.spec?.clusterIP || '<none>'
    return {
      cells: [
        svc.metadata?.name ?? '',
        type,
        clusterIP,
        externalIP(svc, type),
        servicePorts(svc.spec?.ports),
        since(svc.metadata?.creationTimestamp, now),
        formatLabels(svc.spec?.selector),
      ],
    }
  },
}

/** `formatEndpoints`: up to three `ip:port`, then ` + N more...`; `<none>` with no subsets. */
export function formatEndpoints(ep: V1Endpoints): string {
  const subsets = ep.subsets ?? []
  if (subsets.length === 0) return '<none>'
  const max = 3
  const list: string[] = []
  let count = 0
  for (const ss of subsets) {
    const addresses = ss.addresses ?? []
    const ports = ss.ports ?? []
    if (ports.length === 0) {
      count += addresses.length
      for (const a of addresses) {
        if (list.length === max) break
        list.push(a.ip)
      }
      continue
    }
    for (const port of ports) {
      count += addresses.length
      for (const a of addresses) {
        if (list.length === max) break
        list.push(joinHostPort(a.ip, port.port))
      }
    }
  }
  const text = list.join(',')
  return count > max ? `${text} + ${count - max} more...` : text
}

export const endpointsPrinter: Printer = {
  columns: [
    nameColumn(),
    col('Endpoints', 'string', 'The set of all endpoints is the union of all subsets.'),
    ageColumn(),
  ],
  row(obj, now) {
    const ep = obj as V1Endpoints
    return { cells: [ep.metadata?.name ?? '', formatEndpoints(ep), since(ep.metadata?.creationTimestamp, now)] }
  },
}

export const endpointSlicePrinter: Printer = {
  columns: [
    nameColumn(),
    col('AddressType', 'string', 'addressType specifies the type of address carried by this EndpointSlice.'),
    col('Ports', 'string', 'ports specifies the list of network ports exposed by each endpoint in this slice.'),
    col('Endpoints', 'string', 'endpoints is a list of unique endpoints in this slice.'),
    ageColumn(),
  ],
  row(obj, now) {
    const slice = obj as V1EndpointSlice
    const ports = (slice.ports ?? []).map((p) => (p.port !== undefined && p.port !== null ? String(p.port) : p.name !== undefined && p.name !== null ? p.name : '*'))
    const addresses = (slice.endpoints ?? []).flatMap((e) => e.addresses ?? [])
    return {
      cells: [
        slice.metadata?.name ?? '',
        slice.addressType ?? '',
        listWithMore(ports),
        listWithMore(addresses),
        since(slice.metadata?.creationTimestamp, now),
      ],
    }
  },
}

function ingressHosts(ing: V1Ingress): string {
  const rules = ing.spec?.rules ?? []
  const max = 3
  const list: string[] = []
  let more = false
  for (const rule of rules) {
    if (list.length === max) more = true
    if (!more && rule.host) list.push(rule.host)
  }
  if (list.length === 0) return '*'
  const text = list.join(',')
  return more ? `${text} + ${rules.length - max} more...` : text
}

export const ingressPrinter: Printer = {
  columns: [
    nameColumn(),
    col('Class', 'string', 'The name of the IngressClass resource that should be used for additional configuration'),
    col('Hosts', 'string', 'Hosts that incoming requests are matched against before the ingress rule'),
    col('Address', 'string', 'Address is a list containing ingress points for the load-balancer'),
    col('Ports', 'string', 'Ports of TLS configurations that open'),
    ageColumn(),
  ],
  row(obj, now) {
    const ing = obj as V1Ingress
    return {
      cells: [
        ing.metadata?.name ?? '',
        ing.spec?.ingressClassName ?? '<none>',
        ingressHosts(ing),
        loadBalancerAddresses(ing.status?.loadBalancer?.ingress),
        (ing.spec?.tls ?? []).length > 0 ? '80, 443' : '80',
        since(ing.metadata?.creationTimestamp, now),
      ],
    }
  },
}

export const ingressClassPrinter: Printer = {
  columns: [
    nameColumn(),
    col('Controller', 'string', 'Controller that is responsible for handling this class'),
    col('Parameters', 'string', 'A reference to a resource with additional parameters'),
    ageColumn(),
  ],
  row(obj, now) {
    const ic = obj as V1IngressClass
    const p = ic.spec?.parameters
    let parameters = '<none>'
    if (p) parameters = `${p.kind}${p.apiGroup !== undefined && p.apiGroup !== null ? `.${p.apiGroup}` : ''}/${p.name}`
    return { cells: [ic.metadata?.name ?? '', ic.spec?.controller ?? '', parameters, since(ic.metadata?.creationTimestamp, now)] }
  },
}

/** printNetworkPolicy: the pod selector as metav1.FormatLabelSelector writes it (`<none>` for `{}`). */
export const networkPolicyPrinter: Printer = {
  columns: [
    nameColumn(),
    col(
      'Pod-Selector',
      'string',
      'Selects the pods to which this NetworkPolicy object applies. The array of ingress rules is applied to any pods selected by this field. Multiple network policies can select the same set of pods. In this case, the ingress rules for each are combined additively. This field is NOT optional and follows standard label selector semantics. An empty podSelector matches all pods in this namespace.',
    ),
    ageColumn(),
  ],
  row(obj, now) {
    const np = obj as V1NetworkPolicy
    return { cells: [np.metadata?.name ?? '', formatLabelSelector(np.spec?.podSelector ?? {}), since(np.metadata?.creationTimestamp, now)] }
  },
}
