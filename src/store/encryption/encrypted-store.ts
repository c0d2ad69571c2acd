// A Store that encrypts the values of configured resources at rest. Values under a
// configured resource are encrypted on create/update and decrypted on every read (get,
// getCached, list, watch values and prevValues, delete's last value, Conflict's current
// value); other keys pass through as they are (reads still refuse a `k8s:enc:` value, as
// upstream's default identity transformer does). Revisions and errors are the inner
// store's.
//
// A value that does not decrypt fails its read with EncryptionError 'TransformFailed'
// naming the key (the API server answers 500 "Internal error occurred: unable to transform
// key …"). A list fails as a whole, as upstream's does: a list that silently left the
// item out would tell every informer the object was deleted. A watch that meets such a
// value ends with that error (upstream sends an error event and closes the watch); the
// client's relist then fails naming the key.
import { isStoreError, StoreError } from '../store.ts'
import type { KeyValue, ListOptions, ListResult, Store, Watch, WatchEvent, WatchHandlers } from '../store.ts'
import type { EncryptionConfig } from './config.ts'
import { EncryptionError, isEncryptionError, transformFailed } from './errors.ts'
import { EncryptionPlan, outermostPrefixes } from './plan.ts'

export interface RewriteResult {
  /** Values written again with the current write provider and key. */
  rewritten: number
  /** Values examined. */
  total: number
}

const REWRITE_PAGE = 500
const REWRITE_ATTEMPTS = 20

export class EncryptedStore implements Store {
  readonly backend: Store['backend']
  readonly inner: Store
  readonly plan: EncryptionPlan
  readonly getCached?: (key: string) => KeyValue | undefined
  /** The inner store's snapshot: values stay encrypted in it, as they are stored. */
  readonly snapshot?: Store['snapshot']

  constructor(inner: Store, config: EncryptionConfig | EncryptionPlan) {
    this.inner = inner
    this.backend = inner.backend
    this.plan = config instanceof EncryptionPlan ? config : new EncryptionPlan(config)
    this.snapshot = inner.snapshot?.bind(inner)
    const cached = inner.getCached?.bind(inner)
    if (cached !== undefined) {
      // A cached copy is only a hint for compare-and-swap: one that does not decrypt reads as
      // absent, and the caller's get() then reports the failure.
      this.getCached = (key) => {
        const kv = cached(key)
        if (kv === undefined) return undefined
        try {
          return this.#readKv(kv)
        } catch {
          return undefined
        }
      }
    }
  }

  async get(key: string): Promise<KeyValue | undefined> {
    const kv = await this.inner.get(key)
    return kv === undefined ? undefined : this.#readKv(kv)
  }

  async list(prefix: string, options?: ListOptions): Promise<ListResult> {
    const result = await this.inner.list(prefix, options)
    return { ...result, items: result.items.map((kv) => this.#readKv(kv)) }
  }

  count(prefix: string): Promise<number> {
    return this.inner.count(prefix)
  }

  async create(key: string, value: string): Promise<KeyValue> {
    const kv = await this.inner.create(key, this.#write(key, value))
    return { ...kv, value }
  }

  async update(key: string, value: string, expectedModRevision: number): Promise<KeyValue> {
    try {
      const kv = await this.inner.update(key, this.#write(key, value), expectedModRevision)
      return { ...kv, value }
    } catch (err) {
      throw this.#decryptedConflict(err)
    }
  }

  async delete(key: string, expectedModRevision?: number): Promise<KeyValue> {
    let kv: KeyValue
    try {
      kv = await this.inner.delete(key, expectedModRevision)
    } catch (err) {
      throw this.#decryptedConflict(err)
    }
    try {
      return this.#readKv(kv)
    } catch (err) {
      throw new EncryptionError('TransformFailed', `${(err as Error).message} (the key was deleted)`)
    }
  }

  watch(prefix: string, afterRevision: number, handlers: WatchHandlers): Watch {
    let ended = false
    let watch: Watch | undefined
    watch = this.inner.watch(prefix, afterRevision, {
      onEvent: (ev) => {
        if (ended) return
        let out: WatchEvent
        try {
          out = this.#readEvent(ev)
        } catch (err) {
          ended = true
          watch?.cancel()
          handlers.onError(err as Error)
          return
        }
        handlers.onEvent(out)
      },
      onError: (err) => {
        if (ended) return
        ended = true
        handlers.onError(err)
      },
    })
    // The inner store may replay history before watch() returns.
    if (ended) watch.cancel()
    const inner = watch
    return {
      cancel: () => {
        ended = true
        inner.cancel()
      },
      progress: () => (ended ? undefined : inner.progress?.()),
    }
  }

  currentRevision(): Promise<number> {
    return this.inner.currentRevision()
  }

  compactedRevision(): Promise<number> {
    return this.inner.compactedRevision()
  }

  compact(revision: number): Promise<void> {
    return this.inner.compact(revision)
  }

  close(): Promise<void> {
    return this.inner.close()
  }

  /**
   * Writes again, with compare-and-swap, every value under `prefixes` (default: every
   * configured resource) that the current write provider and key did not write: after a
   * key rotation, or after encryption was turned on (identity read) or off (identity
   * first). A write that lost a race is retried on the value that won. Values that do
   * not decrypt are skipped, and reported in one error once every other value is done.
   */
  async rewriteStale(prefixes: string[] = this.plan.prefixes): Promise<RewriteResult> {
    for (const p of prefixes) {
      if (!p.startsWith('/')) throw new TypeError(`rewriteStale: prefix ${JSON.stringify(p)} must start with '/'`)
    }
    let rewritten = 0
    let total = 0
    const failed: string[] = []
    for (const prefix of outermostPrefixes(prefixes)) {
      let startAfter: string | undefined
      for (;;) {
        const page = await this.inner.list(prefix, { limit: REWRITE_PAGE, startAfter })
        for (const kv of page.items) {
          total++
          try {
            if (await this.#rewrite(kv)) rewritten++
          } catch (err) {
            if (!isEncryptionError(err, 'TransformFailed')) throw err
            failed.push(kv.key)
          }
        }
        if (!page.more || page.items.length === 0) break
        startAfter = page.items[page.items.length - 1].key
      }
    }
    if (failed.length > 0) {
      const shown = failed.slice(0, 10).map((k) => JSON.stringify(k)).join(', ')
      throw new EncryptionError(
        'TransformFailed',
        `${failed.length} of ${total} stored values could not be decrypted with the configured keys and were left as they are ` +
          `(${rewritten} others were rewritten): ${shown}${failed.length > 10 ? ', …' : ''}; add the key that wrote them to the config, or delete them`,
      )
    }
    return { rewritten, total }
  }

  /** True when it wrote `kv` again; false when it was current already or is gone. */
  async #rewrite(start: KeyValue): Promise<boolean> {
    let kv = start
    for (let attempt = 0; attempt < REWRITE_ATTEMPTS; attempt++) {
      const read = this.#transform(kv.key, kv.value)
      if (!read.stale) return false
      try {
        await this.inner.update(kv.key, this.#write(kv.key, read.value), kv.modRevision)
        return true
      } catch (err) {
        if (isStoreError(err, 'KeyNotFound')) return false
        if (!isStoreError(err, 'Conflict') || err.current === undefined) throw err
        kv = err.current
      }
    }
    throw new StoreError('Conflict', `gave up rewriting key ${kv.key} after ${REWRITE_ATTEMPTS} conflicting writes; run the rewrite again`)
  }

  #transform(key: string, stored: string): { value: string; stale: boolean } {
    try {
      return this.plan.readerFor(key).fromStorage(stored, key)
    } catch (err) {
      throw transformFailed(key, (err as Error).message)
    }
  }

  #readKv(kv: KeyValue): KeyValue {
    const value = this.#transform(kv.key, kv.value).value
    return value === kv.value ? kv : { ...kv, value }
  }

  #readEvent(ev: WatchEvent): WatchEvent {
    const out: WatchEvent = { ...ev }
    if (ev.value !== undefined) out.value = this.#transform(ev.key, ev.value).value
    if (ev.prevValue !== undefined) out.prevValue = this.#transform(ev.key, ev.prevValue).value
    return out
  }

  #write(key: string, value: string): string {
    const transformer = this.plan.forKey(key)
    if (transformer === undefined) return value
    try {
      return transformer.toStorage(value, key)
    } catch (err) {
      throw transformFailed(key, (err as Error).message)
    }
  }

  #decryptedConflict(err: unknown): unknown {
    if (!isStoreError(err, 'Conflict') || err.current === undefined) return err
    return new StoreError('Conflict', err.message, { current: this.#readKv(err.current) })
  }
}
