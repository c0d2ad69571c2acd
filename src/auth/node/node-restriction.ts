// NodeRestriction admission (upstream plugin/pkg/admission/noderestriction), pure: what a node
// may write once the node authorizer has let the request through. It answers undefined to allow,
// or upstream's message for a 403 (the caller wraps it: `<resource> "<name>" is forbidden: <message>`).
// Callers that are not nodes are never restricted here.
//
// weft runs no static pods, so there are no mirror pods and a node may create no pod at all.
// weft's addition: a node may take its local-path cleanup finalizer off a local-path volume
// on its disk, and change nothing else of any PersistentVolume.
import { nodeIdentity } from './node-identity.ts'
import { NODE_LEASE_NAMESPACE } from './node-authorizer.ts'
import type { UserInfo } from '../types.ts'
import { LOCAL_PATH_CLEANUP_FINALIZER, LOCAL_PATH_NODE_LABEL } from '../../api/storage.ts'

export interface NodeRestrictionRequest {
  verb: string
  /** When given, the resource's API group must be the one weft restricts (`` for pods, `coordination.k8s.io` for leases…). */
  apiGroup?: string
  resource: string
  subresource: string
  namespace: string
  /** The object's name; on create it may be '' (then the object's metadata.name is used). */
  name: string
}

/** The pods the API server has, for token requests and evictions (NodeGraph fits). */
export interface NodeRestrictionLookups {
  pod(namespace: string, name: string): { nodeName: string; uid: string } | undefined
}

type Operation = 'CREATE' | 'UPDATE' | 'DELETE'
type Obj = Record<string, unknown>

const MIRROR_POD_ANNOTATION = 'kubernetes.io/config.mirror'
const NODE_RESTRICTION_LABEL_NAMESPACE = 'node-restriction.kubernetes.io'

// k8s.io/kubelet/pkg/apis well_known_labels.go: the kubernetes.io labels a kubelet may set on its Node.
const KUBELET_LABELS = new Set([
  'kubernetes.io/hostname',
  'topology.kubernetes.io/zone',
  'topology.kubernetes.io/region',
  'failure-domain.beta.kubernetes.io/zone',
  'failure-domain.beta.kubernetes.io/region',
  'beta.kubernetes.io/instance-type',
  'node.kubernetes.io/instance-type',
  'kubernetes.io/os',
  'kubernetes.io/arch',
  'beta.kubernetes.io/os',
  'beta.kubernetes.io/arch',
])
const KUBELET_LABEL_NAMESPACES = ['kubelet.kubernetes.io', 'node.kubernetes.io']

const GROUPS: Record<string, string> = { pods: '', nodes: '', persistentvolumeclaims: '', persistentvolumes: '', serviceaccounts: '', leases: 'coordination.k8s.io', csinodes: 'storage.k8s.io' }

export function nodeRestriction(user: UserInfo, request: NodeRestrictionRequest, object: unknown, oldObject: unknown, lookups?: NodeRestrictionLookups): string | undefined {
  const { isNode, nodeName } = nodeIdentity(user)
  if (!isNode) return undefined
  const operation = operationOf(request.verb)
  if (!operation) return undefined
  if (nodeName === '') return `could not determine node from user ${JSON.stringify(user.username)}`
  if (!Object.hasOwn(GROUPS, request.resource)) return undefined
  if (request.apiGroup !== undefined && request.apiGroup !== GROUPS[request.resource]) return undefined
  const ctx: Ctx = { nodeName, operation, request, object: asObj(object), oldObject: asObj(oldObject), lookups }
  switch (request.resource) {
    case 'pods':
      if (request.subresource === '') return admitPod(ctx)
      if (request.subresource === 'status') return admitPodStatus(ctx)
      if (request.subresource === 'eviction') return admitPodEviction(ctx)
      return `unexpected pod subresource ${JSON.stringify(request.subresource)}, only 'status' and 'eviction' are allowed`
    case 'nodes':
      return admitNode(ctx)
    case 'persistentvolumeclaims':
      return request.subresource === 'status' ? admitPVCStatus(ctx) : 'may only update PVC status'
    case 'persistentvolumes':
      return admitLocalVolume(ctx)
    case 'serviceaccounts':
      return admitServiceAccount(ctx)
    case 'leases':
      return admitSameName(ctx, 'node lease', `can only access leases in the ${JSON.stringify(NODE_LEASE_NAMESPACE)} system namespace`)
    case 'csinodes':
      return admitSameName(ctx, 'CSINode')
  }
  return undefined
}

interface Ctx {
  nodeName: string
  operation: Operation
  request: NodeRestrictionRequest
  object: Obj | undefined
  oldObject: Obj | undefined
  lookups: NodeRestrictionLookups | undefined
}

function operationOf(verb: string): Operation | undefined {
  if (verb === 'create') return 'CREATE'
  if (verb === 'update' || verb === 'patch') return 'UPDATE'
  if (verb === 'delete' || verb === 'deletecollection') return 'DELETE'
  return undefined
}

function asObj(v: unknown): Obj | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : undefined
}

function at(o: unknown, ...path: string[]): unknown {
  let cur: unknown = o
  for (const p of path) cur = asObj(cur)?.[p]
  return cur
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : ''
}

const q = JSON.stringify

function admitPod(c: Ctx): string | undefined {
  const n = q(c.nodeName)
  if (c.operation === 'CREATE') {
    const annotations = asObj(at(c.object, 'metadata', 'annotations'))
    if (!annotations || !Object.hasOwn(annotations, MIRROR_POD_ANNOTATION)) return `pod does not have ${q(MIRROR_POD_ANNOTATION)} annotation, node ${n} can only create mirror pods`
    return `node ${n} can not create mirror pods: weft runs no static pods`
  }
  if (c.operation === 'DELETE') {
    const existing = c.oldObject ? str(at(c.oldObject, 'spec', 'nodeName')) : c.lookups?.pod(c.request.namespace, c.request.name)?.nodeName
    if (existing === undefined) return `pods ${q(c.request.name)} not found`
    if (existing !== c.nodeName) return `node ${n} can only delete pods with spec.nodeName set to itself`
    return undefined
  }
  return `unexpected operation ${q(c.operation)}, node ${n} can only create and delete mirror pods`
}

function admitPodStatus(c: Ctx): string | undefined {
  if (c.operation !== 'UPDATE') return `unexpected operation ${q(c.operation)}`
  const n = q(c.nodeName)
  if (!c.oldObject || !c.object) return 'unexpected type: a pod status update needs the stored and the new pod'
  if (str(at(c.oldObject, 'spec', 'nodeName')) !== c.nodeName) return `node ${n} can only update pod status for pods with spec.nodeName set to itself`
  if (!sameStringMap(at(c.oldObject, 'metadata', 'labels'), at(c.object, 'metadata', 'labels'))) return `node ${n} cannot update labels through pod status`
  if (!claimStatusesEqual(at(c.oldObject, 'status', 'resourceClaimStatuses'), at(c.object, 'status', 'resourceClaimStatuses'))) return `node ${n} cannot update resource claim statues`
  return undefined
}

function admitPodEviction(c: Ctx): string | undefined {
  if (c.operation !== 'CREATE') return `unexpected operation ${c.operation}`
  const podName = c.request.name || str(at(c.object, 'metadata', 'name'))
  if (podName === '') return 'could not determine pod from request data'
  const pod = c.lookups?.pod(c.request.namespace, podName)
  if (!pod) return `pods ${q(podName)} not found`
  if (pod.nodeName !== c.nodeName) return `node ${c.nodeName} can only evict pods with spec.nodeName set to itself`
  return undefined
}

function admitNode(c: Ctx): string | undefined {
  const n = q(c.nodeName)
  const requested = c.operation === 'CREATE' ? c.request.name || str(at(c.object, 'metadata', 'name')) : c.request.name
  if (requested !== c.nodeName) return `node ${n} is not allowed to modify node ${q(requested)}`
  if (c.operation === 'CREATE') {
    if (!c.object) return 'unexpected type: a node create needs the Node'
    if (present(at(c.object, 'spec', 'configSource'))) return `node ${n} is not allowed to create pods with a non-nil configSource`
    const forbidden = forbiddenLabels(modifiedLabels(at(c.object, 'metadata', 'labels'), undefined))
    if (forbidden.length) return `node ${n} is not allowed to set the following labels: ${forbidden.join(', ')}`
  }
  if (c.operation === 'UPDATE') {
    if (!c.object || !c.oldObject) return 'unexpected type: a node update needs the stored and the new Node'
    const source = at(c.object, 'spec', 'configSource')
    if (present(source) && !semanticEqual(source, at(c.oldObject, 'spec', 'configSource'))) return `node ${n} is not allowed to update configSource to a new non-nil configSource`
    if (!semanticEqual(at(c.object, 'spec', 'taints'), at(c.oldObject, 'spec', 'taints'))) return `node ${n} is not allowed to modify taints`
    const forbidden = forbiddenLabels(modifiedLabels(at(c.object, 'metadata', 'labels'), at(c.oldObject, 'metadata', 'labels')))
    // Upstream's message names no node here.
    if (forbidden.length) return `is not allowed to modify labels: ${forbidden.join(', ')}`
  }
  return undefined
}

// Upstream compares the claims with capacity, conditions, allocated resources (expansion
// recovery), resourceVersion and managedFields cleared: a node may change nothing else.
function admitPVCStatus(c: Ctx): string | undefined {
  if (c.operation !== 'UPDATE') return `unexpected operation ${q(c.operation)}`
  if (!c.object || !c.oldObject) return 'unexpected type: a claim status update needs the stored and the new claim'
  const strip = (pvc: Obj): Obj => {
    const metadata = { ...asObj(pvc.metadata) }
    delete metadata.resourceVersion
    delete metadata.managedFields
    const status = { ...asObj(pvc.status) }
    for (const f of ['capacity', 'conditions', 'allocatedResourceStatuses', 'allocatedResources']) delete status[f]
    return { ...pvc, metadata, status }
  }
  const changed = changedPaths(strip(c.oldObject), strip(c.object))
  if (changed.length) return `node ${q(c.nodeName)} is not allowed to update fields other than status.capacity and status.conditions: ${changed.join(', ')}`
  return undefined
}

function admitLocalVolume(c: Ctx): string | undefined {
  const only = `node ${q(c.nodeName)} may only remove the ${LOCAL_PATH_CLEANUP_FINALIZER} finalizer of a local-path volume on its disk`
  if (c.operation !== 'UPDATE' || c.request.subresource !== '' || !c.object || !c.oldObject) return only
  if (str(at(c.oldObject, 'metadata', 'labels', LOCAL_PATH_NODE_LABEL)) !== c.nodeName) return only
  const finalizers = (o: Obj): unknown[] => (Array.isArray(at(o, 'metadata', 'finalizers')) ? (at(o, 'metadata', 'finalizers') as unknown[]) : [])
  const expected = finalizers(c.oldObject).filter((f) => f !== LOCAL_PATH_CLEANUP_FINALIZER)
  if (!semanticEqual(finalizers(c.object), expected)) return only
  const strip = (pv: Obj): Obj => {
    const metadata = { ...asObj(pv.metadata) }
    for (const f of ['resourceVersion', 'managedFields', 'finalizers']) delete metadata[f]
    return { ...pv, metadata }
  }
  const changed = changedPaths(strip(c.oldObject), strip(c.object))
  return changed.length ? `${only}: it changed ${changed.join(', ')}` : undefined
}

function admitServiceAccount(c: Ctx): string | undefined {
  if (c.operation !== 'CREATE' || c.request.subresource !== 'token') return undefined
  if (!c.object) return 'unexpected type: a token request needs the TokenRequest'
  const ref = asObj(at(c.object, 'spec', 'boundObjectRef'))
  if (!ref || ref.apiVersion !== 'v1' || ref.kind !== 'Pod' || str(ref.name) === '') return 'node requested token not bound to a pod'
  const uid = str(ref.uid)
  if (uid === '') return 'node requested token with a pod binding without a uid'
  const pod = c.lookups?.pod(c.request.namespace, str(ref.name))
  if (!pod) return `pods ${q(str(ref.name))} not found`
  if (pod.uid !== uid) return `the UID in the bound object reference (${uid}) does not match the UID in record. The object might have been deleted and then recreated`
  if (pod.nodeName !== c.nodeName) return 'node requested token bound to a pod scheduled on a different node'
  return undefined
}

function admitSameName(c: Ctx, what: 'node lease' | 'CSINode', namespaceMessage?: string): string | undefined {
  if (namespaceMessage && c.request.namespace !== NODE_LEASE_NAMESPACE) return namespaceMessage
  const name = c.operation === 'CREATE' ? str(at(c.object, 'metadata', 'name')) : c.request.name
  if (name !== c.nodeName) return `can only access ${what} with the same name as the requesting node`
  return undefined
}

// ---- comparisons, as apimachinery's Semantic.DeepEqual over Go structs: an absent field equals
// its zero value (null, '', 0, false, [], {}) ----

function present(v: unknown): boolean {
  return v !== undefined && v !== null
}

function isZero(v: unknown): boolean {
  if (v === undefined || v === null || v === '' || v === 0 || v === false) return true
  if (Array.isArray(v)) return v.length === 0
  return typeof v === 'object' && Object.keys(v).length === 0
}

function semanticEqual(a: unknown, b: unknown): boolean {
  if (isZero(a) && isZero(b)) return true
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false
    return a.every((x, i) => semanticEqual(x, b[i]))
  }
  const ao = asObj(a)
  const bo = asObj(b)
  if (ao || bo) {
    if (!ao || !bo) return false
    const keys = new Set([...Object.keys(ao), ...Object.keys(bo)])
    for (const k of keys) if (!semanticEqual(ao[k], bo[k])) return false
    return true
  }
  return a === b
}

/** Top-level-ish paths where two objects differ (two levels deep), for the message. */
function changedPaths(a: Obj, b: Obj): string[] {
  const out: string[] = []
  for (const k of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) {
    if (semanticEqual(a[k], b[k])) continue
    const ao = asObj(a[k])
    const bo = asObj(b[k])
    if (ao && bo) {
      for (const k2 of [...new Set([...Object.keys(ao), ...Object.keys(bo)])].sort()) if (!semanticEqual(ao[k2], bo[k2])) out.push(`${k}.${k2}`)
    } else out.push(k)
  }
  return out
}

function stringMap(v: unknown): Map<string, string> {
  const m = new Map<string, string>()
  for (const [k, val] of Object.entries(asObj(v) ?? {})) m.set(k, typeof val === 'string' ? val : JSON.stringify(val))
  return m
}

function sameStringMap(a: unknown, b: unknown): boolean {
  const ma = stringMap(a)
  const mb = stringMap(b)
  return ma.size === mb.size && [...ma].every(([k, v]) => mb.get(k) === v)
}

function claimStatusesEqual(a: unknown, b: unknown): boolean {
  const la = Array.isArray(a) ? a : []
  const lb = Array.isArray(b) ? b : []
  if (la.length !== lb.length) return false
  return la.every((x, i) => at(x, 'name') === at(lb[i], 'name') && (at(x, 'resourceClaimName') ?? null) === (at(lb[i], 'resourceClaimName') ?? null))
}

function modifiedLabels(next: unknown, prev: unknown): string[] {
  const a = stringMap(next)
  const b = stringMap(prev)
  const out = new Set<string>()
  for (const [k, v] of a) if (b.get(k) !== v) out.add(k)
  for (const [k, v] of b) if (a.get(k) !== v) out.add(k)
  return [...out]
}

function labelNamespace(key: string): string {
  const slash = key.indexOf('/')
  return slash < 0 ? '' : key.slice(0, slash)
}

function inNamespace(ns: string, domain: string): boolean {
  return ns === domain || ns.endsWith(`.${domain}`)
}

function isKubeletLabel(key: string): boolean {
  return KUBELET_LABELS.has(key) || KUBELET_LABEL_NAMESPACES.some((d) => inNamespace(labelNamespace(key), d))
}

/** Labels a node may not add, remove or change on itself, sorted. */
export function forbiddenLabels(keys: string[]): string[] {
  return keys
    .filter((key) => {
      const ns = labelNamespace(key)
      if (inNamespace(ns, NODE_RESTRICTION_LABEL_NAMESPACE)) return true
      return (inNamespace(ns, 'kubernetes.io') || inNamespace(ns, 'k8s.io')) && !isKubeletLabel(key)
    })
    .sort()
}
