// Runs a long-lived component (`weft proxy`, `weft dns`) until SIGTERM or SIGINT: then it is
// stopped, its API client closed, and the process exits 0.
import type { RestClient } from '../client/index.ts'

export async function serveUntilSignal(client: RestClient, start: (signal: AbortSignal) => Promise<{ stop(): Promise<void> }>): Promise<void> {
  const abort = new AbortController()
  let running: Promise<{ stop(): Promise<void> }> | undefined
  const stop = () => {
    if (abort.signal.aborted) return
    abort.abort()
    void (running ?? Promise.reject(new Error('not started')))
      .then((r) => r.stop(), () => undefined)
      .then(() => client.close())
      .then(() => process.exit(0))
  }
  process.once('SIGTERM', stop)
  process.once('SIGINT', stop)
  running = start(abort.signal)
  await running
}
