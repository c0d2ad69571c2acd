// Summaries by node, refreshed on demand: metrics-server scrapes every 15 s, so a summary
// younger than `maxAgeMs` is answered from memory; an older one is fetched again (one fetch
// per node at a time, however many requests wait for it). A node that does not answer
// within `timeoutMs`, refuses or answers nonsense is simply left out, as metrics-server
// leaves it out; that failure is remembered for `maxAgeMs` too, so a dead node costs one
// timeout per window rather than one per request.
import type { V1Node } from '@kubernetes/client-node'
import type { Summary } from '../kubelet/stats/summary.ts'
import type { Logger } from '../util/log.ts'
import type { SummaryFetcher } from './metrics-api-kubelet.ts'

export interface SummaryCacheOptions {
  /** A summary this young is not fetched again (default 10 s). */
  maxAgeMs: number
  /** How long one node may take to answer (default 5 s). */
  timeoutMs: number
  now: () => number
}

export const defaultSummaryCacheOptions: SummaryCacheOptions = { maxAgeMs: 10_000, timeoutMs: 5_000, now: Date.now }

interface Entry {
  at: number
  summary: Summary | undefined
}

export class SummaryCache {
  readonly #fetch: SummaryFetcher
  readonly #opts: SummaryCacheOptions
  readonly #log: Logger | undefined
  readonly #entries = new Map<string, Entry>()
  readonly #pending = new Map<string, Promise<Entry>>()

  constructor(fetch: SummaryFetcher, opts: Partial<SummaryCacheOptions> = {}, log?: Logger) {
    this.#fetch = fetch
    const d = defaultSummaryCacheOptions
    this.#opts = { maxAgeMs: opts.maxAgeMs ?? d.maxAgeMs, timeoutMs: opts.timeoutMs ?? d.timeoutMs, now: opts.now ?? d.now }
    this.#log = log
  }

  /** The summaries of those of `nodes` that answered, by node name. */
  async summaries(nodes: readonly V1Node[]): Promise<Map<string, Summary>> {
    this.#forgetOld()
    const entries = await Promise.all(nodes.map((n) => this.#entry(n)))
    const out = new Map<string, Summary>()
    nodes.forEach((n, i) => {
      const summary = entries[i]!.summary
      if (summary) out.set(n.metadata!.name!, summary)
    })
    return out
  }

  #entry(node: V1Node): Promise<Entry> {
    const name = node.metadata?.name ?? ''
    const cached = this.#entries.get(name)
    if (cached && this.#opts.now() - cached.at < this.#opts.maxAgeMs) return Promise.resolve(cached)
    let pending = this.#pending.get(name)
    if (!pending) {
      pending = this.#scrape(node).finally(() => this.#pending.delete(name))
      this.#pending.set(name, pending)
    }
    return pending
  }

  async #scrape(node: V1Node): Promise<Entry> {
    const name = node.metadata?.name ?? ''
    const abort = new AbortController()
    let timer: NodeJS.Timeout | undefined
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const err = new Error(`the kubelet did not answer within ${this.#opts.timeoutMs} ms`)
        abort.abort(err)
        reject(err)
      }, this.#opts.timeoutMs)
    })
    let summary: Summary | undefined
    try {
      // The race stands even against a fetcher that ignores its signal.
      summary = await Promise.race([this.#fetch(node, abort.signal), timedOut])
    } catch (err) {
      this.#log?.warn({ node: name, err: err instanceof Error ? err.message : String(err) }, 'failed to scrape node')
    } finally {
      clearTimeout(timer)
    }
    const entry = { at: this.#opts.now(), summary }
    this.#entries.set(name, entry)
    return entry
  }

  /** Nodes not asked about for a long while (deleted ones) are dropped. */
  #forgetOld(): void {
    const horizon = this.#opts.now() - 6 * this.#opts.maxAgeMs
    for (const [name, entry] of this.#entries) if (entry.at < horizon) this.#entries.delete(name)
  }
}
