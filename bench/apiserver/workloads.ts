// The three API workloads: Pod creates (closed loop, in JSON and in protobuf), full and
// paged lists, and watch delivery latency under a fixed-rate stream of mutations.
import type { Pool } from 'undici'
import { nowMs, sleep } from '../lib/clock.ts'
import { closedLoop, openLoop, type LoadResult } from '../lib/load.ts'
import { Samples } from '../lib/stats.ts'
import { encodeProtobufObject } from '../../src/api/protobuf/index.ts'
import { pool, send, sendJson, sendProtobuf, streamLines, type LineStream, type TlsCredentials } from './http.ts'
import { benchPod, SENT_AT_ANNOTATION } from './pod.ts'

export const podsPath = (namespace: string) => `/api/v1/namespaces/${namespace}/pods`

export async function createNamespace(p: Pool, name: string): Promise<void> {
  await send(p, 'POST', '/api/v1/namespaces', JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } }))
}

/** Creates `count` Pods named by `nameOf(i)` with `concurrency` in flight. */
export function createPods(p: Pool, count: number, concurrency: number, where: (i: number) => { namespace: string; name: string }): Promise<LoadResult> {
  return closedLoop(count, concurrency, async (i) => {
    const { namespace, name } = where(i)
    await send(p, 'POST', podsPath(namespace), JSON.stringify(benchPod(namespace, name)))
  })
}

/** The same creates in Kubernetes protobuf both ways, as kubectl's typed clients make them. */
export function createPodsProtobuf(p: Pool, count: number, concurrency: number, where: (i: number) => { namespace: string; name: string }): Promise<LoadResult> {
  return closedLoop(count, concurrency, async (i) => {
    const { namespace, name } = where(i)
    await sendProtobuf(p, 'POST', podsPath(namespace), encodeProtobufObject(benchPod(namespace, name) as unknown as Record<string, unknown>))
  })
}

interface ListBody {
  metadata?: { continue?: string; resourceVersion?: string }
  items?: unknown[]
}

/** One full list; returns the item count. */
export async function listAll(p: Pool, namespace: string): Promise<number> {
  const body = (await sendJson(p, 'GET', podsPath(namespace))) as ListBody
  return body.items?.length ?? 0
}

/** Lists everything in pages of `limit`, following `continue`; returns the item count. */
export async function listPaged(p: Pool, namespace: string, limit: number): Promise<number> {
  let items = 0
  let token: string | undefined
  do {
    const query = `?limit=${limit}${token ? `&continue=${encodeURIComponent(token)}` : ''}`
    const body = (await sendJson(p, 'GET', podsPath(namespace) + query)) as ListBody
    items += body.items?.length ?? 0
    token = body.metadata?.continue || undefined
  } while (token)
  return items
}

export async function currentResourceVersion(p: Pool, namespace: string): Promise<string> {
  const body = (await sendJson(p, 'GET', `${podsPath(namespace)}?limit=1`)) as ListBody
  const rv = body.metadata?.resourceVersion
  if (!rv) throw new Error(`list of ${namespace} pods has no metadata.resourceVersion`)
  return rv
}

export interface WatchResult {
  /** now − the mutation's send time, per (watcher, event), in ms. */
  delivery: Samples
  /** Deliveries expected (successful mutations × watchers) and seen. */
  expected: number
  seen: number
  mutations: LoadResult
}

const SENT_AT_KEY = `"${SENT_AT_ANNOTATION}":"`

/** The send time carried in a watch event line, without parsing the whole event. */
function sentAtOf(line: string): number | undefined {
  const at = line.indexOf(SENT_AT_KEY)
  if (at < 0) return undefined
  const start = at + SENT_AT_KEY.length
  return Number(line.slice(start, line.indexOf('"', start)))
}

/**
 * Opens `watchers` watch streams on the namespace from its current revision, then sends
 * mutations at `rate` for `seconds`: alternately a new Pod and a merge patch of an
 * existing one (`existing(i)` names it), each carrying its send time in an annotation.
 */
export async function watchDelivery(
  origin: string,
  tls: TlsCredentials,
  mutator: Pool,
  options: { namespace: string; watchers: number; rate: number; seconds: number; runId: string; existing: (i: number) => string },
): Promise<WatchResult> {
  const { namespace } = options
  const watchPool = pool(origin, options.watchers, tls)
  const delivery = new Samples()
  const streams: LineStream[] = []
  try {
    const rv = await currentResourceVersion(mutator, namespace)
    const onLine = (line: string) => {
      const sentAt = sentAtOf(line)
      if (sentAt !== undefined) delivery.add(nowMs() - sentAt)
    }
    const path = `${podsPath(namespace)}?watch=true&resourceVersion=${rv}`
    streams.push(...(await Promise.all(Array.from({ length: options.watchers }, () => streamLines(watchPool, path, onLine)))))
    const mutations = await openLoop(options.rate, options.seconds * 1000, async (i) => {
      if (i % 2 === 0) {
        const name = `watch-${options.runId}-${i}`
        await send(mutator, 'POST', podsPath(namespace), JSON.stringify(benchPod(namespace, name, nowMs())))
      } else {
        const patch = { metadata: { annotations: { [SENT_AT_ANNOTATION]: nowMs().toFixed(3) } } }
        await send(mutator, 'PATCH', `${podsPath(namespace)}/${options.existing(i)}`, JSON.stringify(patch), 'application/merge-patch+json')
      }
    })
    const expected = mutations.ok * options.watchers
    const deadline = nowMs() + 10_000
    while (delivery.length < expected && nowMs() < deadline) await sleep(20)
    return { delivery, expected, seen: delivery.length, mutations }
  } finally {
    for (const s of streams) s.close()
    await Promise.allSettled(streams.map((s) => s.done))
    await watchPool.destroy()
  }
}
