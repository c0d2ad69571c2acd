// The etcd store. Writes are etcd transactions; all watchers of one store share a single
// upstream watch stream over the store's prefix, fanned out in process. A short buffer
// of recent events serves watchers that start slightly in the past; older starts get
// their own catch-up stream until it reaches what the buffer covers.
import { b64, EtcdHttp, EtcdResponseError, unb64, type EtcdHeader, type EtcdKv, type EtcdTls } from './etcd-http.ts'
import { UpstreamWatch } from './etcd-watch.ts'
import { prefixEndBytes } from './key-range.ts'
import { StoreError } from './store.ts'
import { ValueCache } from './value-cache.ts'
import type { KeyValue, ListOptions, ListResult, Store, Watch, WatchEvent, WatchHandlers } from './store.ts'
import { WatchHub, type Subscriber } from './watch-hub.ts'

export interface EtcdStoreOptions {
  endpoints: string[]
  /** Every key is stored under this prefix (default `/weft`); it must start with '/'. */
  prefix?: string
  /** Recent events kept for watchers that start in the past (default 10000). */
  watchCacheSize?: number
  /** Bytes of recently written values kept so updates need no read first (default 64 MiB). */
  updateCacheBytes?: number
  /** How long a lost watch stream is retried before watchers get 'Unavailable' (default 15 s). */
  reconnectTimeoutMs?: number
  /** TLS to etcd (https:// endpoints): its CA, and a client certificate. */
  tls?: EtcdTls
  /** Deadline of every call to etcd (default 10 s). */
  requestTimeoutMs?: number
  /** How often a silent watch stream is checked against etcd for being half-open (default 10 s). */
  watchLagCheckMs?: number
}

/** etcd compaction is cluster-wide, so the revision weft compacted to is recorded outside any prefix. */
const COMPACTED_KEY = 'weft/compacted-revision'

interface RangeResponse {
  header: EtcdHeader
  kvs?: EtcdKv[]
  more?: boolean
  count?: string
}

interface TxnResponse {
  header: EtcdHeader
  succeeded?: boolean
  responses?: {
    response_put?: { prev_kv?: EtcdKv }
    response_range?: { kvs?: EtcdKv[] }
    response_delete_range?: { deleted?: string; prev_kvs?: EtcdKv[] }
  }[]
}

export async function openEtcdStore(options: EtcdStoreOptions): Promise<EtcdStore> {
  const store = new EtcdStore(options)
  try {
    await store.start()
  } catch (err) {
    await store.close()
    throw err
  }
  return store
}

export class EtcdStore implements Store {
  readonly backend = 'etcd' as const
  readonly prefix: string
  readonly #http: EtcdHttp
  readonly #hub = new WatchHub()
  readonly #cacheSize: number
  readonly #reconnectTimeoutMs: number
  readonly #lagCheckMs: number
  #knownCompacted = 0
  #closed = false
  #shared: UpstreamWatch | undefined
  #starting: Promise<void> | undefined
  /** Recent events of the shared stream, in revision order; it holds every event above `#coveredAfter`. */
  #buffer: WatchEvent[] = []
  #coveredAfter = 0
  readonly #waiting = new Set<Subscriber>()
  /** Keys written since the shared stream started, as that stream last saw them; the most recently written first kept. */
  readonly #recentValues: ValueCache
  readonly #catchUp = new Map<Subscriber, UpstreamWatch>()

  constructor(options: EtcdStoreOptions) {
    const prefix = options.prefix ?? '/weft'
    if (!prefix.startsWith('/')) throw new TypeError(`etcd store prefix ${JSON.stringify(prefix)} must start with '/'`)
    this.prefix = prefix.replace(/\/+$/, '')
    this.#http = new EtcdHttp(options.endpoints, { tls: options.tls, requestTimeoutMs: options.requestTimeoutMs })
    this.#lagCheckMs = options.watchLagCheckMs ?? 10_000
    this.#cacheSize = options.watchCacheSize ?? 10_000
    this.#recentValues = new ValueCache(options.updateCacheBytes ?? 64 * 1024 * 1024)
    this.#reconnectTimeoutMs = options.reconnectTimeoutMs ?? 15_000
  }

  /** Upstream etcd watch streams open: the shared one and per-watcher catch-up streams. */
  get watchStreams(): { shared: number; catchUp: number } {
    return { shared: this.#shared === undefined ? 0 : 1, catchUp: this.#catchUp.size }
  }

  /** Checks etcd answers and starts the shared watch stream. */
  async start(): Promise<void> {
    await this.compactedRevision()
    await this.#ensureShared()
  }

  async get(key: string): Promise<KeyValue | undefined> {
    const res = await this.#call<RangeResponse>('/v3/kv/range', { key: this.#encode(key) })
    const kv = res.kvs?.[0]
    return kv === undefined ? undefined : this.#toKeyValue(kv)
  }

  getCached(key: string): KeyValue | undefined {
    return this.#recentValues.get(key)
  }

  async list(prefix: string, options: ListOptions = {}): Promise<ListResult> {
    const limit = options.limit !== undefined && options.limit > 0 ? options.limit : 0
    const revision = options.revision !== undefined && options.revision > 0 ? options.revision : 0
    if (revision !== 0 && revision < this.#knownCompacted) throw this.#compactedError(revision, this.#knownCompacted)
    const range = this.#range(prefix)
    let start = range.key
    if (options.startAfter !== undefined && options.startAfter !== '') {
      const after = Buffer.concat([Buffer.from(this.#stored(options.startAfter)), Buffer.from([0])])
      if (Buffer.compare(after, start) > 0) start = after
    }
    const req: Record<string, unknown> = { key: b64(start), range_end: b64(range.rangeEnd) }
    if (limit > 0) req.limit = String(limit)
    if (revision > 0) req.revision = String(revision)
    let res: RangeResponse
    try {
      res = await this.#call<RangeResponse>('/v3/kv/range', req)
    } catch (err) {
      if (err instanceof StoreError && err.code === 'Compacted') {
        const compacted = Math.max(await this.compactedRevision(), revision + 1)
        throw this.#compactedError(revision, compacted)
      }
      throw err
    }
    const items = (res.kvs ?? []).map((kv) => this.#toKeyValue(kv))
    const count = Number(res.count ?? 0)
    const more = res.more === true
    const result: ListResult = { items, revision: revision > 0 ? revision : Number(res.header.revision), more }
    if (more) result.remaining = count - items.length
    return result
  }

  async count(prefix: string): Promise<number> {
    const range = this.#range(prefix)
    const res = await this.#call<RangeResponse>('/v3/kv/range', {
      key: b64(range.key),
      range_end: b64(range.rangeEnd),
      count_only: true,
    })
    return Number(res.count ?? 0)
  }

  async create(key: string, value: string): Promise<KeyValue> {
    const k = this.#encode(key)
    const res = await this.#call<TxnResponse>('/v3/kv/txn', {
      compare: [{ key: k, target: 'CREATE', result: 'EQUAL', create_revision: '0' }],
      success: [{ request_put: { key: k, value: b64(value) } }],
    })
    if (res.succeeded !== true) throw new StoreError('KeyExists', `key ${key} already exists`)
    const rev = Number(res.header.revision)
    return { key, value, createRevision: rev, modRevision: rev }
  }

  async update(key: string, value: string, expectedModRevision: number): Promise<KeyValue> {
    const k = this.#encode(key)
    const res = await this.#call<TxnResponse>('/v3/kv/txn', {
      compare: [{ key: k, target: 'MOD', result: 'EQUAL', mod_revision: String(expectedModRevision) }],
      success: [{ request_put: { key: k, value: b64(value), prev_kv: true } }],
      failure: [{ request_range: { key: k } }],
    })
    if (res.succeeded !== true) throw this.#casFailure(key, expectedModRevision, res)
    const prev = res.responses?.[0]?.response_put?.prev_kv
    const rev = Number(res.header.revision)
    return { key, value, createRevision: prev === undefined ? rev : Number(prev.create_revision), modRevision: rev }
  }

  async delete(key: string, expectedModRevision?: number): Promise<KeyValue> {
    const k = this.#encode(key)
    const deleteOp = { request_delete_range: { key: k, prev_kv: true } }
    const res = await this.#call<TxnResponse>('/v3/kv/txn', expectedModRevision === undefined
      ? { success: [deleteOp] }
      : {
          compare: [{ key: k, target: 'MOD', result: 'EQUAL', mod_revision: String(expectedModRevision) }],
          success: [deleteOp],
          failure: [{ request_range: { key: k } }],
        })
    if (res.succeeded !== true) throw this.#casFailure(key, expectedModRevision ?? 0, res)
    const prev = res.responses?.[0]?.response_delete_range?.prev_kvs?.[0]
    if (prev === undefined) throw new StoreError('KeyNotFound', `key ${key} not found`)
    return { key, value: unb64(prev.value), createRevision: Number(prev.create_revision), modRevision: Number(res.header.revision) }
  }

  watch(prefix: string, afterRevision: number, handlers: WatchHandlers): Watch {
    const sub = this.#hub.subscribe(prefix, afterRevision, handlers)
    sub.onEnd = () => {
      this.#waiting.delete(sub)
      this.#catchUp.get(sub)?.stop()
      this.#catchUp.delete(sub)
    }
    if (this.#closed) {
      this.#hub.end(sub, new StoreError('Unavailable', 'the store is closed'))
    } else if (afterRevision < this.#knownCompacted) {
      this.#hub.end(sub, this.#compactedError(afterRevision, this.#knownCompacted))
    } else if (this.#shared !== undefined) {
      this.#place(sub)
    } else {
      this.#waiting.add(sub)
      this.#ensureShared().catch(() => {})
    }
    return sub
  }

  async currentRevision(): Promise<number> {
    const res = await this.#call<RangeResponse>('/v3/kv/range', { key: b64(COMPACTED_KEY), count_only: true })
    return Number(res.header.revision)
  }

  async compactedRevision(): Promise<number> {
    const res = await this.#call<RangeResponse>('/v3/kv/range', { key: b64(COMPACTED_KEY) })
    const recorded = Number(unb64(res.kvs?.[0]?.value) || 0)
    if (recorded > this.#knownCompacted) this.#knownCompacted = recorded
    return this.#knownCompacted
  }

  async compact(revision: number): Promise<void> {
    const rev = Math.min(revision, await this.currentRevision())
    if (rev <= (await this.compactedRevision())) return
    try {
      await this.#call('/v3/kv/compaction', { revision: String(rev) })
    } catch (err) {
      if (!(err instanceof StoreError && err.code === 'Compacted')) throw err
    }
    this.#knownCompacted = Math.max(this.#knownCompacted, rev)
    const recorded = await this.compactedRevision()
    if (recorded < rev) {
      await this.#call('/v3/kv/put', { key: b64(COMPACTED_KEY), value: b64(String(rev)) })
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#shared?.stop()
    this.#shared = undefined
    for (const w of this.#catchUp.values()) w.stop()
    this.#catchUp.clear()
    const err = new StoreError('Unavailable', 'the store is closed')
    this.#hub.endAll(err)
    for (const sub of [...this.#waiting]) this.#hub.end(sub, err)
    await this.#http.close()
  }

  /** Serves `sub` from the shared stream if the buffer reaches back to its revision, else from a catch-up stream. */
  #place(sub: Subscriber): void {
    if (sub.after >= this.#coveredAfter) {
      this.#hub.enqueue(sub, this.#bufferAfter(sub.after))
      this.#hub.attach(sub)
      return
    }
    const range = this.#range(sub.prefix)
    const upstream = new UpstreamWatch(this.#http, {
      key: range.key,
      rangeEnd: range.rangeEnd,
      startRevision: sub.after + 1,
      decodeKey: (k) => k.slice(this.prefix.length),
      reconnectTimeoutMs: this.#reconnectTimeoutMs,
      latestRevision: () => this.#latestRevision(range),
      lagCheckMs: this.#lagCheckMs,
      onEvents: (events) => {
        this.#hub.enqueue(sub, events)
        if (this.#shared !== undefined && sub.after >= this.#coveredAfter && this.#catchUp.get(sub) === upstream) {
          upstream.stop()
          this.#catchUp.delete(sub)
          this.#place(sub)
        }
      },
      onEnd: (err) => {
        this.#noteCompaction(err)
        this.#hub.end(sub, err)
      },
    })
    this.#catchUp.set(sub, upstream)
  }

  #bufferAfter(revision: number): WatchEvent[] {
    const buf = this.#buffer
    let lo = 0
    let hi = buf.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (buf[mid].revision <= revision) lo = mid + 1
      else hi = mid
    }
    return lo === buf.length ? [] : buf.slice(lo)
  }

  #ensureShared(): Promise<void> {
    if (this.#shared !== undefined) return Promise.resolve()
    this.#starting ??= this.#startShared().finally(() => {
      this.#starting = undefined
    })
    return this.#starting
  }

  async #startShared(): Promise<void> {
    let revision: number
    try {
      revision = await this.currentRevision()
    } catch (err) {
      const error = err instanceof StoreError ? err : new StoreError('Unavailable', String(err))
      for (const sub of [...this.#waiting]) this.#hub.end(sub, error)
      throw err
    }
    if (this.#closed) return
    this.#launchShared(revision + 1)
    for (const sub of [...this.#waiting]) {
      this.#waiting.delete(sub)
      this.#place(sub)
    }
  }

  #launchShared(startRevision: number): void {
    this.#buffer = []
    // A new stream may have missed writes: the object copies start over with it.
    this.#recentValues.clear()
    this.#coveredAfter = startRevision - 1
    const range = this.#range('')
    const shared: UpstreamWatch = new UpstreamWatch(this.#http, {
      key: range.key,
      rangeEnd: range.rangeEnd,
      startRevision,
      decodeKey: (k) => k.slice(this.prefix.length),
      reconnectTimeoutMs: this.#reconnectTimeoutMs,
      latestRevision: () => this.#latestRevision(range),
      lagCheckMs: this.#lagCheckMs,
      onProgress: (revision) => this.#hub.noteProgress(revision),
      onEvents: (events) => {
        for (const ev of events) {
          this.#buffer.push(ev)
          if (ev.type === 'put') {
            this.#recentValues.set({ key: ev.key, value: ev.value!, createRevision: ev.createRevision, modRevision: ev.revision })
          } else {
            this.#recentValues.delete(ev.key)
          }
        }
        if (this.#buffer.length > this.#cacheSize * 2) {
          const dropped = this.#buffer.splice(0, this.#buffer.length - this.#cacheSize)
          this.#coveredAfter = dropped[dropped.length - 1].revision
        }
        this.#hub.publish(events)
      },
      onEnd: (err) => {
        this.#noteCompaction(err)
        if (this.#shared !== shared) return
        this.#shared = undefined
        const compactRevision = err.code === 'Compacted' ? (err.compactRevision ?? 0) : 0
        if (compactRevision > 0 && !this.#closed) {
          // The stream fell behind a compaction (e.g. it had not caught up yet): only
          // watchers that needed a revision below it lose events; resume the rest there.
          this.#hub.endWhere((sub) => sub.after < compactRevision - 1, err)
          this.#launchShared(compactRevision)
        } else {
          this.#hub.endAll(err)
        }
      },
    })
    this.#shared = shared
  }

  #noteCompaction(err: StoreError): void {
    if (err.code === 'Compacted' && err.compactRevision !== undefined && err.compactRevision > this.#knownCompacted) {
      this.#knownCompacted = err.compactRevision
    }
  }

  async #call<T>(path: string, body: unknown): Promise<T> {
    if (this.#closed) throw new StoreError('Unavailable', 'the store is closed')
    try {
      return await this.#http.call<T>(path, body)
    } catch (err) {
      if (err instanceof EtcdResponseError) {
        if (err.compacted) {
          throw new StoreError('Compacted', `etcd: ${err.message}`, { compactRevision: this.#knownCompacted })
        }
        throw new StoreError('Unavailable', `etcd rejected ${path}: ${err.message}`)
      }
      throw err
    }
  }

  #casFailure(key: string, expected: number, res: TxnResponse): StoreError {
    const kv = res.responses?.[0]?.response_range?.kvs?.[0]
    if (kv === undefined) return new StoreError('KeyNotFound', `key ${key} not found`)
    const current = this.#toKeyValue(kv)
    return new StoreError('Conflict', `key ${key} is at revision ${current.modRevision}, not ${expected}`, { current })
  }

  #stored(key: string): string {
    return this.prefix + key
  }

  #encode(key: string): string {
    if (!key.startsWith('/')) throw new TypeError(`store key ${JSON.stringify(key)} must start with '/'`)
    return b64(this.prefix + key)
  }

  /** The stored key range of a key prefix; '' means every key of this store (they all start with '/'). */
  /** The newest mod revision in the range (0 when it is empty). */
  async #latestRevision(range: { key: Buffer; rangeEnd: Buffer }): Promise<number> {
    const res = await this.#call<RangeResponse>('/v3/kv/range', { key: b64(range.key), range_end: b64(range.rangeEnd), limit: '1', sort_order: 'DESCEND', sort_target: 'MOD', keys_only: true })
    return Number(res.kvs?.[0]?.mod_revision ?? 0)
  }

  #range(prefix: string): { key: Buffer; rangeEnd: Buffer } {
    const key = Buffer.from(this.prefix + (prefix === '' ? '/' : prefix))
    return { key, rangeEnd: prefixEndBytes(key) }
  }

  #toKeyValue(kv: EtcdKv): KeyValue {
    return {
      key: unb64(kv.key).slice(this.prefix.length),
      value: unb64(kv.value),
      createRevision: Number(kv.create_revision),
      modRevision: Number(kv.mod_revision),
    }
  }

  #compactedError(revision: number, compacted: number): StoreError {
    return new StoreError('Compacted', `revision ${revision} has been compacted; the oldest available is ${compacted}`, {
      compactRevision: compacted,
    })
  }
}
