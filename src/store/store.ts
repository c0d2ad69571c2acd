// The storage contract the API server is written against. Keys are plain strings
// (`/registry/pods/default/web-1`), values are the object's JSON text. Every write
// gets a store-wide, strictly increasing revision (etcd semantics); the API server
// shows a value's modRevision as `metadata.resourceVersion`.

export interface KeyValue {
  key: string
  value: string
  /** Revision of the write that created this key (since its last deletion). */
  createRevision: number
  /** Revision of the last write to this key. */
  modRevision: number
}

export interface WatchEvent {
  type: 'put' | 'delete'
  key: string
  /** Revision of this write (for a delete, the revision of the deletion). */
  revision: number
  /** createRevision of the key; equal to `revision` when the put created the key. */
  createRevision: number
  /** New value (put). */
  value?: string
  /** Value before this write: the previous value of an update, the last value of a deleted key. */
  prevValue?: string
}

export interface ListOptions {
  /** At most this many items (0 or absent: all). */
  limit?: number
  /** Start after this key (exclusive), for paging. */
  startAfter?: string
  /** Read as of this revision (0 or absent: the current one). Older than the compacted revision: StoreError 'Compacted'. */
  revision?: number
  /** Say how many items are left past a page cut short (`remaining`); SQLite counts the range for it, so only callers that show it ask. */
  countRemaining?: boolean
}

export interface ListResult {
  items: KeyValue[]
  /** The revision the list was read at. */
  revision: number
  /** True when `limit` cut the result short. */
  more: boolean
  /** How many more items matched beyond the returned ones, when known. */
  remaining?: number
}

export type StoreErrorCode = 'KeyExists' | 'KeyNotFound' | 'Conflict' | 'Compacted' | 'Unavailable'

export class StoreError extends Error {
  readonly code: StoreErrorCode
  /** For 'Conflict': the key's current value; for 'Compacted': the compacted revision. */
  readonly current: KeyValue | undefined
  readonly compactRevision: number | undefined

  constructor(code: StoreErrorCode, message: string, extra: { current?: KeyValue; compactRevision?: number } = {}) {
    super(message)
    this.name = 'StoreError'
    this.code = code
    this.current = extra.current
    this.compactRevision = extra.compactRevision
  }
}

export function isStoreError(err: unknown, code?: StoreErrorCode): err is StoreError {
  return err instanceof StoreError && (code === undefined || err.code === code)
}

export interface Watch {
  /** Stops the watch; no event is delivered after it returns. */
  cancel(): void
  /**
   * A revision up to which every event this watch wants has been handed to onEvent (or
   * there was none): a bookmark may carry it. Undefined while that is not known (catching up,
   * events still queued).
   */
  progress?(): number | undefined
}

export interface WatchHandlers {
  /** Events in revision order, each exactly once. */
  onEvent(event: WatchEvent): void
  /** The watch ended and will deliver nothing more (e.g. StoreError 'Compacted' or 'Unavailable'). */
  onError(err: Error): void
}

export interface Store {
  readonly backend: 'sqlite' | 'etcd'
  get(key: string): Promise<KeyValue | undefined>
  /**
   * A copy of the key kept from the store's own watch, possibly a little stale; for
   * optimistic compare-and-swap updates that save a round trip. Backends whose reads are
   * local leave it out.
   */
  getCached?(key: string): KeyValue | undefined
  list(prefix: string, options?: ListOptions): Promise<ListResult>
  count(prefix: string): Promise<number>
  /** Fails with 'KeyExists' if the key exists. */
  create(key: string, value: string): Promise<KeyValue>
  /** Compare-and-swap on modRevision: 'Conflict' (with the current value) if it moved, 'KeyNotFound' if gone. */
  update(key: string, value: string, expectedModRevision: number): Promise<KeyValue>
  /** Deletes the key, only if its modRevision still matches when one is given. Returns the last value, with modRevision set to the deletion's revision. */
  delete(key: string, expectedModRevision?: number): Promise<KeyValue>
  /**
   * Delivers every write under `prefix` with revision > `afterRevision`, first the
   * retained history, then live writes. `afterRevision` older than the compacted
   * revision: onError(StoreError 'Compacted') and nothing else.
   */
  watch(prefix: string, afterRevision: number, handlers: WatchHandlers): Watch
  currentRevision(): Promise<number>
  /** The oldest revision that can still be read or watched from. */
  compactedRevision(): Promise<number>
  /** Drops history older than `revision`. */
  compact(revision: number): Promise<void>
  /**
   * A consistent copy of the whole store as one new file (0600) next to the store's own, to
   * be read and then disposed of. Backends with their own tool for it (etcd: `etcdctl
   * snapshot save`) leave it out.
   */
  snapshot?(): Promise<StoreSnapshot>
  close(): Promise<void>
}

export interface StoreSnapshot {
  path: string
  size: number
  /** Removes the file. */
  dispose(): Promise<void>
}
