// Server-side printing: the `meta.k8s.io/v1` Table that `kubectl get` asks for with
// `Accept: application/json;as=Table;v=v1;g=meta.k8s.io`. Columns and cells follow Kubernetes'
// pkg/printers/internalversion, generated as the API server does (wide columns included).
import type { ResourceInfo } from '../api/registry.ts'
import { col, nameColumn } from './tables/format.ts'
import type { Printer, TableColumnDefinition, TableRowCondition } from './tables/format.ts'
import { configMapPrinter, eventPrinter, leasePrinter, priorityClassPrinter, namespacePrinter, nodePrinter, resourceQuotaPrinter, secretPrinter } from './tables/core.ts'
import {
  endpointSlicePrinter,
  endpointsPrinter,
  ingressClassPrinter,
  ingressPrinter,
  networkPolicyPrinter,
  servicePrinter,
} from './tables/network.ts'
import { cronJobPrinter, jobPrinter } from './tables/batch.ts'
import { podPrinter } from './tables/pods.ts'
import { podDisruptionBudgetPrinter } from './tables/policy.ts'
import { certificateSigningRequestPrinter, clusterRoleBindingPrinter, roleBindingPrinter, serviceAccountPrinter } from './tables/security.ts'
import { controllerRevisionPrinter, daemonSetPrinter, deploymentPrinter, replicaSetPrinter, replicationControllerPrinter, statefulSetPrinter } from './tables/workloads.ts'
import { horizontalPodAutoscalerPrinter } from './tables/autoscaling.ts'
import { customPrinter } from './tables/custom.ts'
import { persistentVolumeClaimPrinter, persistentVolumePrinter, storageClassPrinter } from './tables/storage.ts'

export { humanDuration } from './tables/format.ts'
export type { TableColumnDefinition, TableRowCondition } from './tables/format.ts'

export type IncludeObject = 'None' | 'Metadata' | 'Object'

export interface TableRow {
  cells: unknown[]
  conditions?: TableRowCondition[]
  object?: object
}

export interface Table {
  kind: 'Table'
  apiVersion: 'meta.k8s.io/v1'
  metadata: { resourceVersion?: string; continue?: string; remainingItemCount?: number }
  columnDefinitions: TableColumnDefinition[]
  rows: TableRow[]
}

export interface TableOptions {
  includeObject: IncludeObject
  now: Date
}

const printers: Record<string, Printer> = {
  Pod: podPrinter,
  Service: servicePrinter,
  Node: nodePrinter,
  Namespace: namespacePrinter,
  Endpoints: endpointsPrinter,
  EndpointSlice: endpointSlicePrinter,
  Secret: secretPrinter,
  ConfigMap: configMapPrinter,
  Event: eventPrinter,
  Ingress: ingressPrinter,
  IngressClass: ingressClassPrinter,
  NetworkPolicy: networkPolicyPrinter,
  Deployment: deploymentPrinter,
  ReplicaSet: replicaSetPrinter,
  ReplicationController: replicationControllerPrinter,
  HorizontalPodAutoscaler: horizontalPodAutoscalerPrinter,
  DaemonSet: daemonSetPrinter,
  Job: jobPrinter,
  CronJob: cronJobPrinter,
  StatefulSet: statefulSetPrinter,
  ControllerRevision: controllerRevisionPrinter,
  Lease: leasePrinter,
  PriorityClass: priorityClassPrinter,
  PodDisruptionBudget: podDisruptionBudgetPrinter,
  PersistentVolume: persistentVolumePrinter,
  PersistentVolumeClaim: persistentVolumeClaimPrinter,
  StorageClass: storageClassPrinter,
  ResourceQuota: resourceQuotaPrinter,
  ServiceAccount: serviceAccountPrinter,
  RoleBinding: roleBindingPrinter,
  ClusterRoleBinding: clusterRoleBindingPrinter,
  CertificateSigningRequest: certificateSigningRequestPrinter,
}

function metadataOf(obj: object): Record<string, unknown> {
  const m = (obj as { metadata?: unknown }).metadata
  return m !== null && typeof m === 'object' ? (m as Record<string, unknown>) : {}
}

/** The API server's default for kinds without a printer: name and RFC 3339 creation time. */
const defaultPrinter: Printer = {
  columns: [
    nameColumn(),
    col(
      'Created At',
      'date',
      'CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata',
    ),
  ],
  row(obj) {
    const meta = metadataOf(obj as object)
    const created = meta.creationTimestamp
    const text =
      created instanceof Date ? created.toISOString().replace(/\.\d{3}Z$/, 'Z') : typeof created === 'string' ? created : ''
    return { cells: [typeof meta.name === 'string' ? meta.name : '', text] }
  },
}

const customPrinters = new WeakMap<ResourceInfo, Printer>()

export function printerFor(info: ResourceInfo): Printer {
  if (info.custom) {
    let printer = customPrinters.get(info)
    if (!printer) customPrinters.set(info, (printer = customPrinter(info.custom.columns)))
    return printer
  }
  return Object.hasOwn(printers, info.kind) ? printers[info.kind] : defaultPrinter
}

function rowObject(obj: object, include: IncludeObject): object | undefined {
  if (include === 'None') return undefined
  if (include === 'Object') return obj
  return { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: metadataOf(obj) }
}

/** One row per object; the caller fills `metadata.resourceVersion` and `metadata.continue`. */
export function toTable(info: ResourceInfo, objects: object[], opts: TableOptions): Table {
  const printer = printerFor(info)
  const now = opts.now.getTime()
  const rows = objects.map((obj): TableRow => {
    const printed = printer.row(obj, now)
    const row: TableRow = { cells: printed.cells }
    if (printed.conditions) row.conditions = printed.conditions.map((c) => ({ ...c }))
    const embedded = rowObject(obj, opts.includeObject)
    if (embedded) row.object = embedded
    return row
  })
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: {},
    columnDefinitions: printer.columns.map((c) => ({ ...c })),
    rows,
  }
}
