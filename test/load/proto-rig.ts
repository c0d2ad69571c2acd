// Drives a protocol client through the ClientFactory contract, as the engine does: tokens in,
// sink.done calls collected, with a check that every token ends exactly once.
import type { ClientFactory, ClientOptions, ErrorClass, LoadClient, ResolvedTarget } from '../../load/types.ts'

export interface Outcome {
  error: ErrorClass | undefined
  endpoint: string | undefined
}

export interface Collector {
  results: Map<number, Outcome>
  /** Tokens reported more than once. */
  repeated: number[]
  sink: ClientOptions['sink']
  /** Resolves once `count` tokens ended; rejects after `ms` saying how many did. */
  waitFor(count: number, ms?: number): Promise<void>
  /** How many ended with each class ('ok' for none). */
  tally(): Record<string, number>
}

export function collector(): Collector {
  const results = new Map<number, Outcome>()
  const repeated: number[] = []
  let waiting: { count: number; resolve: () => void } | undefined
  const c: Collector = {
    results,
    repeated,
    sink: {
      done(token, error, endpoint) {
        if (results.has(token)) repeated.push(token)
        results.set(token, { error, endpoint })
        if (waiting && results.size >= waiting.count) {
          const w = waiting
          waiting = undefined
          w.resolve()
        }
      },
    },
    waitFor(count, ms = 10_000) {
      if (results.size >= count) return Promise.resolve()
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiting = undefined
          reject(new Error(`only ${results.size} of ${count} requests ended within ${ms} ms: ${JSON.stringify(c.tally())}`))
        }, ms)
        waiting = {
          count,
          resolve: () => {
            clearTimeout(timer)
            resolve()
          },
        }
      })
    },
    tally() {
      const out: Record<string, number> = {}
      for (const { error } of results.values()) out[error ?? 'ok'] = (out[error ?? 'ok'] ?? 0) + 1
      return out
    },
  }
  return c
}

export function target(fields: Partial<ResolvedTarget> & Pick<ResolvedTarget, 'protocol' | 'endpoints'>): ResolvedTarget {
  return {
    tls: false,
    authority: 'load.test',
    insecure: false,
    path: '/',
    method: 'GET',
    headers: [],
    description: 'a test target',
    spec: 'test',
    ...fields,
  }
}

export interface Driven {
  client: LoadClient
  collected: Collector
}

/** A client from `factory`, with defaults for what a test does not set. */
export function drive(factory: ClientFactory, t: ResolvedTarget, options: Partial<Omit<ClientOptions, 'target' | 'sink'>> = {}): Driven {
  const collected = collector()
  const client = factory({ target: t, connections: 1, keepAlive: true, timeoutMs: 5000, identifyEndpoints: false, ...options, sink: collected.sink })
  return { client, collected }
}

/** Sends tokens from..from+count-1 and waits for all of them. */
export async function run(d: Driven, count: number, from = 0, ms?: number): Promise<void> {
  const before = d.collected.results.size
  for (let i = 0; i < count; i++) d.client.send(from + i)
  await d.collected.waitFor(before + count, ms)
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
