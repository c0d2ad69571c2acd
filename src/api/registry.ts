// The kinds weft serves: one entry each, the single source for routing, discovery,
// storage keys, OpenAPI and tables.

export type Subresource = 'status' | 'scale' | 'binding' | 'finalize' | 'log'

export interface ResourceInfo {
  group: string // '' for the core group
  version: string
  kind: string
  listKind: string
  /** Lower-case plural: the URL segment (`pods`). */
  plural: string
  singular: string
  namespaced: boolean
  shortNames: string[]
  categories: string[]
  subresources: Subresource[]
  /** Name of the model class in @kubernetes/client-node that describes the kind (`V1Pod`). */
  model: string
}

function r(
  group: string,
  version: string,
  kind: string,
  plural: string,
  namespaced: boolean,
  model: string,
  extra: { shortNames?: string[]; subresources?: Subresource[]; categories?: string[] } = {},
): ResourceInfo {
  return {
    group,
    version,
    kind,
    listKind: `${kind}List`,
    plural,
    singular: kind.toLowerCase(),
    namespaced,
    shortNames: extra.shortNames ?? [],
    categories: extra.categories ?? [],
    subresources: extra.subresources ?? [],
    model,
  }
}

export const resources: readonly ResourceInfo[] = [
  r('', 'v1', 'Namespace', 'namespaces', false, 'V1Namespace', { shortNames: ['ns'], subresources: ['status', 'finalize'] }),
  r('', 'v1', 'Node', 'nodes', false, 'V1Node', { shortNames: ['no'], subresources: ['status'] }),
  r('', 'v1', 'Pod', 'pods', true, 'V1Pod', { shortNames: ['po'], subresources: ['status', 'binding', 'log'], categories: ['all'] }),
  r('', 'v1', 'Service', 'services', true, 'V1Service', { shortNames: ['svc'], subresources: ['status'], categories: ['all'] }),
  r('', 'v1', 'Endpoints', 'endpoints', true, 'V1Endpoints', { shortNames: ['ep'] }),
  r('', 'v1', 'Secret', 'secrets', true, 'V1Secret'),
  r('', 'v1', 'ConfigMap', 'configmaps', true, 'V1ConfigMap', { shortNames: ['cm'] }),
  r('', 'v1', 'Event', 'events', true, 'CoreV1Event', { shortNames: ['ev'] }),
  r('discovery.k8s.io', 'v1', 'EndpointSlice', 'endpointslices', true, 'V1EndpointSlice'),
  r('networking.k8s.io', 'v1', 'Ingress', 'ingresses', true, 'V1Ingress', { shortNames: ['ing'], subresources: ['status'] }),
  r('networking.k8s.io', 'v1', 'IngressClass', 'ingressclasses', false, 'V1IngressClass'),
  r('apps', 'v1', 'Deployment', 'deployments', true, 'V1Deployment', { shortNames: ['deploy'], subresources: ['status', 'scale'], categories: ['all'] }),
  r('apps', 'v1', 'ReplicaSet', 'replicasets', true, 'V1ReplicaSet', { shortNames: ['rs'], subresources: ['status', 'scale'], categories: ['all'] }),
  r('apps', 'v1', 'DaemonSet', 'daemonsets', true, 'V1DaemonSet', { shortNames: ['ds'], subresources: ['status'], categories: ['all'] }),
  r('coordination.k8s.io', 'v1', 'Lease', 'leases', true, 'V1Lease'),
]

export function apiVersionOf(info: ResourceInfo): string {
  return info.group ? `${info.group}/${info.version}` : info.version
}

export function findByPlural(group: string, version: string, plural: string): ResourceInfo | undefined {
  return resources.find((x) => x.group === group && x.version === version && x.plural === plural)
}

export function findByKind(apiVersion: string, kind: string): ResourceInfo | undefined {
  return resources.find((x) => apiVersionOf(x) === apiVersion && x.kind === kind)
}

/** The API groups served, each with its one version, core first. */
export function groupVersions(): { group: string; version: string }[] {
  const seen = new Map<string, string>()
  for (const x of resources) if (!seen.has(x.group)) seen.set(x.group, x.version)
  return [...seen].map(([group, version]) => ({ group, version }))
}
