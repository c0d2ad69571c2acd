// Small API calls the scheduler benchmark makes through the shared HTTP helpers: bulk
// creates with concurrency, the current resourceVersion of a list, and watches that hand
// each event's object to a callback.
import type { Pool } from 'undici'
import { closedLoop, type LoadResult } from '../lib/load.ts'
import { send, sendJson, streamLines, type LineStream } from '../apiserver/http.ts'

export async function createAll(p: Pool, path: (i: number) => string, count: number, concurrency: number, body: (i: number) => unknown): Promise<LoadResult> {
  const r = await closedLoop(count, concurrency, async (i) => {
    await send(p, 'POST', path(i), JSON.stringify(body(i)))
  })
  if (r.errors > 0) throw new Error(`${r.errors} of ${count} creates failed; first: ${(r.firstError as Error)?.message ?? String(r.firstError)}`)
  return r
}

export async function createNamespace(p: Pool, name: string): Promise<void> {
  await send(p, 'POST', '/api/v1/namespaces', JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } }))
}

export interface ListBody<T> {
  metadata?: { resourceVersion?: string; continue?: string }
  items?: T[]
}

export async function list<T>(p: Pool, path: string): Promise<{ items: T[]; resourceVersion: string }> {
  const body = (await sendJson(p, 'GET', path)) as ListBody<T>
  const rv = body.metadata?.resourceVersion
  if (!rv) throw new Error(`GET ${path}: the list has no metadata.resourceVersion`)
  return { items: body.items ?? [], resourceVersion: rv }
}

export interface WatchEvent<T> {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR'
  object: T
}

/** Watches `path` from `resourceVersion`; `onEvent` gets each event with the time its line arrived. An ERROR event fails `done`. */
export async function watch<T>(p: Pool, path: string, resourceVersion: string, onEvent: (e: WatchEvent<T>) => void): Promise<LineStream> {
  let failure: Error | undefined
  let stream: LineStream | undefined
  const sep = path.includes('?') ? '&' : '?'
  stream = await streamLines(p, `${path}${sep}watch=true&resourceVersion=${resourceVersion}`, (line) => {
    if (line.trim() === '') return
    const event = JSON.parse(line) as WatchEvent<T>
    if (event.type === 'ERROR') {
      failure ??= new Error(`watch ${path}: ${JSON.stringify(event.object).slice(0, 300)}`)
      stream?.close()
      return
    }
    onEvent(event)
  })
  const s = stream
  return {
    done: s.done.then(() => {
      if (failure) throw failure
    }),
    close: () => s.close(),
  }
}
