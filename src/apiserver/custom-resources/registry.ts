// The custom resources one API server serves, kept in step with the stored
// CustomResourceDefinitions (a store feed, so servers sharing etcd agree), and the
// apiextensions controllers upstream runs beside them: naming (NamesAccepted,
// status.acceptedNames), establishing (Established) and cleanup (a deleted CRD's objects go,
// then its finalizer).
import { CLEANUP_FINALIZER, CRD_GROUP } from '../../api/crd/definition.ts'
import { customResourceInfos, requestedNames } from '../../api/crd/resources.ts'
import { findByPlural, resources, type ResourceInfo } from '../../api/registry.ts'
import { isConflict, isNotFound } from '../../util/errors.ts'
import type { Logger } from '../../util/log.ts'
import type { KObject, ObjectStore } from '../objects.ts'
import { prefixOf } from '../objects.ts'
import type { ResourceHandler, WriteOptions } from '../resource-handler.ts'
import type { ResourceRequest } from '../request-info.ts'
import { StoreFeed } from '../store-feed.ts'
import { customDocument, customDocumentForV2, documentHash } from './openapi.ts'

type Obj = Record<string, any>

export const crdInfo = resources.find((r) => r.group === CRD_GROUP && r.kind === 'CustomResourceDefinition')!

interface Served {
  crd: KObject
  infos: ResourceInfo[]
}

function condition(type: string, status: 'True' | 'False', reason: string, message: string, old: Obj[], at: string): Obj {
  const before = old.find((c) => c.type === type)
  const lastTransitionTime = before && before.status === status && before.lastTransitionTime ? before.lastTransitionTime : at
  return { type, status, lastTransitionTime, reason, message }
}

function now(): string {
  return new Date().toISOString().replace(/\.\d{3}Z$/, 'Z')
}

export class CustomResources {
  private readonly objects: ObjectStore
  private readonly handler: ResourceHandler
  private readonly log: Logger
  private readonly feed: StoreFeed
  private readonly served = new Map<string, Served>()
  private readonly cleaning = new Set<string>()
  private readonly statusWrites = new Map<string, Promise<void>>()
  /** Bumped on every change of what is served: the OpenAPI documents are built again after one. */
  private revision = 0
  private documents: { revision: number; v3: Map<string, { doc: Obj; hash: string }>; v2: Obj[] } | undefined

  constructor(objects: ObjectStore, handler: ResourceHandler, log: Logger) {
    this.objects = objects
    this.handler = handler
    this.log = log
    this.feed = new StoreFeed(objects.store, crdInfo, { upsert: (crd) => this.upsert(crd), remove: (crd) => this.remove(crd) }, log)
  }

  start(): Promise<void> {
    return this.feed.start()
  }

  stop(): void {
    this.feed.stop()
  }

  /** The resource a request path names, among the custom resources served. */
  find(group: string, version: string, plural: string): ResourceInfo | undefined {
    for (const s of this.served.values()) {
      for (const info of s.infos) if (info.group === group && info.version === version && info.plural === plural) return info
    }
    return undefined
  }

  /** Whether the CRD serving `info` is being deleted (its resources then take no creates). */
  terminating(info: ResourceInfo): boolean {
    const crd = info.custom ? this.served.get(info.custom.crd)?.crd : undefined
    return Boolean(crd?.metadata.deletionTimestamp)
  }

  /** Every custom resource served, each CRD's preferred version first. */
  all(): ResourceInfo[] {
    return [...this.served.values()].flatMap((s) => s.infos)
  }

  /**
   * A CRD as stored now (from the feed, or straight after this server wrote it, so a client
   * that created it may use its resources at once): serve it, write its status, clean up.
   */
  upsert(crd: KObject): void {
    const name = crd.metadata.name
    const current = this.served.get(name)
    if (current && Number(current.crd.metadata.resourceVersion) > Number(crd.metadata.resourceVersion)) return
    const conflict = this.nameConflict(crd)
    const infos = conflict ? [] : customResourceInfos(crd)
    this.served.set(name, { crd, infos })
    this.revision++
    if (crd.metadata.deletionTimestamp) {
      void this.cleanUp(crd)
      return
    }
    void this.writeStatus(crd, conflict)
  }

  remove(crd: KObject): void {
    if (this.served.delete(crd.metadata.name)) this.revision++
  }

  /** Names another CRD of the group already has, or a built-in resource's. */
  private nameConflict(crd: KObject): { reason: string; message: string } | undefined {
    const group = String(crd.spec?.group ?? '')
    const names = requestedNames(crd)
    for (const other of this.served.values()) {
      if (other.crd.metadata.name === crd.metadata.name || other.crd.spec?.group !== group || other.infos.length === 0) continue
      const taken = other.infos[0]
      if (taken.plural === names.plural) return { reason: 'PluralConflict', message: `"${names.plural}" is already in use` }
      if (taken.singular === names.singular) return { reason: 'SingularConflict', message: `"${names.singular}" is already in use` }
      if (taken.kind === names.kind) return { reason: 'KindConflict', message: `"${names.kind}" is already in use` }
      if (taken.listKind === names.listKind) return { reason: 'ListKindConflict', message: `"${names.listKind}" is already in use` }
      const short = names.shortNames.find((s) => taken.shortNames.includes(s))
      if (short) return { reason: 'ShortNamesConflict', message: `"${short}" is already in use` }
    }
    for (const v of Array.isArray(crd.spec?.versions) ? crd.spec.versions : []) {
      if (findByPlural(group, String(v?.name), names.plural)) return { reason: 'PluralConflict', message: `"${names.plural}" is already in use` }
    }
    return undefined
  }

  private options(): WriteOptions {
    return { query: new URLSearchParams(), identity: { user: 'system:apiserver', groups: ['system:masters'], userAgent: 'weft-apiextensions-controller' }, warnings: [] }
  }

  private request(name: string, subresource?: string): ResourceRequest {
    return { kind: 'resource', info: crdInfo, namespace: undefined, name, subresource, verb: 'update' }
  }

  /** NamesAccepted, Established and acceptedNames as upstream's naming and establishing controllers write them. */
  private async writeStatus(crd: KObject, conflict: { reason: string; message: string } | undefined): Promise<void> {
    const name = crd.metadata.name
    const previous = this.statusWrites.get(name) ?? Promise.resolve()
    const write = previous.then(async () => {
      try {
        await this.handler.guaranteedUpdate(this.request(name, 'status'), this.options(), undefined, (current) => {
          const at = now()
          const status: Obj = current.status ?? {}
          const old: Obj[] = Array.isArray(status.conditions) ? status.conditions : []
          const names = requestedNames(current)
          const accepted = conflict ? status.acceptedNames ?? { plural: '', kind: '' } : { plural: names.plural, singular: names.singular, kind: names.kind, listKind: names.listKind, ...(names.shortNames.length ? { shortNames: names.shortNames } : {}), ...(names.categories.length ? { categories: names.categories } : {}) }
          const conditions = [
            conflict ? condition('NamesAccepted', 'False', conflict.reason, conflict.message, old, at) : condition('NamesAccepted', 'True', 'NoConflicts', 'no conflicts found', old, at),
            conflict ? condition('Established', 'False', 'NotAccepted', 'not all names are accepted', old, at) : condition('Established', 'True', 'InitialNamesAccepted', 'the initial names have been accepted', old, at),
            ...old.filter((c) => c.type !== 'NamesAccepted' && c.type !== 'Established'),
          ]
          current.status = { ...status, conditions, acceptedNames: accepted }
          return current
        })
      } catch (err) {
        if (!isNotFound(err) && !isConflict(err)) this.log.warn({ err, crd: name }, 'writing the status of a CustomResourceDefinition failed')
      }
    })
    this.statusWrites.set(name, write)
    await write
    if (this.statusWrites.get(name) === write) this.statusWrites.delete(name)
  }

  /** A deleted CRD: every object of it is deleted, then the cleanup finalizer goes (and the CRD with it). */
  private async cleanUp(crd: KObject): Promise<void> {
    const name = crd.metadata.name
    if (this.cleaning.has(name) || !(crd.metadata.finalizers ?? []).includes(CLEANUP_FINALIZER)) return
    this.cleaning.add(name)
    try {
      const infos = customResourceInfos(crd)
      const info = infos[0]
      if (info) {
        // Every version shares one key prefix: the storage version's objects, all namespaces.
        for (;;) {
          const page = await this.objects.list(info, undefined, { limit: 500 })
          if (page.items.length === 0) break
          for (const kv of page.items) {
            await this.objects.store.delete(kv.key).catch((err: unknown) => this.log.debug({ err, key: kv.key }, 'custom resource already gone'))
          }
          if (!page.more && page.items.length < 500) {
            const rest = await this.objects.list(info, undefined, { limit: 1 })
            if (rest.items.length === 0) break
          }
        }
        this.log.info({ crd: name, prefix: prefixOf(info) }, 'custom resources of a deleted CustomResourceDefinition removed')
      }
      await this.handler.guaranteedUpdate(this.request(name), this.options(), undefined, (current) => {
        current.metadata.finalizers = (current.metadata.finalizers ?? []).filter((f: string) => f !== CLEANUP_FINALIZER)
        if (current.metadata.finalizers.length === 0) delete current.metadata.finalizers
        return current
      })
    } catch (err) {
      if (!isNotFound(err)) this.log.warn({ err, crd: name }, 'removing the objects of a deleted CustomResourceDefinition failed')
    } finally {
      this.cleaning.delete(name)
    }
  }

  private built(): { v3: Map<string, { doc: Obj; hash: string }>; v2: Obj[] } {
    if (this.documents?.revision === this.revision) return this.documents
    const byGv = new Map<string, ResourceInfo[]>()
    for (const info of this.all()) {
      const path = `apis/${info.group}/${info.version}`
      byGv.set(path, [...(byGv.get(path) ?? []), info])
    }
    const v3 = new Map<string, { doc: Obj; hash: string }>()
    const v2: Obj[] = []
    for (const [path, infos] of [...byGv].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      const doc = customDocument(infos)
      v3.set(path, { doc, hash: documentHash(doc) })
      v2.push(customDocumentForV2(doc, infos.map((i) => i.model)))
    }
    this.documents = { revision: this.revision, v3, v2 }
    return this.documents
  }

  /** The v3 documents of the custom resources' group versions, by path (`apis/<group>/<version>`). */
  openApiV3(): Map<string, { doc: Obj; hash: string }> {
    return this.built().v3
  }

  /** The documents to merge into /openapi/v2, and a key that changes with them. */
  openApiV2(): { key: string; docs: Obj[] } {
    const { v2 } = this.built()
    return { key: `crd-${this.revision}`, docs: v2 }
  }
}
