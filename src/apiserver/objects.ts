// Kubernetes objects over the key-value Store: key layout, JSON encoding, and
// `metadata.resourceVersion` taken from the store revision.
import type { ResourceInfo } from '../api/registry.ts'
import { isStoreError, type KeyValue, type ListOptions, type Store } from '../store/store.ts'
import { alreadyExists, ApiError, badRequest, conflict, expired, notFound } from '../util/errors.ts'

/** A Kubernetes object as JSON: typed loosely on purpose, fields weft does not know are kept. */
export type KObject = Record<string, any> & { metadata: ObjectMeta }

export interface ObjectMeta extends Record<string, any> {
  name: string
  namespace?: string
  uid?: string
  resourceVersion?: string
  labels?: Record<string, string>
  annotations?: Record<string, string>
  finalizers?: string[]
  deletionTimestamp?: string
}

export function resourceRef(info: ResourceInfo): { group: string; resource: string } {
  return { group: info.group, resource: info.plural }
}

/** `/registry/<group>/<plural>/[<namespace>/]` */
export function prefixOf(info: ResourceInfo, namespace?: string): string {
  const base = `/registry/${info.group || 'core'}/${info.plural}/`
  return info.namespaced && namespace ? `${base}${namespace}/` : base
}

export function keyOf(info: ResourceInfo, namespace: string | undefined, name: string): string {
  return prefixOf(info, namespace) + name
}

// Stored values always begin with the metadata, so resourceVersion can be spliced into
// the text at a fixed place: lists and watches send stored text without parsing it.
const storedHead = '{"metadata":{'

export function encode(obj: KObject): string {
  const { resourceVersion: _rv, ...metadata } = obj.metadata
  const { metadata: _m, ...rest } = obj
  return JSON.stringify({ metadata, ...rest })
}

/** The stored text with `metadata.resourceVersion` set to `revision`. */
export function withRevision(value: string, revision: number): string {
  if (!value.startsWith(storedHead)) {
    const obj = JSON.parse(value) as KObject
    obj.metadata = { ...obj.metadata, resourceVersion: String(revision) }
    return JSON.stringify(obj)
  }
  const sep = value.charCodeAt(storedHead.length) === 125 /* } */ ? '' : ','
  return `${storedHead}"resourceVersion":"${revision}"${sep}${value.slice(storedHead.length)}`
}

/** Decodes a stored value, stamping the revision it was read at as resourceVersion. */
export function decode(value: string, revision: number): KObject {
  const obj = JSON.parse(value) as KObject
  obj.metadata.resourceVersion = String(revision)
  return obj
}

/** The object as written, with the revision of the write: no need to parse back what was just stored. */
function stamped(obj: KObject, revision: number): KObject {
  return { ...obj, metadata: { ...obj.metadata, resourceVersion: String(revision) } }
}

export function fromKeyValue(kv: KeyValue): KObject {
  return decode(kv.value, kv.modRevision)
}

export function parseResourceVersion(rv: string | undefined, what = 'resourceVersion'): number | undefined {
  if (rv === undefined || rv === '') return undefined
  if (!/^\d+$/.test(rv)) throw badRequest(`invalid ${what}: "${rv}" is not a resource version this server issued`)
  return Number(rv)
}

/** A custom resource is stored in its CRD's storage version and served in the version asked for. */
export function served(info: ResourceInfo, obj: KObject): KObject {
  return info.custom ? info.custom.fromStored(obj) : obj
}

function stored(info: ResourceInfo, obj: KObject): KObject {
  return info.custom ? info.custom.toStored(obj) : obj
}

export class ObjectStore {
  readonly store: Store

  constructor(store: Store) {
    this.store = store
  }

  async get(info: ResourceInfo, namespace: string | undefined, name: string): Promise<KObject | undefined> {
    const kv = await this.store.get(keyOf(info, namespace, name))
    return kv ? served(info, fromKeyValue(kv)) : undefined
  }

  /** For an optimistic update: the store's cached copy when it has one (`cached`), else a read. */
  async getForUpdate(info: ResourceInfo, namespace: string | undefined, name: string): Promise<{ obj: KObject; cached: boolean }> {
    const kv = this.store.getCached?.(keyOf(info, namespace, name))
    if (kv) return { obj: served(info, fromKeyValue(kv)), cached: true }
    return { obj: await this.mustGet(info, namespace, name), cached: false }
  }

  async mustGet(info: ResourceInfo, namespace: string | undefined, name: string): Promise<KObject> {
    const obj = await this.get(info, namespace, name)
    if (!obj) throw notFound(resourceRef(info), name)
    return obj
  }

  async create(info: ResourceInfo, obj: KObject): Promise<KObject> {
    try {
      const kv = await this.store.create(keyOf(info, obj.metadata.namespace, obj.metadata.name), encode(stored(info, obj)))
      return stamped(obj, kv.modRevision)
    } catch (err) {
      if (isStoreError(err, 'KeyExists')) throw alreadyExists(resourceRef(info), obj.metadata.name)
      throw err
    }
  }

  /** Compare-and-swap on `expectedRevision`. */
  async update(info: ResourceInfo, obj: KObject, expectedRevision: number): Promise<KObject> {
    try {
      const kv = await this.store.update(keyOf(info, obj.metadata.namespace, obj.metadata.name), encode(stored(info, obj)), expectedRevision)
      return stamped(obj, kv.modRevision)
    } catch (err) {
      if (isStoreError(err, 'Conflict')) {
        throw conflict(resourceRef(info), obj.metadata.name, 'the object has been modified; please apply your changes to the latest version and try again')
      }
      if (isStoreError(err, 'KeyNotFound')) throw notFound(resourceRef(info), obj.metadata.name)
      throw err
    }
  }

  async delete(info: ResourceInfo, obj: KObject, expectedRevision?: number): Promise<KObject> {
    try {
      const kv = await this.store.delete(keyOf(info, obj.metadata.namespace, obj.metadata.name), expectedRevision)
      return served(info, fromKeyValue(kv))
    } catch (err) {
      if (isStoreError(err, 'Conflict')) {
        throw conflict(resourceRef(info), obj.metadata.name, 'the object has been modified; please apply your changes to the latest version and try again')
      }
      if (isStoreError(err, 'KeyNotFound')) throw notFound(resourceRef(info), obj.metadata.name)
      throw err
    }
  }

  /** A resourceVersion from the future: Kubernetes answers 504 with ResourceVersionTooLarge so clients retry. */
  async checkNotTooLarge(rv: number): Promise<void> {
    const current = await this.store.currentRevision()
    if (rv > current) {
      throw new ApiError(504, 'Timeout', `Too large resource version: ${rv}, current: ${current}`, {
        causes: [{ reason: 'ResourceVersionTooLarge', message: 'Too large resource version' }],
        retryAfterSeconds: 1,
      })
    }
  }

  /** One page of stored values (not decoded: callers decide whether they need objects). */
  async list(info: ResourceInfo, namespace: string | undefined, options: ListOptions = {}) {
    try {
      return await this.store.list(prefixOf(info, namespace), options)
    } catch (err) {
      if (isStoreError(err, 'Compacted')) {
        throw expired(`The resourceVersion for the provided list is too old.`)
      }
      throw err
    }
  }
}
