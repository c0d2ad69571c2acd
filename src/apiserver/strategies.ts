// What the server itself sets or keeps on a write, per kind (upstream's PrepareForCreate and
// PrepareForUpdate in pkg/registry/*/strategy.go) beyond the generic steps in ResourceHandler.
import { CLEANUP_FINALIZER } from '../api/crd/definition.ts'
import { isDNS1123Label } from '../api/names.ts'
import type { Identity } from './resource-handler.ts'
import type { KObject } from './objects.ts'

type Obj = Record<string, any>

function conditions(o: Obj | undefined): Obj[] {
  const list = o?.status?.conditions
  return Array.isArray(list) ? list.filter((c): c is Obj => typeof c === 'object' && c !== null) : []
}

/** A CSR is the request of whoever sent it: the server writes the requester in, and no one creates it approved. */
function prepareCsrForCreate(csr: KObject, identity: Identity): void {
  const spec: Obj = typeof csr.spec === 'object' && csr.spec !== null ? csr.spec : (csr.spec = {})
  delete spec.username
  delete spec.uid
  delete spec.groups
  delete spec.extra
  if (identity.user) spec.username = identity.user
  if (identity.uid) spec.uid = identity.uid
  if (identity.groups.length > 0) spec.groups = [...identity.groups]
  if (identity.extra && Object.keys(identity.extra).length > 0) {
    spec.extra = Object.fromEntries(Object.entries(identity.extra).map(([k, v]) => [k, [...v]]))
  }
  csr.status = {}
}

/** Fills lastUpdateTime, and lastTransitionTime (kept from the same type and status before, else now). */
function populateConditionTimestamps(next: Obj[], old: Obj[], at: string): void {
  for (const c of next) {
    if (!c.lastUpdateTime) c.lastUpdateTime = at
    if (!c.lastTransitionTime) {
      const before = old.find((o) => o.type === c.type && o.status === c.status && o.lastTransitionTime)
      c.lastTransitionTime = before?.lastTransitionTime ?? at
    }
  }
}

/** `/status` keeps the Approved and Denied conditions as they were, where their number did not change (validation catches the rest). */
function preserveApprovals(next: Obj[], old: Obj[]): void {
  for (const type of ['Approved', 'Denied']) {
    const oldIdx = old.flatMap((c, i) => (c.type === type ? [i] : []))
    const newIdx = next.flatMap((c, i) => (c.type === type ? [i] : []))
    if (oldIdx.length !== newIdx.length) continue
    newIdx.forEach((n, i) => (next[n] = structuredClone(old[oldIdx[i]])))
  }
}

function prepareCsrForUpdate(csr: KObject, old: KObject, subresource: string | undefined, at: string): void {
  csr.spec = structuredClone(old.spec)
  if (subresource === undefined) {
    csr.status = structuredClone(old.status)
    return
  }
  const next = conditions(csr)
  if (subresource === 'status') preserveApprovals(next, conditions(old))
  populateConditionTimestamps(next, conditions(old), at)
  if (next.length > 0 || csr.status?.conditions !== undefined) csr.status = { ...(csr.status ?? {}), conditions: next }
}

/** Secret references keep only their names (upstream's cleanSecretReferences). */
function cleanSecretReferences(sa: KObject): void {
  const secrets = (sa as Obj).secrets
  if (!Array.isArray(secrets)) return
  ;(sa as Obj).secrets = secrets.map((s) => (typeof s === 'object' && s !== null && 'name' in s ? { name: s.name } : {}))
}

/**
 * A Job's selector, unless it asks for a manual one (upstream's generateSelector): its pods
 * carry the Job's uid and name, under the legacy and the batch.kubernetes.io/ label keys,
 * and the selector picks the uid. Labels the user set are kept; validation refuses them if
 * they differ.
 */
function generateJobSelector(job: KObject): void {
  const spec: Obj = typeof job.spec === 'object' && job.spec !== null ? job.spec : (job.spec = {})
  if (spec.manualSelector === true) return
  const template: Obj = typeof spec.template === 'object' && spec.template !== null ? spec.template : (spec.template = {})
  const meta: Obj = typeof template.metadata === 'object' && template.metadata !== null ? template.metadata : (template.metadata = {})
  const labels: Obj = typeof meta.labels === 'object' && meta.labels !== null ? meta.labels : (meta.labels = {})
  const { name, uid } = job.metadata
  for (const key of ['job-name', 'batch.kubernetes.io/job-name']) if (!Object.hasOwn(labels, key)) labels[key] = name
  for (const key of ['controller-uid', 'batch.kubernetes.io/controller-uid']) if (!Object.hasOwn(labels, key)) labels[key] = uid
  const selector: Obj = typeof spec.selector === 'object' && spec.selector !== null ? spec.selector : (spec.selector = {})
  const matchLabels: Obj = typeof selector.matchLabels === 'object' && selector.matchLabels !== null ? selector.matchLabels : (selector.matchLabels = {})
  if (!Object.hasOwn(matchLabels, 'batch.kubernetes.io/controller-uid')) matchLabels['batch.kubernetes.io/controller-uid'] = uid
}

/** A volume or claim starts with no status of its own (a new volume Pending since now); its controller writes the rest. */
function resetVolumeStatus(kind: string, obj: KObject): void {
  obj.status = kind === 'PersistentVolume' ? { phase: 'Pending', lastPhaseTransitionTime: stamp(new Date().toISOString()) } : {}
}

/** A volume whose phase changes through its status gets lastPhaseTransitionTime, unless the writer set a new one. */
function stampPhaseTransition(pv: KObject, old: KObject, at: string): void {
  const phase = pv.status?.phase
  if (phase === old.status?.phase) return
  if (pv.status?.lastPhaseTransitionTime && pv.status.lastPhaseTransitionTime !== old.status?.lastPhaseTransitionTime) return
  pv.status = { ...(pv.status ?? {}), lastPhaseTransitionTime: stamp(at) }
}

const stamp = (iso: string): string => iso.replace(/\.\d{3}Z$/, 'Z')

export function prepareForCreate(kind: string, obj: KObject, identity: Identity): void {
  if (kind === 'CertificateSigningRequest') prepareCsrForCreate(obj, identity)
  else if (kind === 'ServiceAccount') cleanSecretReferences(obj)
  else if (kind === 'Job') generateJobSelector(obj)
  else if (kind === 'PersistentVolume' || kind === 'PersistentVolumeClaim') resetVolumeStatus(kind, obj)
  // A quota's usage is the quota system's to count, from nothing.
  else if (kind === 'ResourceQuota') obj.status = {}
  else if (kind === 'CustomResourceDefinition') prepareCrdForCreate(obj)
}

function storageVersionOf(crd: Obj): string | undefined {
  const versions = Array.isArray(crd.spec?.versions) ? crd.spec.versions : []
  const v = versions.find((x: Obj) => x?.storage === true)?.name
  return typeof v === 'string' ? v : undefined
}

/** A new CRD: status is the server's (storedVersions starts with the storage version). */
function prepareCrdForCreate(crd: KObject): void {
  const storage = storageVersionOf(crd)
  crd.status = { conditions: [], acceptedNames: { plural: '', kind: '' }, storedVersions: storage ? [storage] : [] }
}

/**
 * A CRD asked to go (upstream's CRD REST Delete): the cleanup finalizer holds it until its
 * objects are deleted, and a Terminating condition says so.
 */
export function prepareCrdForDelete(crd: KObject, at: string): void {
  const finalizers: string[] = Array.isArray(crd.metadata.finalizers) ? crd.metadata.finalizers : []
  if (!finalizers.includes(CLEANUP_FINALIZER)) crd.metadata.finalizers = [...finalizers, CLEANUP_FINALIZER]
  const status = (crd.status ??= {})
  const conditions = (Array.isArray(status.conditions) ? status.conditions : []).filter((c: Obj) => c?.type !== 'Terminating')
  status.conditions = [...conditions, { type: 'Terminating', status: 'True', lastTransitionTime: at, reason: 'InstanceDeletionPending', message: 'CustomResourceDefinition marked for deletion; CustomResource deletion will begin soon' }]
}

/** A CRD whose storage version changed remembers the new one in status.storedVersions. */
function prepareCrdForUpdate(crd: KObject, old: KObject, subresource: string | undefined): void {
  if (subresource === 'status') return
  crd.status = structuredClone(old.status ?? {})
  const storage = storageVersionOf(crd)
  const stored: string[] = Array.isArray(crd.status.storedVersions) ? crd.status.storedVersions : []
  if (storage && !stored.includes(storage)) crd.status.storedVersions = [...stored, storage]
}

/**
 * `obj` is the object about to be stored (the generic subresource rules already applied),
 * `old` the stored one, `at` the time of the write.
 */
export function prepareForUpdate(kind: string, obj: KObject, old: KObject, subresource: string | undefined, at: string): void {
  if (kind === 'CertificateSigningRequest') prepareCsrForUpdate(obj, old, subresource, at)
  else if (kind === 'ServiceAccount') cleanSecretReferences(obj)
  else if (kind === 'PersistentVolume' && subresource === 'status') stampPhaseTransition(obj, old, at)
  else if (kind === 'CustomResourceDefinition') prepareCrdForUpdate(obj, old, subresource)
}

/** What a create is warned about (upstream's WarningsOnCreate): a Job named unlike a DNS label. */
export function warningsOnCreate(kind: string, obj: KObject): string[] {
  if (kind !== 'Job') return []
  const problems = isDNS1123Label(String(obj.metadata.name ?? ''))
  return problems.length === 0 ? [] : [`metadata.name: this is used in Pod names and hostnames, which can result in surprising behavior; a DNS label is recommended: [${problems.join(' ')}]`]
}
