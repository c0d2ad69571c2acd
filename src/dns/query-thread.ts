// A query thread: its own UDP socket on the server's port (SO_REUSEPORT: the kernel spreads
// clients over the sockets), its own handler, and a zone rebuilt from every snapshot the
// main thread sends. Started by QueryThreads (query-threads.ts).
import { parentPort, workerData } from 'node:worker_threads'
import { DnsMetrics } from './metrics.ts'
import { createQueryPlane, type QueryPlaneConfig } from './query-plane.ts'
import { DnsServer } from './server.ts'
import { buildZoneIndex } from './zone-index.ts'
import type { ZoneSnapshot } from './zone-source.ts'

export interface QueryThreadData {
  config: QueryPlaneConfig
  listen: string[]
  metricsServer: string
  snapshot: ZoneSnapshot
}

export type ToThread = { type: 'zone'; snapshot: ZoneSnapshot } | { type: 'metrics'; id: number } | { type: 'stop' }
export type FromThread = { type: 'ready' } | { type: 'metrics'; id: number; json: unknown } | { type: 'failed'; message: string }

const port = parentPort!
const data = workerData as QueryThreadData
const metrics = new DnsMetrics(data.metricsServer, { processMetrics: false })
const plane = createQueryPlane(data.config, metrics, data.snapshot, data.snapshot.serial)
const server = new DnsServer(plane.handler, { listen: data.listen, reusePort: true, tcp: false })

port.on('message', (message: ToThread) => {
  if (message.type === 'zone') {
    plane.handler.setIndex(buildZoneIndex(message.snapshot, data.config.zone, message.snapshot.serial))
  } else if (message.type === 'metrics') {
    void metrics.registry.getMetricsAsJSON().then((json) => port.postMessage({ type: 'metrics', id: message.id, json } satisfies FromThread))
  } else {
    void server
      .close()
      .then(() => plane.close())
      .then(() => port.close())
  }
})

server.start().then(
  () => port.postMessage({ type: 'ready' } satisfies FromThread),
  (err: Error) => port.postMessage({ type: 'failed', message: err.message } satisfies FromThread),
)
