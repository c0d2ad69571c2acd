// How lists and maps of the served kinds merge: Kubernetes keeps this in Go struct tags
// (patchStrategy / patchMergeKey for strategic merge patch; +listType / +listMapKey /
// +structType / +mapType for server-side apply), which the client-node models do not
// carry. The facts are taken from k8s.io/api core/v1, apps/v1, networking/v1,
// discovery/v1 and apimachinery meta/v1. Anything not listed here is atomic.
import { modelField, modelFields, type TypeRef } from '../api/models.ts'

export interface ListMeta {
  /** Strategic merge patch: merge the list (by `mergeKey` for objects, as a set for primitives). */
  merge: boolean
  /** Strategic merge patch key for lists of objects. */
  mergeKey?: string
  /** The field also carries the `retainKeys` strategy. */
  retainKeys?: boolean
  /** Server-side apply list type. */
  listType: 'map' | 'set' | 'atomic'
  /** Server-side apply keys of a `map` list, with the defaults the schema gives missing key fields. */
  keys?: string[]
  keyDefaults?: Record<string, unknown>
}

const byName: ListMeta = { merge: true, mergeKey: 'name', listType: 'map', keys: ['name'] }
const byType: ListMeta = { merge: true, mergeKey: 'type', listType: 'map', keys: ['type'] }
const byIp: ListMeta = { merge: true, mergeKey: 'ip', listType: 'map', keys: ['ip'] }
const primitiveSet: ListMeta = { merge: true, listType: 'set' }
const containerFields: Record<string, ListMeta> = {
  ports: {
    merge: true,
    mergeKey: 'containerPort',
    listType: 'map',
    keys: ['containerPort', 'protocol'],
    keyDefaults: { protocol: 'TCP' },
  },
  env: byName,
  volumeMounts: { merge: true, mergeKey: 'mountPath', listType: 'map', keys: ['mountPath'] },
  volumeDevices: { merge: true, mergeKey: 'devicePath', listType: 'map', keys: ['devicePath'] },
}

const lists: Record<string, Record<string, ListMeta>> = {
  V1ObjectMeta: {
    finalizers: primitiveSet,
    ownerReferences: { merge: true, mergeKey: 'uid', listType: 'map', keys: ['uid'] },
  },
  V1PodSpec: {
    containers: byName,
    initContainers: byName,
    ephemeralContainers: byName,
    volumes: { ...byName, retainKeys: true },
    imagePullSecrets: byName,
    hostAliases: byIp,
    topologySpreadConstraints: {
      merge: true,
      mergeKey: 'topologyKey',
      listType: 'map',
      keys: ['topologyKey', 'whenUnsatisfiable'],
    },
    resourceClaims: { ...byName, retainKeys: true },
    schedulingGates: byName,
  },
  V1Container: containerFields,
  V1EphemeralContainer: containerFields,
  V1ResourceRequirements: { claims: { merge: false, listType: 'map', keys: ['name'] } },
  V1PodStatus: {
    conditions: byType,
    podIPs: byIp,
    hostIPs: byIp,
    resourceClaimStatuses: { ...byName, retainKeys: true },
  },
  V1ServiceSpec: {
    ports: { merge: true, mergeKey: 'port', listType: 'map', keys: ['port', 'protocol'], keyDefaults: { protocol: 'TCP' } },
  },
  V1ServiceStatus: { conditions: byType },
  V1NodeSpec: { podCIDRs: primitiveSet },
  V1NodeStatus: { conditions: byType, addresses: byType },
  V1NamespaceStatus: { conditions: byType },
  V1DeploymentStatus: { conditions: byType },
  V1ReplicaSetStatus: { conditions: byType },
  V1ReplicationControllerStatus: { conditions: byType },
  V2HorizontalPodAutoscalerStatus: { conditions: byType },
  V1DaemonSetStatus: { conditions: byType },
  // Merged by type in strategic merge patches, but atomic for server-side apply (+listType=atomic).
  V1JobStatus: { conditions: { merge: true, mergeKey: 'type', listType: 'atomic' } },
  V1StatefulSetStatus: { conditions: byType },
}

/** Struct fields that carry `patchStrategy:"retainKeys"` (informational: the server honours `$retainKeys` anywhere). */
const retainKeysStructs: Record<string, string[]> = {
  V1DeploymentSpec: ['strategy'],
}

/** Structs applied and owned as a whole (`+structType=atomic`). */
const atomicStructs = new Set([
  'V1LabelSelector',
  'V1LocalObjectReference',
  'V1ObjectReference',
  'V1TypedLocalObjectReference',
  'V1NodeSelector',
  'V1NodeSelectorTerm',
  'V1ConfigMapKeySelector',
  'V1SecretKeySelector',
  'V1ObjectFieldSelector',
  'V1ResourceFieldSelector',
])

/** Maps applied and owned as a whole (`+mapType=atomic`). */
const atomicMaps: Record<string, string[]> = {
  V1PodSpec: ['nodeSelector'],
  V1ServiceSpec: ['selector'],
}

const atomicList: ListMeta = { merge: false, listType: 'atomic' }

/** Merge metadata of list field `field` of `model`; atomic when the table says nothing. */
export function listMeta(model: string | undefined, field: string): ListMeta {
  if (!model) return atomicList
  return lists[model]?.[field] ?? atomicList
}

export function hasRetainKeys(model: string | undefined, field: string): boolean {
  if (!model) return false
  return (retainKeysStructs[model] ?? []).includes(field) || lists[model]?.[field]?.retainKeys === true
}

export function isAtomicStruct(model: string): boolean {
  return atomicStructs.has(model)
}

export function isAtomicMap(model: string | undefined, field: string): boolean {
  if (!model) return false
  return (atomicMaps[model] ?? []).includes(field)
}

/** The type of field `field` in `parent`: a model's field, a map's values, or unknown. */
export function childType(parent: TypeRef | undefined, field: string): TypeRef | undefined {
  if (!parent) return undefined
  if (parent.kind === 'model') return modelFields(parent.name) ? modelField(parent.name, field)?.type : undefined
  if (parent.kind === 'map') return parent.values
  return undefined
}

export function modelName(type: TypeRef | undefined): string | undefined {
  return type?.kind === 'model' ? type.name : undefined
}
