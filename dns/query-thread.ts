// A query thread: its own UDP socket on the server's port (SO_REUSEPORT: the kernel spreads
// clients over the sockets), its own handler, and a zone rebuilt from every snapshot the
// main thread sends. Names outside the zone are handed to the main thread, which owns the
// forwarder and the cache. Started by QueryThreads (query-threads.ts).
import { parentPort, workerData } from 'node:worker_threads'
import type { Forwarded, Forwarding } from './forwarding.ts'
import { DnsMetrics } from './metrics.ts'
import { createQueryPlane, type QueryPlane, type QueryPlaneConfig } from './query-plane.ts'
import { DnsServer } from './server.ts'
import { buildZoneIndex } from './zone-index.ts'
import type { ZoneSnapshot } from './zone-source.ts'

/** The zone is not in here but in the first 'zone' message: workerData stays alive as long as the thread. */
export interface QueryThreadData {
  config: QueryPlaneConfig
  listen: string[]
  metricsServer: string
}

export type ToThread =
  | { type: 'zone'; snapshot: ZoneSnapshot }
  | { type: 'metrics'; id: number }
  | { type: 'forwarded'; id: number; reply: Uint8Array; cached: boolean }
  | { type: 'stop' }
export type FromThread =
  | { type: 'ready' }
  | { type: 'metrics'; id: number; json: unknown; error?: string }
  | { type: 'forward'; id: number; bytes: Uint8Array }
  | { type: 'failed'; message: string }

const port = parentPort!
const data = workerData as QueryThreadData
const metrics = new DnsMetrics(data.metricsServer, { processMetrics: false })
const waiting = new Map<number, (f: Forwarded) => void>()
let nextId = 1
/** Names outside the zone go to the main thread's forwarder and cache. */
const forwarding: Forwarding = {
  resolve(bytes) {
    const id = nextId++
    return new Promise((resolve) => {
      waiting.set(id, resolve)
      port.postMessage({ type: 'forward', id, bytes: Uint8Array.from(bytes) } satisfies FromThread)
    })
  },
}
/** Made from the first zone; the socket is bound only then, so no query meets an empty zone. */
let plane: QueryPlane | undefined
let server: DnsServer | undefined

function start(snapshot: ZoneSnapshot): void {
  plane = createQueryPlane(data.config, metrics, { inputs: snapshot, serial: snapshot.serial }, forwarding)
  server = new DnsServer(plane.handler, { listen: data.listen, reusePort: true, tcp: false })
  server.start().then(
    () => port.postMessage({ type: 'ready' } satisfies FromThread),
    (err: Error) => port.postMessage({ type: 'failed', message: err.message } satisfies FromThread),
  )
}

port.on('message', (message: ToThread) => {
  if (message.type === 'zone') {
    if (!plane) start(message.snapshot)
    else plane.handler.setIndex(buildZoneIndex(message.snapshot, data.config.zone, message.snapshot.serial))
  } else if (message.type === 'forwarded') {
    waiting.get(message.id)?.({ reply: Buffer.from(message.reply.buffer, message.reply.byteOffset, message.reply.length), cached: message.cached })
    waiting.delete(message.id)
  } else if (message.type === 'metrics') {
    void metrics.registry
      .getMetricsAsJSON()
      .then((json) => port.postMessage({ type: 'metrics', id: message.id, json } satisfies FromThread))
      .catch((err: Error) => port.postMessage({ type: 'metrics', id: message.id, json: [], error: err.message } satisfies FromThread))
  } else {
    void (server?.close() ?? Promise.resolve())
      .then(() => plane?.close())
      .then(() => port.close())
  }
})
