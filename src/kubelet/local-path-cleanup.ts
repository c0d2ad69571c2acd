// The agent's part in deleting local-path volumes: only the agent of the node that holds a
// volume's directory can remove it. It watches the local-path volumes labelled for its node;
// one being deleted, once its other finalizers are gone (pv-protection lets go only of an
// unbound volume), loses its directory if its policy is Delete (Retain keeps the data), then
// the cleanup finalizer, which lets the API server remove it.
import type { V1PersistentVolume } from '@kubernetes/client-node'
import { rm } from 'node:fs/promises'
import { basename, dirname, resolve } from 'node:path'
import { resources } from '../api/registry.ts'
import { LOCAL_PATH_CLEANUP_FINALIZER, LOCAL_PATH_NODE_LABEL } from '../api/storage.ts'
import { Informer, type RestClient } from '../client/index.ts'
import type { Logger } from '../util/log.ts'

const pvInfo = resources.find((r) => r.kind === 'PersistentVolume')!

export type CleanupStep = { remove: string } | { release: true; keptBecause: string }

/** What the agent of `nodeName` does about the volume now, if anything. */
export function cleanupStep(pv: V1PersistentVolume, nodeName: string, storageDir: string): CleanupStep | undefined {
  const meta = pv.metadata
  if (meta?.labels?.[LOCAL_PATH_NODE_LABEL] !== nodeName || !meta.deletionTimestamp) return undefined
  const finalizers = meta.finalizers ?? []
  if (!finalizers.includes(LOCAL_PATH_CLEANUP_FINALIZER) || finalizers.length > 1) return undefined
  if (pv.spec?.persistentVolumeReclaimPolicy !== 'Delete') return { release: true, keptBecause: `its reclaim policy is ${pv.spec?.persistentVolumeReclaimPolicy ?? 'Retain'}` }
  const path = pv.spec.hostPath?.path ?? pv.spec.local?.path
  // Only a directory this agent made for this volume is ever removed: `<storage dir>/<volume>_…`.
  if (!path || dirname(resolve(path)) !== resolve(storageDir) || !basename(path).startsWith(`${meta.name}_`)) {
    return { release: true, keptBecause: `its path ${JSON.stringify(path ?? '')} is not a local-path directory of this node (${resolve(storageDir)}/${meta.name}_…)` }
  }
  return { remove: resolve(path) }
}

export interface LocalPathCleanerOptions {
  client: RestClient
  nodeName: string
  storageDir: string
  log: Logger
}

export class LocalPathCleaner {
  readonly #o: LocalPathCleanerOptions
  readonly #informer: Informer<V1PersistentVolume>
  /** Volumes being worked on, and those to retry (after a failure). */
  readonly #busy = new Set<string>()
  readonly #retries = new Map<string, NodeJS.Timeout>()

  constructor(options: LocalPathCleanerOptions) {
    this.#o = options
    this.#informer = new Informer<V1PersistentVolume>(options.client, pvInfo, { labelSelector: `${LOCAL_PATH_NODE_LABEL}=${options.nodeName}`, logger: options.log })
    this.#informer.addHandlers({ onAdd: (pv) => this.#consider(pv), onUpdate: (_o, pv) => this.#consider(pv) })
  }

  start(): void {
    this.#informer.start()
  }

  async stop(): Promise<void> {
    for (const t of this.#retries.values()) clearTimeout(t)
    this.#retries.clear()
    await this.#informer.stop()
  }

  #consider(pv: V1PersistentVolume, attempt = 0): void {
    const name = pv.metadata!.name!
    const step = cleanupStep(pv, this.#o.nodeName, this.#o.storageDir)
    if (!step || this.#busy.has(name)) return
    this.#busy.add(name)
    void this.#run(pv, step)
      .catch((err: unknown) => {
        this.#o.log.warn({ err, volume: name }, 'cannot clean up a local-path volume; retrying')
        const delay = Math.min(1000 * 2 ** attempt, 60_000)
        this.#retries.set(name, setTimeout(() => {
          this.#retries.delete(name)
          const current = this.#informer.get(name)
          if (current) this.#consider(current, attempt + 1)
        }, delay))
      })
      .finally(() => this.#busy.delete(name))
  }

  async #run(pv: V1PersistentVolume, step: CleanupStep): Promise<void> {
    if ('remove' in step) {
      await rm(step.remove, { recursive: true, force: true })
      this.#o.log.info({ volume: pv.metadata?.name, path: step.remove }, 'removed a local-path volume')
    } else {
      this.#o.log.info({ volume: pv.metadata?.name, why: step.keptBecause }, 'kept the data of a deleted local-path volume')
    }
    const next = structuredClone(pv)
    next.metadata!.finalizers = (pv.metadata?.finalizers ?? []).filter((f) => f !== LOCAL_PATH_CLEANUP_FINALIZER)
    await this.#o.client.update(pvInfo, next as never)
  }
}
