// The kinds weft serves: one entry each, the single source for routing, discovery,
// storage keys, OpenAPI and tables.
import { eventFromCore, eventToCore, validateNewEvent } from './conversion/events.ts'
import { hpaToV1, hpaToV2 } from './conversion/hpa.ts'
import type { PrinterColumn, ScaleSpec } from './crd/definition.ts'
import type { FieldCause } from './validation/field.ts'

export type Subresource = 'status' | 'scale' | 'binding' | 'finalize' | 'log' | 'token' | 'approval' | 'ephemeralcontainers' | 'exec' | 'attach' | 'portforward' | 'eviction'

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
  /**
   * Another version of a stored kind, converted on the way in and out (events.k8s.io/v1
   * Events are core Events): not stored under a key of its own.
   */
  view?: View
  /** A custom resource: one served version of a CustomResourceDefinition. */
  custom?: CustomResourceHooks
}

/**
 * What serving one version of a CustomResourceDefinition takes beside the generic steps:
 * its structural schema's pruning, defaulting and validation, the storage version objects
 * are kept in (`conversion.strategy: None`: only apiVersion changes), printer columns, scale paths.
 */
export interface CustomResourceHooks {
  /** The CRD's name (`httproutes.gateway.networking.k8s.io`). */
  crd: string
  storageVersion: string
  /** The version's `openAPIV3Schema`. */
  schema: Record<string, unknown> | undefined
  columns: PrinterColumn[]
  scale: ScaleSpec | undefined
  /** Drops fields the schema does not specify, in place; returns their paths. */
  prune(obj: Record<string, unknown>): string[]
  applyDefaults(obj: Record<string, unknown>): void
  /** The schema's checks and CEL rules; `old`: the stored object, on an update (for transition rules). */
  validate(obj: Record<string, unknown>, old?: Record<string, unknown>): FieldCause[]
  /** A stored object as this version serves it: apiVersion rewritten, pruned and defaulted. */
  fromStored<T extends Record<string, unknown>>(obj: T): T
  /** This version's object as stored (the storage version's apiVersion). */
  toStored<T extends Record<string, unknown>>(obj: T): T
  /** Warning for clients of a deprecated version. */
  deprecationWarning?: string
  /** Field labels field selectors may use beside metadata.name and metadata.namespace. */
  selectableFields: string[]
}

export interface View {
  /** The stored kind, `apiVersion/kind`. */
  stored: { apiVersion: string; kind: string }
  toStored(obj: Record<string, unknown>): Record<string, unknown>
  fromStored(obj: Record<string, unknown>): Record<string, unknown>
  /** Rules this version adds for a new object, as field causes. */
  validateCreate?(obj: Record<string, unknown>): { field: string; message: string; reason: string }[]
}

function r(
  group: string,
  version: string,
  kind: string,
  plural: string,
  namespaced: boolean,
  model: string,
  extra: { shortNames?: string[]; subresources?: Subresource[]; categories?: string[]; createOnly?: boolean; view?: View } = {},
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
    ...(extra.view ? { view: extra.view } : {}),
  }
}

const rbac = 'rbac.authorization.k8s.io'
const createOnly = { createOnly: true }

export const resources: readonly ResourceInfo[] = [
  r('', 'v1', 'Namespace', 'namespaces', false, 'V1Namespace', { shortNames: ['ns'], subresources: ['status', 'finalize'] }),
  r('', 'v1', 'Node', 'nodes', false, 'V1Node', { shortNames: ['no'], subresources: ['status'] }),
  r('', 'v1', 'Pod', 'pods', true, 'V1Pod', { shortNames: ['po'], subresources: ['status', 'binding', 'eviction', 'log', 'ephemeralcontainers', 'exec', 'attach', 'portforward'], categories: ['all'] }),
  r('', 'v1', 'Service', 'services', true, 'V1Service', { shortNames: ['svc'], subresources: ['status'], categories: ['all'] }),
  r('', 'v1', 'Endpoints', 'endpoints', true, 'V1Endpoints', { shortNames: ['ep'] }),
  r('', 'v1', 'Secret', 'secrets', true, 'V1Secret'),
  r('', 'v1', 'ConfigMap', 'configmaps', true, 'V1ConfigMap', { shortNames: ['cm'] }),
  r('', 'v1', 'ResourceQuota', 'resourcequotas', true, 'V1ResourceQuota', { shortNames: ['quota'], subresources: ['status'] }),
  r('', 'v1', 'LimitRange', 'limitranges', true, 'V1LimitRange', { shortNames: ['limits'] }),
  r('', 'v1', 'Event', 'events', true, 'CoreV1Event', { shortNames: ['ev'] }),
  r('events.k8s.io', 'v1', 'Event', 'events', true, 'EventsV1Event', {
    shortNames: ['ev'],
    view: { stored: { apiVersion: 'v1', kind: 'Event' }, toStored: eventToCore, fromStored: eventFromCore, validateCreate: validateNewEvent },
  }),
  r('discovery.k8s.io', 'v1', 'EndpointSlice', 'endpointslices', true, 'V1EndpointSlice'),
  r('networking.k8s.io', 'v1', 'Ingress', 'ingresses', true, 'V1Ingress', { shortNames: ['ing'], subresources: ['status'] }),
  r('networking.k8s.io', 'v1', 'IngressClass', 'ingressclasses', false, 'V1IngressClass'),
  r('networking.k8s.io', 'v1', 'NetworkPolicy', 'networkpolicies', true, 'V1NetworkPolicy', { shortNames: ['netpol'] }),
  r('apps', 'v1', 'Deployment', 'deployments', true, 'V1Deployment', { shortNames: ['deploy'], subresources: ['status', 'scale'], categories: ['all'] }),
  r('apps', 'v1', 'ReplicaSet', 'replicasets', true, 'V1ReplicaSet', { shortNames: ['rs'], subresources: ['status', 'scale'], categories: ['all'] }),
  r('', 'v1', 'ReplicationController', 'replicationcontrollers', true, 'V1ReplicationController', { shortNames: ['rc'], subresources: ['status', 'scale'], categories: ['all'] }),
  r('autoscaling', 'v2', 'HorizontalPodAutoscaler', 'horizontalpodautoscalers', true, 'V2HorizontalPodAutoscaler', { shortNames: ['hpa'], subresources: ['status'], categories: ['all'] }),
  r('autoscaling', 'v1', 'HorizontalPodAutoscaler', 'horizontalpodautoscalers', true, 'V1HorizontalPodAutoscaler', {
    shortNames: ['hpa'],
    subresources: ['status'],
    categories: ['all'],
    view: { stored: { apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler' }, toStored: hpaToV2, fromStored: hpaToV1 },
  }),
  r('apps', 'v1', 'DaemonSet', 'daemonsets', true, 'V1DaemonSet', { shortNames: ['ds'], subresources: ['status'], categories: ['all'] }),
  r('batch', 'v1', 'Job', 'jobs', true, 'V1Job', { subresources: ['status'], categories: ['all'] }),
  r('batch', 'v1', 'CronJob', 'cronjobs', true, 'V1CronJob', { shortNames: ['cj'], subresources: ['status'], categories: ['all'] }),
  r('apps', 'v1', 'StatefulSet', 'statefulsets', true, 'V1StatefulSet', { shortNames: ['sts'], subresources: ['status', 'scale'], categories: ['all'] }),
  r('apps', 'v1', 'ControllerRevision', 'controllerrevisions', true, 'V1ControllerRevision'),
  r('coordination.k8s.io', 'v1', 'Lease', 'leases', true, 'V1Lease'),
  r('scheduling.k8s.io', 'v1', 'PriorityClass', 'priorityclasses', false, 'V1PriorityClass', { shortNames: ['pc'] }),
  r('policy', 'v1', 'PodDisruptionBudget', 'poddisruptionbudgets', true, 'V1PodDisruptionBudget', { shortNames: ['pdb'], subresources: ['status'] }),
  r('', 'v1', 'PersistentVolume', 'persistentvolumes', false, 'V1PersistentVolume', { shortNames: ['pv'], subresources: ['status'] }),
  r('', 'v1', 'PersistentVolumeClaim', 'persistentvolumeclaims', true, 'V1PersistentVolumeClaim', { shortNames: ['pvc'], subresources: ['status'] }),
  r('storage.k8s.io', 'v1', 'StorageClass', 'storageclasses', false, 'V1StorageClass', { shortNames: ['sc'] }),
  r('', 'v1', 'ServiceAccount', 'serviceaccounts', true, 'V1ServiceAccount', { shortNames: ['sa'], subresources: ['token'] }),
  r(rbac, 'v1', 'Role', 'roles', true, 'V1Role'),
  r(rbac, 'v1', 'ClusterRole', 'clusterroles', false, 'V1ClusterRole'),
  r(rbac, 'v1', 'RoleBinding', 'rolebindings', true, 'V1RoleBinding'),
  r(rbac, 'v1', 'ClusterRoleBinding', 'clusterrolebindings', false, 'V1ClusterRoleBinding'),
  r('certificates.k8s.io', 'v1', 'CertificateSigningRequest', 'certificatesigningrequests', false, 'V1CertificateSigningRequest', { shortNames: ['csr'], subresources: ['status', 'approval'] }),
  r('apiextensions.k8s.io', 'v1', 'CustomResourceDefinition', 'customresourcedefinitions', false, 'V1CustomResourceDefinition', { shortNames: ['crd', 'crds'], subresources: ['status'], categories: ['api-extensions'] }),
  r('authentication.k8s.io', 'v1', 'TokenReview', 'tokenreviews', false, 'V1TokenReview', createOnly),
  r('authentication.k8s.io', 'v1', 'SelfSubjectReview', 'selfsubjectreviews', false, 'V1SelfSubjectReview', createOnly),
  r('authorization.k8s.io', 'v1', 'SubjectAccessReview', 'subjectaccessreviews', false, 'V1SubjectAccessReview', createOnly),
  r('authorization.k8s.io', 'v1', 'SelfSubjectAccessReview', 'selfsubjectaccessreviews', false, 'V1SelfSubjectAccessReview', createOnly),
  r('authorization.k8s.io', 'v1', 'LocalSubjectAccessReview', 'localsubjectaccessreviews', true, 'V1LocalSubjectAccessReview', createOnly),
  r('authorization.k8s.io', 'v1', 'SelfSubjectRulesReview', 'selfsubjectrulesreviews', false, 'V1SelfSubjectRulesReview', createOnly),
]

/** The kinds kept in the store: everything that can be listed, watched and owned. */
export const storedResources: readonly ResourceInfo[] = resources.filter((x) => !x.createOnly && !x.view)

/** The stored kind a view (another version of it) converts to. */
export function storedInfoOf(info: ResourceInfo): ResourceInfo {
  if (!info.view) return info
  const stored = findByKind(info.view.stored.apiVersion, info.view.stored.kind)
  if (!stored) throw new Error(`${apiVersionOf(info)} ${info.kind} is a view of ${info.view.stored.apiVersion} ${info.view.stored.kind}, which is not served`)
  return stored
}

/** The verbs a kind's main resource takes, as discovery lists them. */
export function verbsOf(info: ResourceInfo): string[] {
  if (info.createOnly) return ['create']
  return ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'].filter((v) => v !== 'deletecollection' || info.kind !== 'Namespace')
}

/** The verbs a subresource takes (`pods/log`: get; `serviceaccounts/token`: create). */
export function subresourceVerbs(sub: Subresource): string[] {
  if (sub === 'binding' || sub === 'token' || sub === 'eviction') return ['create']
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

/** Every group version served, core first, in the order the registry names them. */
export function groupVersions(): { group: string; version: string }[] {
  const seen = new Map<string, { group: string; version: string }>()
  for (const x of resources) seen.set(`${x.group}/${x.version}`, { group: x.group, version: x.version })
  return [...seen.values()]
}

/** A group's versions, the preferred (the stored one, not a view) first. */
export function versionsOf(group: string, from: readonly ResourceInfo[] = resources): string[] {
  const inGroup = from.filter((x) => x.group === group)
  const preferred = (inGroup.find((x) => !x.view) ?? inGroup[0])?.version
  const versions = [...new Set(inGroup.map((x) => x.version))]
  return preferred === undefined ? [] : [preferred, ...versions.filter((v) => v !== preferred)]
}

/** The groups served, core first. */
export function groups(from: readonly ResourceInfo[] = resources): string[] {
  return [...new Set(from.map((x) => x.group))]
}
