// An NftClient that joins the transactions its callers apply at about the same time into one
// `nft -f` run: the warm CNI service guards a burst of 100 pods' ports at once, and 100 nft
// processes, each loading its cache and taking the kernel's commit lock in turn, cost more
// than the pods' whole ADD. While one run is under way, what arrives waits for the next.
// A joined run that fails says nothing about which part failed: each part is then applied
// alone, in order, so each caller gets its own transaction's outcome (and one bad
// transaction fails alone).
import type { NftClient, TableObjects } from './client.ts'
import { Transaction, type NftFamily } from './transaction.ts'

interface Pending {
  tx: Transaction
  resolve: () => void
  reject: (err: unknown) => void
}

export class BatchingNftClient implements NftClient {
  readonly #inner: NftClient
  #queue: Pending[] = []
  #running = false
  /** How many nft runs the joined transactions took (tests and the bench read it). */
  runs = 0

  constructor(inner: NftClient) {
    this.#inner = inner
  }

  apply(tx: Transaction): Promise<void> {
    if (tx.size === 0) return Promise.resolve()
    return new Promise((resolve, reject) => {
      this.#queue.push({ tx, resolve, reject })
      if (!this.#running) {
        this.#running = true
        // Callers of the same turn of the event loop join the first run.
        setImmediate(() => void this.#drain())
      }
    })
  }

  listTable(family: NftFamily, table: string): Promise<TableObjects | undefined> {
    return this.#inner.listTable(family, table)
  }

  async #drain(): Promise<void> {
    try {
      while (this.#queue.length > 0) {
        const batch = this.#queue
        this.#queue = []
        // One run per table, in the order the first of each arrived.
        const byTable = new Map<string, Pending[]>()
        for (const p of batch) {
          const key = `${p.tx.family} ${p.tx.table}`
          const list = byTable.get(key)
          if (list) list.push(p)
          else byTable.set(key, [p])
        }
        for (const group of byTable.values()) await this.#run(group)
      }
    } finally {
      this.#running = false
    }
  }

  async #run(group: Pending[]): Promise<void> {
    if (group.length > 1) {
      const joined = new Transaction(group[0]!.tx.family, group[0]!.tx.table)
      // Every operation passed the grammar checks when its own transaction was built.
      for (const p of group) for (const op of p.tx.operations) joined.push(op, { checked: true })
      this.runs++
      try {
        await this.#inner.apply(joined)
        for (const p of group) p.resolve()
        return
      } catch {
        // Each alone below, to say whose it was.
      }
    }
    for (const p of group) {
      this.runs++
      try {
        await this.#inner.apply(p.tx)
        p.resolve()
      } catch (err) {
        p.reject(err)
      }
    }
  }
}
