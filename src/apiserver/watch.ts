// Serving `?watch=true`: events from the store's revision stream (newline-delimited JSON
// or length-prefixed protobuf), with selectors, bookmarks, initial events, timeouts and a
// cap on what a client that stops reading may hold buffered.
import type { ServerResponse } from 'node:http'
import type { ResourceInfo } from '../api/registry.ts'
import { isStoreError, type Store, type Watch, type WatchEvent } from '../store/store.ts'
import { ApiError, badRequest, invalid } from '../util/errors.ts'
import { parseResourceVersion, prefixOf, withRevision, type KObject } from './objects.ts'
import type { ResourceRequest } from './request-info.ts'
import { matchesQuery, parseSelectors, refuseUnserved, type ListQuery } from './resource-handler.ts'
import { drainedOrClosed, restoreWriteBuffer } from './http-io.ts'
import type { WatchEncoding } from './wire.ts'

export interface WatchOptions {
  /** Longest time a watch may stay open when the client gives no timeoutSeconds. */
  maxTimeoutSeconds: number
  bookmarkIntervalMs: number
  /** A client whose unread output passes this many bytes is cut off. */
  maxBufferedBytes: number
}

export const defaultWatchOptions: WatchOptions = {
  maxTimeoutSeconds: 1800,
  bookmarkIntervalMs: 60_000,
  maxBufferedBytes: 16 * 1024 * 1024,
}

/** Unread output at which a watch stops writing until the client has read some. */
const FLOW_HIGH_WATER = 256 * 1024

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR'

export interface WatchSession {
  /** Resolves when the stream ends for any reason. */
  done: Promise<void>
}

/** Lists objects matching `q` as of the current revision, following pages. */
export type ListAll = (info: ResourceInfo, namespace: string | undefined) => Promise<{ revision: number; objects: KObject[] }>

export interface WatchContext {
  store: Store
  listAll: ListAll
  /** Renders an object for the wire (e.g. a Table row); absent: the object as stored. */
  render?: (obj: KObject) => unknown
  encoding: WatchEncoding
  /** The type bookmarks name: the resource's, or a view's (events.k8s.io/v1 over core Events). */
  type: { apiVersion: string; kind: string }
  options: WatchOptions
  /** Refuses a resourceVersion newer than the store's (504, as Kubernetes does). */
  checkNotTooLarge: (rv: number) => Promise<void>
  onOpen?: () => void
  onClose?: () => void
}

export function expiredStatus(rv: number, compacted?: number): ApiError {
  return new ApiError(410, 'Expired', `too old resource version: ${rv}${compacted !== undefined ? ` (${compacted})` : ''}`)
}

export async function serveWatch(ctx: WatchContext, r: ResourceRequest, query: URLSearchParams, res: ServerResponse): Promise<WatchSession> {
  refuseUnserved(r)
  // A watch is paced by `drain`, which a raised write buffer (see raiseWriteBuffer) would hold back.
  restoreWriteBuffer(res.socket)
  const info = r.info
  if (r.name !== undefined) query.set('fieldSelector', [query.get('fieldSelector'), `metadata.name=${r.name}`].filter(Boolean).join(','))
  const q: ListQuery = parseSelectors(info, query)
  const bookmarks = query.get('allowWatchBookmarks') === 'true'
  const sendInitial = query.get('sendInitialEvents')
  const rvMatch = query.get('resourceVersionMatch')
  const rvText = query.get('resourceVersion') ?? ''
  if (sendInitial !== null) {
    const causes = []
    if (rvMatch !== 'NotOlderThan') causes.push({ reason: 'FieldValueInvalid', field: 'resourceVersionMatch', message: `Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan` })
    if (sendInitial === 'true' && !bookmarks) causes.push({ reason: 'FieldValueForbidden', field: 'allowWatchBookmarks', message: 'Forbidden: allowWatchBookmarks must be true when sendInitialEvents is true' })
    if (causes.length) throw invalid('ListOptions', 'meta.k8s.io', '', causes)
  } else if (rvMatch) {
    throw invalid('ListOptions', 'meta.k8s.io', '', [{ reason: 'FieldValueForbidden', field: 'resourceVersionMatch', message: 'Forbidden: resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided' }])
  }
  const timeoutText = query.get('timeoutSeconds')
  const asked = timeoutText === null || timeoutText === '' ? 0 : Number(timeoutText)
  if (!Number.isFinite(asked) || asked < 0) throw badRequest(`timeoutSeconds must be a non-negative number, got "${timeoutText}"`)
  // No timeout, or 0, means the server's own (randomised so reconnects spread out).
  const timeoutSeconds = asked === 0 ? ctx.options.maxTimeoutSeconds * (1 + Math.random()) : asked

  // Which state the client wants first: none (a given revision), or the current state
  // as synthetic ADDED events (no revision or "0", or sendInitialEvents=true).
  const rv = parseResourceVersion(rvText)
  if (rv) await ctx.checkNotTooLarge(rv)
  const initial = sendInitial === 'true' || (sendInitial === null && !rv)
  let startRevision: number
  let initialObjects: KObject[] = []
  if (initial) {
    const listed = await ctx.listAll(info, r.namespace)
    startRevision = Math.max(listed.revision, rv ?? 0)
    initialObjects = listed.objects.filter((o) => matchesQuery(q, o))
  } else {
    // No initial state and no revision (sendInitialEvents=false): from now on.
    startRevision = rv ?? (await ctx.store.currentRevision())
  }

  // A watch is the connection's last response: its body runs until the connection
  // closes, which spares every event the chunked-encoding frame (many watchers, many events).
  // The client may have gone while the initial state was read.
  if (res.destroyed || !res.socket || res.socket.destroyed) return { done: Promise.resolve() }
  res.useChunkedEncodingByDefault = false
  res.shouldKeepAlive = false
  res.writeHead(200, { 'content-type': ctx.encoding.contentType, 'cache-control': 'no-cache, private', connection: 'close' })
  res.flushHeaders()
  let lastRevision = startRevision
  let closed = false
  let corked = false
  let resolveDone!: () => void
  const done = new Promise<void>((resolve) => (resolveDone = resolve))
  const timers: NodeJS.Timeout[] = []
  let watch: Watch | undefined
  // Store events not yet written: written while the client keeps up, held while it does not.
  const pending: WatchEvent[] = []
  let pendingBytes = 0
  let pumping: Promise<void> | undefined

  const finish = () => {
    if (closed) return
    closed = true
    for (const t of timers) clearTimeout(t)
    watch?.cancel()
    pending.length = 0
    if (corked) {
      corked = false
      res.uncork()
    }
    if (!res.writableEnded) res.end()
    ctx.onClose?.()
    resolveDone()
  }
  const write = (data: string | Buffer) => {
    if (closed) return
    // Events that arrive in one tick go out in one write.
    if (!corked) {
      corked = true
      res.cork()
      process.nextTick(() => {
        corked = false
        res.uncork()
      })
    }
    res.write(data)
  }
  /** The client has enough unread output for now. */
  const congested = () => res.writableLength > FLOW_HIGH_WATER
  const drained = () => drainedOrClosed(res)
  const send = (type: WatchEventType, object: unknown) => write(ctx.encoding.event(type, object))
  const bookmark = (extraAnnotations?: Record<string, string>) => {
    // With nothing held back, the store's progress is safe to promise: a quiet resource's
    // watcher then resumes from a recent revision, not one compaction has taken away.
    const progress = pending.length === 0 ? (watch?.progress?.() ?? 0) : 0
    lastRevision = Math.max(lastRevision, progress)
    send('BOOKMARK', {
      kind: ctx.type.kind,
      apiVersion: ctx.type.apiVersion,
      metadata: { resourceVersion: String(lastRevision), ...(extraAnnotations ? { annotations: extraAnnotations } : {}) },
    })
  }

  ctx.onOpen?.()
  res.on('close', finish)
  res.on('error', finish)
  timers.push(setTimeout(finish, timeoutSeconds * 1000))
  if (bookmarks) {
    const tick = () => {
      if (!pumping) bookmark()
      timers.push(setTimeout(tick, ctx.options.bookmarkIntervalMs).unref())
    }
    timers.push(setTimeout(tick, ctx.options.bookmarkIntervalMs).unref())
  }

  const filtering = q.labelSelector !== undefined || q.fieldSelector !== undefined
  const emit = (ev: WatchEvent, type: WatchEventType, which: 'value' | 'prevValue') => {
    const shared = sharedOf(ev)
    if (ctx.render) {
      send(type, ctx.render(which === 'value' ? shared.object() : shared.previous()))
      return
    }
    write(shared.line(type, which, ctx.encoding))
  }
  const deliver = (ev: WatchEvent) => {
    lastRevision = ev.revision
    const shared = sharedOf(ev)
    if (ev.type === 'delete') {
      if (ev.prevValue === undefined) return
      if (!filtering || matchesQuery(q, shared.previous())) emit(ev, 'DELETED', 'prevValue')
      return
    }
    const now = !filtering || matchesQuery(q, shared.object())
    if (ev.createRevision === ev.revision || ev.prevValue === undefined) {
      if (now) emit(ev, 'ADDED', 'value')
      return
    }
    const before = !filtering || matchesQuery(q, shared.previous())
    if (now && before) emit(ev, 'MODIFIED', 'value')
    else if (now) emit(ev, 'ADDED', 'value')
    else if (before) emit(ev, 'DELETED', 'prevValue')
  }
  const eventBytes = (ev: WatchEvent) => (ev.value?.length ?? 0) + (ev.prevValue?.length ?? 0)
  // Writes held events while the client reads; waits for it when it does not.
  const pump = (): Promise<void> => {
    if (pumping) return pumping
    const run = async () => {
      while (!closed && pending.length > 0) {
        if (congested()) {
          await drained()
          continue
        }
        const ev = pending.shift()!
        pendingBytes -= eventBytes(ev)
        deliver(ev)
      }
    }
    pumping = run().finally(() => {
      pumping = undefined
      // Events that came while this run was finishing.
      if (!closed && pending.length > 0) void pump()
    })
    return pumping
  }

  void (async () => {
    // The initial state goes out as fast as the client reads it, however large.
    for (const obj of initialObjects) {
      if (closed) return
      send('ADDED', ctx.render ? ctx.render(obj) : obj)
      if (congested()) await drained()
    }
    initialObjects = []
    if (closed) return
    if (sendInitial === 'true') bookmark({ 'k8s.io/initial-events-end': 'true' })
    // Catching up on history is streamed the same way; only once caught up does a client
    // that stops reading while its backlog passes the limit get cut off.
    const caughtUpAt = await ctx.store.currentRevision().catch(() => startRevision)
    if (closed) return
    watch = ctx.store.watch(prefixOf(info, r.namespace), startRevision, {
      onEvent: (ev) => {
        if (closed) return
        pending.push(ev)
        pendingBytes += eventBytes(ev)
        if (ev.revision > caughtUpAt && pendingBytes + res.writableLength > ctx.options.maxBufferedBytes) {
          // The client stopped reading: end its stream rather than buffer without bound.
          res.destroy()
          finish()
          return
        }
        void pump()
      },
      onError: (err) => {
        const end = () => {
          if (isStoreError(err, 'Compacted')) send('ERROR', expiredStatus(startRevision, err.compactRevision).toStatus())
          else send('ERROR', new ApiError(500, 'InternalError', `watch ended: ${err.message}`).toStatus())
          finish()
        }
        // What was delivered before the error goes out first.
        void (async () => {
          while (!closed && pending.length > 0) await pump()
          end()
        })()
      },
    })
  })()
  return { done }
}

/**
 * What every watcher of one store event shares: the parsed objects and the encoded events,
 * made once however many watchers receive the event.
 */
class SharedEvent {
  private readonly ev: WatchEvent
  private obj: KObject | undefined
  private prev: KObject | undefined
  private readonly lines = new Map<string, Buffer>()

  constructor(ev: WatchEvent) {
    this.ev = ev
  }

  text(which: 'value' | 'prevValue'): string {
    return withRevision(this.ev[which]!, this.ev.revision)
  }

  object(): KObject {
    return (this.obj ??= JSON.parse(this.text('value')) as KObject)
  }

  /** The value before this write, stamped with this event's revision (as Kubernetes sends DELETED objects). */
  previous(): KObject {
    return (this.prev ??= JSON.parse(this.text('prevValue')) as KObject)
  }

  line(type: WatchEventType, which: 'value' | 'prevValue', encoding: WatchEncoding): Buffer {
    const key = encoding.format + type + which
    let line = this.lines.get(key)
    if (!line) {
      // JSON goes out as stored, without a parse.
      if (encoding.format === 'json') line = Buffer.from(`{"type":"${type}","object":${this.text(which)}}\n`)
      else line = encoding.event(type, which === 'value' ? this.object() : this.previous())
      this.lines.set(key, line)
    }
    return line
  }
}

const sharedEvents = new WeakMap<WatchEvent, SharedEvent>()

function sharedOf(ev: WatchEvent): SharedEvent {
  let shared = sharedEvents.get(ev)
  if (!shared) {
    shared = new SharedEvent(ev)
    sharedEvents.set(ev, shared)
  }
  return shared
}
