// The kinds weft serves: one entry each, the single source for routing, discovery,
// storage keys, OpenAPI and tables.

export type Subresource = 'status' | 'scale' | 'binding' | 'finalize' | 'log' | 'token' | 'approval' | 'ephemeralcontainers' | 'exec' | 'attach' | 'portforward'

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
  /**
   * A request kind that is answered, never stored (TokenReview, SubjectAccessReview): POST
   * to the collection is its only verb, and the generic handler refuses even that.
   */
  createOnly: boolean
}

function r(
  group: string,
  version: string,
  kind: string,
  plural: string,
  namespaced: boolean,
  model: string,
  extra: { shortNames?: string[]; subresources?: Subresource[]; categories?: string[]; createOnly?: boolean } = {},
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
    createOnly: extra.createOnly ?? false,
  }
}

const rbac = 'rbac.authorization.k8s.io'
const createOnly = { createOnly: true }

export const resources: readonly ResourceInfo[] = [
  r('', 'v1', 'Namespace', 'namespaces', false, 'V1Namespace', { shortNames: ['ns'], subresources: ['status', 'finalize'] }),
  r('', 'v1', 'Node', 'nodes', false, 'V1Node', { shortNames: ['no'], subresources: ['status'] }),
  r('', 'v1', 'Pod', 'pods', true, 'V1Pod', { shortNames: ['po'], subresources: ['status', 'binding', 'log', 'ephemeralcontainers', 'exec', 'attach', 'portforward'], categories: ['all'] }),
  r('', 'v1', 'Service', 'services', true, 'V1Service', { shortNames: ['svc'], subresources: ['status'], categories: ['all'] }),
  r('', 'v1', 'Endpoints', 'endpoints', true, 'V1Endpoints', { shortNames: ['ep'] }),
  r('', 'v1', 'Secret', 'secrets', true, 'V1Secret'),
  r('', 'v1', 'ConfigMap', 'configmaps', true, 'V1ConfigMap', { shortNames: ['cm'] }),
  r('', 'v1', 'ResourceQuota', 'resourcequotas', true, 'V1ResourceQuota', { shortNames: ['quota'], subresources: ['status'] }),
  r('', 'v1', 'LimitRange', 'limitranges', true, 'V1LimitRange', { shortNames: ['limits'] }),
  r('', 'v1', 'Event', 'events', true, 'CoreV1Event', { shortNames: ['ev'] }),
  r('discovery.k8s.io', 'v1', 'EndpointSlice', 'endpointslices', true, 'V1EndpointSlice'),
  r('networking.k8s.io', 'v1', 'Ingress', 'ingresses', true, 'V1Ingress', { shortNames: ['ing'], subresources: ['status'] }),
  r('networking.k8s.io', 'v1', 'IngressClass', 'ingressclasses', false, 'V1IngressClass'),
  r('apps', 'v1', 'Deployment', 'deployments', true, 'V1Deployment', { shortNames: ['deploy'], subresources: ['status', 'scale'], categories: ['all'] }),
  r('apps', 'v1', 'ReplicaSet', 'replicasets', true, 'V1ReplicaSet', { shortNames: ['rs'], subresources: ['status', 'scale'], categories: ['all'] }),
  r('', 'v1', 'ReplicationController', 'replicationcontrollers', true, 'V1ReplicationController', { shortNames: ['rc'], subresources: ['status', 'scale'], categories: ['all'] }),
  r('apps', 'v1', 'DaemonSet', 'daemonsets', true, 'V1DaemonSet', { shortNames: ['ds'], subresources: ['status'], categories: ['all'] }),
  r('coordination.k8s.io', 'v1', 'Lease', 'leases', true, 'V1Lease'),
  r('scheduling.k8s.io', 'v1', 'PriorityClass', 'priorityclasses', false, 'V1PriorityClass', { shortNames: ['pc'] }),
  r('', 'v1', 'ServiceAccount', 'serviceaccounts', true, 'V1ServiceAccount', { shortNames: ['sa'], subresources: ['token'] }),
  r(rbac, 'v1', 'Role', 'roles', true, 'V1Role'),
  r(rbac, 'v1', 'ClusterRole', 'clusterroles', false, 'V1ClusterRole'),
  r(rbac, 'v1', 'RoleBinding', 'rolebindings', true, 'V1RoleBinding'),
  r(rbac, 'v1', 'ClusterRoleBinding', 'clusterrolebindings', false, 'V1ClusterRoleBinding'),
  r('certificates.k8s.io', 'v1', 'CertificateSigningRequest', 'certificatesigningrequests', false, 'V1CertificateSigningRequest', { shortNames: ['csr'], subresources: ['status', 'approval'] }),
  r('authentication.k8s.io', 'v1', 'TokenReview', 'tokenreviews', false, 'V1TokenReview', createOnly),
  r('authentication.k8s.io', 'v1', 'SelfSubjectReview', 'selfsubjectreviews', false, 'V1SelfSubjectReview', createOnly),
  r('authorization.k8s.io', 'v1', 'SubjectAccessReview', 'subjectaccessreviews', false, 'V1SubjectAccessReview', createOnly),
  r('authorization.k8s.io', 'v1', 'SelfSubjectAccessReview', 'selfsubjectaccessreviews', false, 'V1SelfSubjectAccessReview', createOnly),
  r('authorization.k8s.io', 'v1', 'LocalSubjectAccessReview', 'localsubjectaccessreviews', true, 'V1LocalSubjectAccessReview', createOnly),
  r('authorization.k8s.io', 'v1', 'SelfSubjectRulesReview', 'selfsubjectrulesreviews', false, 'V1SelfSubjectRulesReview', createOnly),
]

/** The kinds kept in the store: everything that can be listed, watched and owned. */
export const storedResources: readonly ResourceInfo[] = resources.filter((x) => !x.createOnly)

/** The verbs a kind's main resource takes, as discovery lists them. */
export function verbsOf(info: ResourceInfo): string[] {
  if (info.createOnly) return ['create']
  return ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'].filter((v) => v !== 'deletecollection' || info.kind !== 'Namespace')
}

/** The verbs a subresource takes (`pods/log`: get; `serviceaccounts/token`: create). */
export function subresourceVerbs(sub: Subresource): string[] {
  if (sub === 'binding' || sub === 'token') return ['create']
  if (sub === 'finalize') return ['update']
  if (sub === 'log') return ['get']
  if (sub === 'exec' || sub === 'attach' || sub === 'portforward') return ['create', 'get']
  return ['get', 'patch', 'update']
}

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
