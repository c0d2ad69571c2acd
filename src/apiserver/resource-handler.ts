// The verbs on a resource: the admission, defaulting, validation and storage steps
// each request goes through, in Kubernetes' order. HTTP concerns stay in server.ts.
import { randomUUID } from 'node:crypto'
import { applyDefaults } from '../api/defaults.ts'
import { matchesFields, parseFieldSelector, type FieldSelector } from '../api/field-selectors.ts'
import { apiVersionOf, resources, subresourceVerbs, type ResourceInfo, type Subresource, type View } from '../api/registry.ts'
import { checkSchema } from '../api/schema.ts'
import { isEverything, labelSelectorFromObject, matchesLabels, parseLabelSelector, selectorToString, type LabelSelector } from '../api/selectors.ts'
import { validateObject, type ValidationHooks } from '../api/validation/index.ts'
import { alreadyExists, ApiError, badRequest, conflict, forbidden, invalid, isConflict, methodNotAllowed, notFound } from '../util/errors.ts'
import type { DeletionGuard } from './protected-objects.ts'
import { serverSideApply, trackUpdate } from './apply.ts'
import type { NamespaceCache } from './namespace-cache.ts'
import { decode, ObjectStore, parseResourceVersion, resourceRef, served, withRevision, type KObject } from './objects.ts'
import { readPath, writePath } from '../api/crd/definition.ts'
import { applyJsonPatch, applyMergePatch } from './patch.ts'
import { deepEqual } from './patch-values.ts'
import type { ResourceRequest } from './request-info.ts'
import { dropTypeDependentFields, type ServiceAllocation } from './service-allocation.ts'
import { applyStrategicMergePatch } from './strategic-merge.ts'
import { prepareCrdForDelete, prepareForCreate, prepareForUpdate, warningsOnCreate } from './strategies.ts'
import { dropNonEphemeralContainerUpdates, ephemeralContainersSubresource } from './ephemeral-containers.ts'

export interface Identity {
  user: string
  uid?: string
  groups: string[]
  extra?: Record<string, string[]>
  userAgent: string
}

export interface AdmissionRequest {
  info: ResourceInfo
  subresource: string | undefined
  obj: KObject
  /** Absent on create. */
  old: KObject | undefined
  identity: Identity
  dryRun: boolean
}

/**
 * kube-apiserver's admission: `mutate` runs after defaulting and may change the object,
 * `validate` runs after validation; either throws an ApiError to refuse the write.
 */
export interface Admission {
  mutate(request: AdmissionRequest): Promise<void> | void
  validate(request: AdmissionRequest): Promise<void> | void
}

export interface WriteOptions {
  query: URLSearchParams
  identity: Identity
  /** Warnings for the `Warning` response header. */
  warnings: string[]
}

type Obj = Record<string, any>

const generationKinds = new Set(['CustomResourceDefinition', 'Pod', 'Service', 'Deployment', 'ReplicaSet', 'ReplicationController', 'DaemonSet', 'HorizontalPodAutoscaler', 'Ingress', 'IngressClass', 'Job', 'CronJob', 'StatefulSet', 'PodDisruptionBudget', 'NetworkPolicy'])
/** Kinds whose status is reset on create (their controllers, kubelets or the server own it); defaults then fill it in. */
const statusResetKinds = new Set(['Deployment', 'ReplicaSet', 'ReplicationController', 'DaemonSet', 'HorizontalPodAutoscaler', 'Ingress', 'Service', 'Pod', 'Namespace', 'Job', 'CronJob', 'StatefulSet', 'PodDisruptionBudget'])
const maxUpdateRetries = 20
/** Items per store read when a client asks for a whole list (no limit). */
const wholeListPiece = 1000

/** The cached copy an update started from may be stale: start again from a read. */
class StaleRead extends Error {}

export function now(): string {
  return new Date().toISOString().replace(/\.\d{3}Z$/, 'Z')
}

const nameAlphabet = 'bcdfghjklmnpqrstvwxz2456789'
function randomSuffix(): string {
  let s = ''
  for (let i = 0; i < 5; i++) s += nameAlphabet[Math.floor(Math.random() * nameAlphabet.length)]
  return s
}

function isObject(value: unknown): value is Obj {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function fieldManagerOf(opts: WriteOptions): string {
  const explicit = opts.query.get('fieldManager')
  if (explicit) {
    if (explicit.length > 128) throw badRequest('fieldManager: Too long: may not be more than 128 bytes')
    return explicit
  }
  return opts.identity.userAgent.split('/')[0] || 'unknown'
}

function isDryRun(query: URLSearchParams): boolean {
  const values = query.getAll('dryRun')
  for (const v of values) if (v !== 'All') throw badRequest(`Invalid dryRun value: "${v}": supported values: "All"`)
  return values.length > 0
}

export interface ListQuery {
  labelSelector: LabelSelector | undefined
  fieldSelector: FieldSelector | undefined
}

export function parseSelectors(info: ResourceInfo, query: URLSearchParams): ListQuery {
  const ls = query.get('labelSelector')
  const fs = query.get('fieldSelector')
  const labelSelector = ls ? parseLabelSelector(ls) : undefined
  const fieldSelector = fs ? parseFieldSelector(fs, info) : undefined
  return {
    labelSelector: labelSelector && !isEverything(labelSelector) ? labelSelector : undefined,
    fieldSelector,
  }
}

export function matchesQuery(q: ListQuery, obj: KObject): boolean {
  if (q.labelSelector && !matchesLabels(q.labelSelector, obj.metadata.labels)) return false
  if (q.fieldSelector && !matchesFields(q.fieldSelector, obj)) return false
  return true
}

/** A listed object: its wire text, and the parsed object once someone needed it. */
export interface ListEntry {
  text: string
  obj?: KObject
}

export interface ObjectList {
  kind: string
  apiVersion: string
  metadata: Obj
  entries: ListEntry[]
}

function withoutRevision(obj: KObject): KObject {
  const { resourceVersion: _rv, ...metadata } = obj.metadata
  return { ...obj, metadata: metadata as KObject['metadata'] }
}

function sameContent(a: KObject, b: KObject, statusApart: boolean): boolean {
  const rest = (o: KObject): Obj => {
    const { metadata: _m, apiVersion: _a, kind: _k, ...others } = o
    if (statusApart) delete others.status
    return others
  }
  return deepEqual(rest(a), rest(b))
}

function sameObject(a: KObject, b: KObject): boolean {
  return deepEqual(withoutRevision(a), withoutRevision(b))
}

/** A stored custom resource as the version asked for serves it. */
function customEntry(info: ResourceInfo, value: string, revision: number): ListEntry {
  const obj = served(info, decode(value, revision))
  return { text: JSON.stringify(obj), obj }
}

export function objectOf(entry: ListEntry): KObject {
  return (entry.obj ??= JSON.parse(entry.text) as KObject)
}

interface ContinueToken {
  rv: number
  start: string
}

function encodeContinue(token: ContinueToken): string {
  return Buffer.from(JSON.stringify({ v: 'meta.k8s.io/v1', ...token })).toString('base64url')
}

function decodeContinue(text: string): ContinueToken {
  try {
    const parsed = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'))
    if (parsed.v === 'meta.k8s.io/v1' && typeof parsed.rv === 'number' && typeof parsed.start === 'string') return parsed
  } catch {}
  throw badRequest('continue key is not valid: send back the continue value from a previous list response unchanged')
}

/**
 * Refuses (405) what no stored object answers: every verb on a create-only kind (its
 * answer is computed in front of this handler) and a verb its subresource does not take.
 */
export function refuseUnserved(r: ResourceRequest): void {
  if (r.info.createOnly) {
    throw methodNotAllowed(`the server does not allow this method on the requested resource: ${r.info.plural} are only answered, never stored`)
  }
  const sub = r.subresource as Subresource | undefined
  if (sub !== undefined && !subresourceVerbs(sub).includes(r.verb)) {
    throw methodNotAllowed(`the server does not allow this method on the requested resource: ${r.info.plural}/${sub} takes ${subresourceVerbs(sub).join(', ')}`)
  }
}

export class ResourceHandler {
  readonly objects: ObjectStore
  readonly services: ServiceAllocation
  readonly namespaces: NamespaceCache
  /** Checks supplied by other modules (the PKI module's parse of a CSR's request). */
  readonly validationHooks: ValidationHooks = {}

  private readonly admission: Admission | undefined
  /** Objects the cluster needs: their deletes are refused. */
  private readonly guard: DeletionGuard | undefined

  constructor(objects: ObjectStore, services: ServiceAllocation, namespaces: NamespaceCache, admission?: Admission, guard?: DeletionGuard) {
    this.guard = guard
    this.objects = objects
    this.services = services
    this.namespaces = namespaces
    this.admission = admission
  }

  async get(r: ResourceRequest): Promise<KObject> {
    refuseUnserved(r)
    return this.objects.mustGet(r.info, r.namespace, r.name!)
  }

  async list(r: ResourceRequest, query: URLSearchParams): Promise<ObjectList> {
    refuseUnserved(r)
    const info = r.info
    const q = parseSelectors(info, query)
    const limit = Number(query.get('limit') ?? 0)
    if (!Number.isInteger(limit) || limit < 0) throw badRequest(`limit must be a non-negative integer, got "${query.get('limit')}"`)
    const cont = query.get('continue')
    let revision: number | undefined
    let startAfter: string | undefined
    if (cont) {
      const token = decodeContinue(cont)
      revision = token.rv
      startAfter = token.start
    } else {
      const rv = parseResourceVersion(query.get('resourceVersion') ?? undefined)
      const match = query.get('resourceVersionMatch')
      if (match !== null && match !== '') {
        if (match !== 'Exact' && match !== 'NotOlderThan') {
          throw invalid('ListOptions', 'meta.k8s.io', '', [{ reason: 'FieldValueNotSupported', field: 'resourceVersionMatch', message: `Unsupported value: "${match}": supported values: "Exact", "NotOlderThan"` }])
        }
        if (rv === undefined) {
          throw invalid('ListOptions', 'meta.k8s.io', '', [{ reason: 'FieldValueForbidden', field: 'resourceVersionMatch', message: 'Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided' }])
        }
        if (match === 'Exact' && rv === 0) {
          throw invalid('ListOptions', 'meta.k8s.io', '', [{ reason: 'FieldValueForbidden', field: 'resourceVersionMatch', message: 'Forbidden: resourceVersionMatch "exact" is forbidden for resourceVersion "0"' }])
        }
      }
      if (rv) await this.objects.checkNotTooLarge(rv)
      if (match === 'Exact') revision = rv
    }
    const filtering = q.labelSelector !== undefined || q.fieldSelector !== undefined
    const entries: ListEntry[] = []
    let listRevision = 0
    let next: string | undefined
    let remaining: number | undefined
    // With selectors a page can come back short: keep reading until it is full or the keys run out.
    // A whole list is read in pieces at the first piece's revision, letting other requests
    // run in between: one JavaScript thread must not stop for a namespace of 10,000 pods.
    for (let pieces = 0; ; pieces++) {
      if (pieces > 0 && !limit) await new Promise((resolve) => setImmediate(resolve))
      const page = await this.objects.list(info, r.namespace, {
        limit: limit ? Math.max(limit - entries.length, filtering ? 500 : 0) : wholeListPiece,
        startAfter,
        revision,
        countRemaining: limit > 0 && !filtering,
      })
      listRevision = page.revision
      revision = page.revision
      let stoppedAt = -1
      for (let i = 0; i < page.items.length; i++) {
        const kv = page.items[i]
        const entry: ListEntry = info.custom ? customEntry(info, kv.value, kv.modRevision) : { text: withRevision(kv.value, kv.modRevision) }
        if (filtering && !matchesQuery(q, objectOf(entry))) continue
        entries.push(entry)
        if (limit && entries.length === limit) {
          stoppedAt = i
          break
        }
      }
      const leftInPage = stoppedAt >= 0 ? page.items.length - stoppedAt - 1 : 0
      if (stoppedAt >= 0 && (page.more || leftInPage > 0)) {
        next = page.items[stoppedAt].key
        if (!filtering && page.remaining !== undefined) remaining = page.remaining + leftInPage
        break
      }
      if (!page.more || page.items.length === 0) break
      startAfter = page.items[page.items.length - 1].key
    }
    const metadata: Obj = { resourceVersion: String(listRevision) }
    if (next !== undefined) {
      metadata.continue = encodeContinue({ rv: listRevision, start: next })
      if (remaining !== undefined && remaining > 0) metadata.remainingItemCount = remaining
    }
    return { kind: info.listKind, apiVersion: apiVersionOf(info), metadata, entries }
  }

  /** Checks apiVersion/kind/namespace of a body, and the schema (strict decoding). */
  private decodeBody(r: ResourceRequest, body: unknown, opts: WriteOptions, kind = r.info.kind, apiVersion = apiVersionOf(r.info)): KObject {
    const info = r.info
    if (!isObject(body)) throw badRequest(`the request body must be a JSON object describing a ${kind}`)
    if (body.apiVersion !== undefined && body.apiVersion !== apiVersion) {
      throw badRequest(`the API version in the data (${body.apiVersion}) does not match the expected API version (${apiVersion})`)
    }
    if (body.kind !== undefined && body.kind !== kind) {
      throw badRequest(`the kind in the data (${body.kind}) does not match the expected kind (${kind})`)
    }
    body.apiVersion = apiVersion
    body.kind = kind
    if (body.metadata === undefined) body.metadata = {}
    if (!isObject(body.metadata)) throw badRequest('metadata must be an object')
    if (info.namespaced && kind === info.kind) {
      const ns = body.metadata.namespace
      if (ns !== undefined && ns !== '' && r.namespace !== undefined && ns !== r.namespace) {
        throw badRequest('the namespace of the provided object does not match the namespace sent on the request')
      }
      body.metadata.namespace = r.namespace ?? ns
    }
    if (kind === info.kind) this.checkFields(info, body, opts)
    return body as KObject
  }

  private checkFields(info: ResourceInfo, body: Obj, opts: WriteOptions): void {
    const mode = opts.query.get('fieldValidation') ?? 'Warn'
    if (!['Strict', 'Warn', 'Ignore'].includes(mode)) {
      throw badRequest(`fieldValidation must be one of "Ignore", "Warn" or "Strict", got "${mode}"`)
    }
    // A custom resource's unknown fields are pruned; its wrong types are 422 causes of its schema's validation.
    const result = info.custom ? { unknown: info.custom.prune(body), wrongType: [] } : checkSchema(info, body)
    if (result.wrongType.length > 0) {
      const first = result.wrongType.map((c) => `${c.field}: ${c.message}`).join(', ')
      throw new ApiError(400, 'BadRequest', `${info.kind} in version "${info.version}" cannot be handled as a ${info.kind}: ${first}`, {
        kind: info.kind,
        causes: result.wrongType,
      })
    }
    if (result.unknown.length === 0 || mode === 'Ignore') return
    if (mode === 'Strict') {
      const list = result.unknown.map((f) => `unknown field "${f}"`)
      throw new ApiError(400, 'BadRequest', `${info.kind} in version "${info.version}" cannot be handled as a ${info.kind}: strict decoding error: ${list.join(', ')}`, {
        kind: info.kind,
        causes: result.unknown.map((f) => ({ reason: 'FieldValueInvalid', field: f, message: `unknown field "${f}"` })),
      })
    }
    for (const f of result.unknown) opts.warnings.push(`unknown field "${f}"`)
  }

  private validate(info: ResourceInfo, obj: KObject, old?: KObject, subresource?: string): void {
    const causes = validateObject(info, obj, old, subresource, this.validationHooks)
    if (causes.length > 0) throw invalid(info.kind, info.group, obj.metadata.name ?? '', causes)
  }

  private async checkNamespace(info: ResourceInfo, obj: KObject): Promise<void> {
    if (!info.namespaced) return
    const ns = await this.namespaces.get(obj.metadata.namespace!)
    if (!ns) throw notFound({ group: '', resource: 'namespaces' }, obj.metadata.namespace!)
    if (ns.metadata.deletionTimestamp || ns.status?.phase === 'Terminating') {
      throw new ApiError(403, 'Forbidden', `${info.plural} "${obj.metadata.name}" is forbidden: unable to create new content in namespace ${ns.metadata.name} because it is being terminated`, {
        name: obj.metadata.name,
        kind: info.plural,
        causes: [{ reason: 'NamespaceTerminating', message: `namespace ${ns.metadata.name} is being terminated`, field: 'metadata.namespace' }],
      })
    }
  }

  async create(r: ResourceRequest, body: unknown, opts: WriteOptions): Promise<KObject> {
    refuseUnserved(r)
    const obj = this.decodeBody(r, body, opts)
    return this.createObject(r.info, obj, opts)
  }

  private async createObject(info: ResourceInfo, obj: KObject, opts: WriteOptions, managed?: (o: KObject) => KObject): Promise<KObject> {
    const meta = obj.metadata
    if (meta.resourceVersion) throw badRequest('resourceVersion should not be set on objects to be created')
    if (!meta.name && meta.generateName) meta.name = ''
    const generated = !meta.name && typeof meta.generateName === 'string'
    if (!meta.name && !generated) {
      throw invalid(info.kind, info.group, '', [{ reason: 'FieldValueRequired', field: 'metadata.name', message: 'Required value: name or generateName is required' }])
    }
    const dryRun = isDryRun(opts.query)
    for (let attempt = 0; ; attempt++) {
      // Only generateName retries reuse the body, so only they need a copy.
      const candidate = generated ? structuredClone(obj) : obj
      if (generated) candidate.metadata.name = candidate.metadata.generateName + randomSuffix()
      try {
        return await this.createOnce(info, candidate, opts, dryRun, managed)
      } catch (err) {
        if (!(generated && err instanceof ApiError && err.reason === 'AlreadyExists' && attempt < 7)) throw err
      }
    }
  }

  private async createOnce(info: ResourceInfo, obj: KObject, opts: WriteOptions, dryRun: boolean, managed?: (o: KObject) => KObject): Promise<KObject> {
    const meta = obj.metadata
    meta.uid = randomUUID()
    meta.creationTimestamp = now()
    delete meta.deletionTimestamp
    delete meta.deletionGracePeriodSeconds
    delete meta.selfLink
    if (generationKinds.has(info.kind) || info.custom) meta.generation = 1
    else delete meta.generation
    if ((statusResetKinds.has(info.kind) && !info.custom) || (info.custom && info.subresources.includes('status'))) delete obj.status
    if (!info.custom) prepareForCreate(info.kind, obj, opts.identity)
    applyDefaults(info, obj)
    const admission = { info, subresource: undefined, obj, old: undefined, identity: opts.identity, dryRun }
    await this.admission?.mutate(admission)
    this.validate(info, obj)
    await this.checkNamespace(info, obj)
    await this.admission?.validate(admission)
    if (!info.custom) opts.warnings.push(...warningsOnCreate(info.kind, obj))
    let result = managed
      ? managed(obj)
      : (trackUpdate(info, undefined, obj, { fieldManager: fieldManagerOf(opts), operation: 'Update', now: meta.creationTimestamp }) as KObject)
    // A dry run answers what the real request would, AlreadyExists included.
    if (dryRun && (await this.objects.get(info, meta.namespace, meta.name))) throw alreadyExists(resourceRef(info), meta.name)
    if (info.kind === 'Service') {
      const plan = await this.services.admit(result, undefined)
      if (dryRun) {
        await this.services.rollback(result, plan)
        return result
      }
      try {
        return await this.objects.create(info, result)
      } catch (err) {
        await this.services.rollback(result, plan)
        throw err
      }
    }
    if (dryRun) return result
    return this.objects.create(info, result)
  }

  async update(r: ResourceRequest, body: unknown, opts: WriteOptions): Promise<KObject> {
    refuseUnserved(r)
    const info = r.info
    const scale = r.subresource === 'scale'
    const incoming = scale
      ? this.decodeBody(r, body, opts, 'Scale', 'autoscaling/v1')
      : this.decodeBody(r, body, opts)
    if (incoming.metadata.name && incoming.metadata.name !== r.name) {
      throw badRequest(`the name of the object (${incoming.metadata.name}) does not match the name on the URL (${r.name})`)
    }
    const precondition = parseResourceVersion(incoming.metadata.resourceVersion)
    return this.guaranteedUpdate(r, opts, precondition, (current) => {
      if (scale) return this.applyScale(info, current, incoming)
      const next = structuredClone(incoming)
      next.metadata.name = r.name!
      return next
    })
  }

  /** Read-modify-write with compare-and-swap, retried on conflicts unless the caller pinned a resourceVersion. */
  async guaranteedUpdate(
    r: ResourceRequest,
    opts: WriteOptions,
    precondition: number | undefined,
    mutate: (current: KObject) => KObject,
    managed?: (old: KObject, next: KObject) => KObject,
  ): Promise<KObject> {
    const info = r.info
    // The first try may start from the store's cached copy (one round trip fewer on etcd);
    // compare-and-swap catches a stale copy, and every later try reads the store.
    let useCache = true
    for (let attempt = 0; ; attempt++) {
      const { obj: current, cached } = useCache
        ? await this.objects.getForUpdate(info, r.namespace, r.name!)
        : { obj: await this.objects.mustGet(info, r.namespace, r.name!), cached: false }
      useCache = false
      const currentRV = Number(current.metadata.resourceVersion)
      if (precondition !== undefined && precondition !== currentRV) {
        if (cached) continue
        throw conflict(resourceRef(info), r.name!, 'the object has been modified; please apply your changes to the latest version and try again')
      }
      try {
        const next = mutate(structuredClone(current))
        return await this.updateObject(r, current, next, opts, managed, cached)
      } catch (err) {
        // Whatever went wrong on a cached copy may be the copy's fault: judge again on a read.
        if (err instanceof StaleRead || (cached && attempt < maxUpdateRetries)) continue
        if (precondition === undefined && isConflict(err) && attempt < maxUpdateRetries) continue
        throw err
      }
    }
  }

  private applyScale(info: ResourceInfo, current: KObject, scale: Obj): KObject {
    const replicas = scale.spec?.replicas
    if (!Number.isInteger(replicas) || replicas < 0) {
      throw invalid('Scale', 'autoscaling', current.metadata.name, [
        { reason: 'FieldValueInvalid', field: 'spec.replicas', message: `Invalid value: ${JSON.stringify(replicas)}: must be greater than or equal to 0` },
      ])
    }
    if (info.custom?.scale) writePath(current, info.custom.scale.specReplicasPath, replicas)
    else current.spec.replicas = replicas
    return current
  }

  private async updateObject(
    r: ResourceRequest,
    old: KObject,
    next: KObject,
    opts: WriteOptions,
    managed?: (old: KObject, next: KObject) => KObject,
    fromCache = false,
  ): Promise<KObject> {
    const info = r.info
    const dryRun = isDryRun(opts.query)
    let obj: KObject
    if (r.subresource === 'status') {
      obj = structuredClone(old)
      obj.status = next.status
      if (next.metadata.managedFields !== undefined) obj.metadata.managedFields = next.metadata.managedFields
    } else if (r.subresource === 'approval') {
      // A CSR's approval: only status.conditions change.
      obj = structuredClone(old)
      obj.status = { ...(old.status ?? {}), conditions: next.status?.conditions }
      if (next.metadata.managedFields !== undefined) obj.metadata.managedFields = next.metadata.managedFields
    } else if (r.subresource === ephemeralContainersSubresource) {
      obj = dropNonEphemeralContainerUpdates(next, old)
    } else if (r.subresource === 'finalize') {
      // Namespaces' finalize: only spec.finalizers changes.
      obj = structuredClone(old)
      obj.spec = { ...(obj.spec ?? {}), finalizers: next.spec?.finalizers ?? [] }
    } else {
      obj = next
      if (info.subresources.includes('status')) {
        if (old.status === undefined) delete obj.status
        else obj.status = structuredClone(old.status)
      }
      // spec.finalizers of a Namespace change only through its finalize subresource.
      if (info.kind === 'Namespace') obj.spec = { ...(obj.spec ?? {}), finalizers: structuredClone(old.spec?.finalizers) }
    }
    const meta = obj.metadata
    const oldMeta = old.metadata
    meta.name = oldMeta.name
    // A cluster-scoped object has no namespace key at all: an undefined one would make a write that changes nothing look like a change.
    if (oldMeta.namespace === undefined) delete meta.namespace
    else meta.namespace = oldMeta.namespace
    meta.uid = oldMeta.uid
    meta.creationTimestamp = oldMeta.creationTimestamp
    if (oldMeta.deletionTimestamp) {
      meta.deletionTimestamp = oldMeta.deletionTimestamp
      meta.deletionGracePeriodSeconds = oldMeta.deletionGracePeriodSeconds
    } else {
      delete meta.deletionTimestamp
      delete meta.deletionGracePeriodSeconds
    }
    if (oldMeta.generation !== undefined) meta.generation = oldMeta.generation
    if (meta.managedFields === undefined && oldMeta.managedFields !== undefined) meta.managedFields = oldMeta.managedFields
    if (oldMeta.deletionTimestamp) {
      const added = (meta.finalizers ?? []).filter((f: string) => !(oldMeta.finalizers ?? []).includes(f))
      if (added.length > 0) {
        throw invalid(info.kind, info.group, meta.name, [
          { reason: 'FieldValueForbidden', field: 'metadata.finalizers', message: `Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers ${JSON.stringify(added)}` },
        ])
      }
    }
    if (!info.custom) prepareForUpdate(info.kind, obj, old, r.subresource, now())
    const allocating = info.kind === 'Service' && r.subresource !== 'status'
    if (allocating) dropTypeDependentFields(obj, old)
    applyDefaults(info, obj)
    const admission = { info, subresource: r.subresource, obj, old, identity: opts.identity, dryRun }
    await this.admission?.mutate(admission)
    this.validate(info, obj, old, r.subresource)
    await this.admission?.validate(admission)
    if (generationKinds.has(info.kind) && !info.custom && r.subresource !== 'status' && JSON.stringify(obj.spec) !== JSON.stringify(old.spec)) {
      meta.generation = (oldMeta.generation ?? 0) + 1
    }
    // A custom resource's generation moves with any change but metadata (and status, when that is a subresource).
    if (info.custom && r.subresource !== 'status' && !sameContent(obj, old, info.subresources.includes('status'))) meta.generation = (oldMeta.generation ?? 0) + 1
    const subresource = r.subresource === 'status' || r.subresource === 'scale' || r.subresource === 'approval' || r.subresource === ephemeralContainersSubresource ? r.subresource : undefined
    obj = managed
      ? managed(old, obj)
      : (trackUpdate(info, old, obj, { fieldManager: fieldManagerOf(opts), operation: 'Update', now: now(), subresource }) as KObject)
    const expected = Number(old.metadata.resourceVersion)
    // An object being deleted whose last finalizer went away is removed now.
    const finished = Boolean(meta.deletionTimestamp) && (obj.metadata.finalizers ?? []).length === 0 && this.mayRemoveNow(info, obj)
    const plan = allocating ? await this.services.admit(obj, old) : undefined
    // A write that changes nothing is no write: same resourceVersion, no watch event.
    if (dryRun || (!finished && sameObject(obj, old))) {
      if (plan) await this.services.rollback(obj, plan)
      // Nothing to write means no compare-and-swap to catch a stale copy: confirm with a read.
      if (!dryRun && fromCache) throw new StaleRead()
      return dryRun ? obj : old
    }
    let saved: KObject
    try {
      saved = await this.objects.update(info, obj, expected)
    } catch (err) {
      if (plan) await this.services.rollback(obj, plan)
      throw err
    }
    if (plan) await this.services.commit(saved, plan)
    return finished ? this.removeFromStore(info, saved) : saved
  }

  private mayRemoveNow(info: ResourceInfo, obj: KObject): boolean {
    // A Namespace also waits for its spec.finalizers (the namespace controller's), and a
    // Pod for its kubelet to confirm with a zero grace period.
    if (info.kind === 'Namespace') return (obj.spec?.finalizers ?? []).length === 0
    if (info.kind === 'Pod') return !obj.spec?.nodeName || obj.metadata.deletionGracePeriodSeconds === 0
    return true
  }

  private async removeFromStore(info: ResourceInfo, obj: KObject): Promise<KObject> {
    const deleted = await this.objects.delete(info, obj, Number(obj.metadata.resourceVersion))
    if (info.kind === 'Service') await this.services.releaseAll(deleted)
    return deleted
  }

  /**
   * `as`: the patch was sent to a view of this stored kind (another version of it): it
   * applies to the object in the view's shape, which is then converted back.
   */
  async patch(r: ResourceRequest, body: Buffer, contentType: string, opts: WriteOptions, parse: (raw: Buffer, type: string) => unknown, as?: { info: ResourceInfo; view: View }): Promise<KObject> {
    refuseUnserved(r)
    const info = r.info
    const type = contentType
    if (type === 'application/apply-patch+yaml' || type === 'application/apply-patch+json') {
      if (r.subresource === 'scale') throw badRequest('server-side apply is not supported on the scale subresource')
      const applied = parse(body, type.endsWith('yaml') ? 'application/yaml' : 'application/json')
      return this.apply(r, as && isObject(applied) ? as.view.toStored(applied) : applied, opts)
    }
    const patchers: Record<string, (doc: unknown, patch: unknown) => unknown> = {
      'application/json-patch+json': applyJsonPatch,
      'application/merge-patch+json': applyMergePatch,
      'application/strategic-merge-patch+json': (doc, patch) => applyStrategicMergePatch(as?.info ?? info, doc, patch),
    }
    const patcher = patchers[type]
    // Custom resources have no patch strategies: upstream's CR handler does not take strategic merge patches.
    if (info.custom && type === 'application/strategic-merge-patch+json') {
      throw new ApiError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml`)
    }
    if (!patcher) {
      throw new ApiError(415, 'UnsupportedMediaType', `the server does not support patches of type ${type}: use one of ${[...Object.keys(patchers), 'application/apply-patch+yaml'].join(', ')}`)
    }
    const patch = parse(body, 'application/json')
    return this.guaranteedUpdate(r, opts, undefined, (current) => {
      const target = r.subresource === 'scale' ? this.scaleOf(info, current) : as ? as.view.fromStored(current as unknown as Obj) : current
      const patched = (r.subresource === 'scale' && type === 'application/strategic-merge-patch+json' ? applyMergePatch : patcher)(target, patch)
      if (!isObject(patched)) throw badRequest('the patch turned the object into something that is not a JSON object')
      if (r.subresource === 'scale') return this.applyScale(info, current, patched)
      const decoded = this.decodeBody(r, as ? as.view.toStored(patched) : patched, opts)
      if (decoded.metadata.name !== current.metadata.name) {
        throw badRequest(`the name of the object (${decoded.metadata.name}) does not match the name on the URL (${r.name})`)
      }
      const rv = decoded.metadata.resourceVersion
      if (rv && rv !== current.metadata.resourceVersion) {
        throw conflict(resourceRef(info), r.name!, 'the object has been modified; please apply your changes to the latest version and try again')
      }
      return decoded
    })
  }

  private async apply(r: ResourceRequest, body: unknown, opts: WriteOptions): Promise<KObject> {
    const info = r.info
    const applied = this.decodeBody(r, body, opts)
    if (applied.metadata.name !== undefined && applied.metadata.name !== r.name) {
      throw badRequest(`the name of the object (${applied.metadata.name}) does not match the name on the URL (${r.name})`)
    }
    applied.metadata.name = r.name!
    const fieldManager = opts.query.get('fieldManager')
    if (!fieldManager) throw badRequest('PATCH, application/apply-patch+yaml: fieldManager is required for apply requests')
    const force = opts.query.get('force') === 'true'
    const applyOpts = { fieldManager, force, now: now(), subresource: r.subresource }
    const existing = await this.objects.get(info, r.namespace, r.name!)
    // A subresource never creates its object (upstream passes forceAllowCreate=false).
    if (!existing && r.subresource) throw notFound(resourceRef(info), r.name!)
    if (!existing) {
      const created = serverSideApply(info, undefined, applied, applyOpts) as KObject
      try {
        return await this.createObject(info, created, opts, (o) => {
          o.metadata.managedFields = created.metadata.managedFields
          return o
        })
      } catch (err) {
        if (!(err instanceof ApiError && err.reason === 'AlreadyExists')) throw err
      }
    }
    const precondition = parseResourceVersion(applied.metadata.resourceVersion)
    return this.guaranteedUpdate(r, opts, precondition, (current) => {
      const forApply = structuredClone(applied)
      delete forApply.metadata.resourceVersion
      return serverSideApply(info, current, forApply, { ...applyOpts, now: now() }) as KObject
    }, (_old, next) => next)
  }

  /** Deletes, or marks for deletion; `gone` says whether the object left the store. */
  async delete(r: ResourceRequest, body: unknown, opts: WriteOptions): Promise<{ obj: KObject; gone: boolean }> {
    refuseUnserved(r)
    const info = r.info
    const options: Obj = isObject(body) ? body : {}
    const q = opts.query
    const propagation = q.get('propagationPolicy') ?? options.propagationPolicy
    if (propagation !== undefined && !['Orphan', 'Background', 'Foreground'].includes(propagation)) {
      throw badRequest(`propagationPolicy: Unsupported value: "${propagation}": supported values: "Foreground", "Background", "Orphan"`)
    }
    const graceText = q.get('gracePeriodSeconds') ?? options.gracePeriodSeconds
    const grace = graceText === undefined || graceText === null ? undefined : Number(graceText)
    if (grace !== undefined && (!Number.isInteger(grace) || grace < 0)) throw badRequest('gracePeriodSeconds must be a non-negative integer')
    const pre: Obj = options.preconditions ?? {}
    const dryRun = isDryRun(q) || (Array.isArray(options.dryRun) && options.dryRun.includes('All'))
    for (let attempt = 0; ; attempt++) {
      const current = await this.objects.mustGet(info, r.namespace, r.name!)
      const needed = this.guard?.(info, r.namespace, r.name!)
      if (needed) throw forbidden(resourceRef(info), r.name!, needed)
      if (pre.uid && pre.uid !== current.metadata.uid) {
        throw conflict(resourceRef(info), r.name!, `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${current.metadata.uid}`)
      }
      if (pre.resourceVersion && pre.resourceVersion !== current.metadata.resourceVersion) {
        throw conflict(resourceRef(info), r.name!, `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${current.metadata.resourceVersion}`)
      }
      try {
        return await this.deleteOnce(info, current, propagation, grace, dryRun)
      } catch (err) {
        if (isConflict(err) && attempt < maxUpdateRetries && !pre.resourceVersion) continue
        throw err
      }
    }
  }

  private async deleteOnce(info: ResourceInfo, current: KObject, propagation: string | undefined, grace: number | undefined, dryRun: boolean): Promise<{ obj: KObject; gone: boolean }> {
    const obj = structuredClone(current)
    const meta = obj.metadata
    if (info.kind === 'CustomResourceDefinition' && !info.custom && !meta.deletionTimestamp) prepareCrdForDelete(obj, now())
    const finalizers: string[] = [...(meta.finalizers ?? [])]
    // Without a policy asked for, a garbage-collector finalizer already on the object
    // decides, else the kind's default: batch/v1 Jobs orphan their pods (upstream's
    // jobStrategy.DefaultGarbageCollectionPolicy, kept for compatibility; kubectl asks for
    // Background).
    const decided = finalizers.includes('foregroundDeletion') || finalizers.includes('orphan')
    const policy = propagation ?? (!decided && info.group === 'batch' && info.kind === 'Job' ? 'Orphan' : undefined)
    const wantFinalizer = policy === 'Foreground' ? 'foregroundDeletion' : policy === 'Orphan' ? 'orphan' : undefined
    let graceful = false
    if (info.kind === 'Pod' && obj.spec?.nodeName) {
      // A bound pod is deleted gracefully: its kubelet stops the containers, then deletes with grace 0.
      const seconds = grace ?? obj.spec.terminationGracePeriodSeconds ?? 30
      if (seconds > 0 && !(meta.deletionTimestamp && meta.deletionGracePeriodSeconds !== undefined && meta.deletionGracePeriodSeconds <= seconds)) {
        graceful = true
        meta.deletionGracePeriodSeconds = seconds
        meta.deletionTimestamp = new Date(Date.now() + seconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z')
      } else if (seconds === 0) {
        meta.deletionGracePeriodSeconds = 0
      }
    }
    // The garbage collector's finalizers follow the latest policy asked for, also while deletion is pending.
    if (policy !== undefined) {
      for (const gc of ['foregroundDeletion', 'orphan']) {
        const idx = finalizers.indexOf(gc)
        if (idx >= 0 && gc !== wantFinalizer) finalizers.splice(idx, 1)
      }
    }
    if (wantFinalizer && !finalizers.includes(wantFinalizer)) finalizers.push(wantFinalizer)
    const namespaceWaits = info.kind === 'Namespace' && (obj.spec?.finalizers ?? []).length > 0
    if (finalizers.length > 0 || graceful || namespaceWaits) {
      if (!meta.deletionTimestamp) {
        meta.deletionTimestamp = now()
        meta.deletionGracePeriodSeconds = meta.deletionGracePeriodSeconds ?? 0
      }
      meta.finalizers = finalizers
      if (finalizers.length === 0) delete meta.finalizers
      if (info.kind === 'Namespace') obj.status = { ...(obj.status ?? {}), phase: 'Terminating' }
      if (dryRun || sameObject(obj, current)) return { obj: dryRun ? obj : current, gone: false }
      return { obj: await this.objects.update(info, obj, Number(current.metadata.resourceVersion)), gone: false }
    }
    if (dryRun) return { obj: current, gone: true }
    return { obj: await this.removeFromStore(info, current), gone: true }
  }

  async deleteCollection(r: ResourceRequest, body: unknown, opts: WriteOptions): Promise<Obj> {
    refuseUnserved(r)
    const list = await this.list(r, opts.query)
    const items: KObject[] = []
    for (const item of list.entries.map(objectOf)) {
      if (this.guard?.(r.info, item.metadata.namespace, item.metadata.name)) {
        opts.warnings.push(`${r.info.plural} "${item.metadata.name}" was kept: ${this.guard(r.info, item.metadata.namespace, item.metadata.name)}`)
        continue
      }
      try {
        items.push((await this.delete({ ...r, name: item.metadata.name, namespace: item.metadata.namespace, verb: 'delete' }, body, opts)).obj)
      } catch (err) {
        if (!(err instanceof ApiError && err.code === 404)) throw err
      }
    }
    return { kind: list.kind, apiVersion: list.apiVersion, metadata: list.metadata, items }
  }

  scaleOf(info: ResourceInfo, obj: KObject): Obj {
    if (info.custom?.scale) return customScale(info.custom.scale, obj)
    // A ReplicationController's selector is a plain label map.
    const selector = info.kind === 'ReplicationController' && obj.spec?.selector ? { matchLabels: obj.spec.selector } : obj.spec?.selector
    const selectorText = selector ? selectorToString(labelSelectorFromObject(selector)) : ''

    return {
      kind: 'Scale',
      apiVersion: 'autoscaling/v1',
      metadata: {
        name: obj.metadata.name,
        namespace: obj.metadata.namespace,
        uid: obj.metadata.uid,
        resourceVersion: obj.metadata.resourceVersion,
        creationTimestamp: obj.metadata.creationTimestamp,
      },
      spec: { replicas: obj.spec?.replicas ?? 0 },
      status: { replicas: obj.status?.replicas ?? 0, selector: selectorText },
    }
  }

  /**
   * POST pods/{name}/binding: sets spec.nodeName once, as upstream's BindingREST: the
   * Binding's uid and resourceVersion (when given) are preconditions on the pod, so a
   * binding meant for a pod that was deleted and re-created under the same name fails; a
   * pod still gated (spec.schedulingGates) cannot be bound.
   */
  async bind(r: ResourceRequest, body: unknown, opts: WriteOptions): Promise<Obj> {
    refuseUnserved(r)
    if (!isObject(body) || !isObject(body.target) || typeof body.target.name !== 'string' || !body.target.name) {
      throw invalid('Binding', '', r.name!, [{ reason: 'FieldValueRequired', field: 'target.name', message: 'Required value' }])
    }
    const node = body.target.name
    const meta = isObject(body.metadata) ? body.metadata : {}
    const uid = typeof meta.uid === 'string' && meta.uid ? meta.uid : undefined
    const resourceVersion = typeof meta.resourceVersion === 'string' && meta.resourceVersion ? meta.resourceVersion : undefined
    const bindingRef = { group: '', resource: 'pods/binding' }
    await this.guaranteedUpdate({ ...r, subresource: undefined }, opts, undefined, (pod) => {
      if (uid !== undefined && pod.metadata.uid !== uid) throw conflict(resourceRef(r.info), r.name!, `Precondition failed: UID in precondition: ${uid}, UID in object meta: ${pod.metadata.uid ?? ''}`)
      if (resourceVersion !== undefined && pod.metadata.resourceVersion !== resourceVersion) {
        throw conflict(resourceRef(r.info), r.name!, `Precondition failed: ResourceVersion in precondition: ${resourceVersion}, ResourceVersion in object meta: ${pod.metadata.resourceVersion ?? ''}`)
      }
      if (pod.metadata.deletionTimestamp) throw conflict(bindingRef, r.name!, `pod ${r.name} is being deleted, cannot be assigned to a host`)
      if (pod.spec.nodeName) throw conflict(bindingRef, r.name!, `pod ${r.name} is already assigned to node "${pod.spec.nodeName}"`)
      if (Array.isArray(pod.spec.schedulingGates) && pod.spec.schedulingGates.length > 0) throw conflict(bindingRef, r.name!, `pod ${r.name} has non-empty .spec.schedulingGates`)
      pod.spec.nodeName = node
      if (isObject(pod.status) && pod.status.nominatedNodeName) delete pod.status.nominatedNodeName
      if (isObject(meta.annotations)) pod.metadata.annotations = { ...(pod.metadata.annotations ?? {}), ...meta.annotations }
      return pod
    })
    return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code: 201 }
  }
}


/** The Scale of a custom resource, read from the paths its CRD names. */
function customScale(paths: { specReplicasPath: string; statusReplicasPath: string; labelSelectorPath?: string }, obj: KObject): Obj {
  const number = (v: unknown) => (typeof v === 'number' ? v : 0)
  const selector = paths.labelSelectorPath ? readPath(obj, paths.labelSelectorPath) : undefined
  return {
    kind: 'Scale',
    apiVersion: 'autoscaling/v1',
    metadata: {
      name: obj.metadata.name,
      namespace: obj.metadata.namespace,
      uid: obj.metadata.uid,
      resourceVersion: obj.metadata.resourceVersion,
      creationTimestamp: obj.metadata.creationTimestamp,
    },
    spec: { replicas: number(readPath(obj, paths.specReplicasPath)) },
    status: { replicas: number(readPath(obj, paths.statusReplicasPath)), selector: typeof selector === 'string' ? selector : '' },
  }
}
