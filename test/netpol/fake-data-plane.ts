// An in-memory NetworkPolicy data plane for the enforcer's tests: records every sync and
// resync with the state it was handed, fails on demand, and answers drop counters.
import type { NetpolDataPlane, NetpolSyncStats } from '../../netpol/enforcer.ts'
import type { CompiledNode } from '../../netpol/model.ts'

export interface DataPlaneCall {
  kind: 'sync' | 'resync'
  state: CompiledNode
  at: number
  failed: boolean
}

export class FakeDataPlane implements NetpolDataPlane {
  readonly calls: DataPlaneCall[] = []
  /** The state of the last successful call: what the "kernel" holds. */
  programmed: CompiledNode | undefined
  failNext = 0
  cleanedUp = false
  drops = new Map<string, { packets: number; bytes: number }>()

  async sync(state: CompiledNode): Promise<NetpolSyncStats> {
    return this.#apply('sync', state)
  }

  async resync(state: CompiledNode): Promise<NetpolSyncStats> {
    return this.#apply('resync', state)
  }

  async dropCounters(): Promise<Map<string, { packets: number; bytes: number }>> {
    return new Map(this.drops)
  }

  async cleanup(): Promise<void> {
    this.cleanedUp = true
    this.programmed = undefined
  }

  /** The last state handed over, failed or not. */
  get last(): CompiledNode | undefined {
    return this.calls.at(-1)?.state
  }

  #apply(kind: 'sync' | 'resync', state: CompiledNode): NetpolSyncStats {
    const failed = this.failNext > 0
    this.calls.push({ kind, state, at: Date.now(), failed })
    if (failed) {
      this.failNext--
      throw new Error('injected data plane failure')
    }
    this.programmed = state
    return { full: kind === 'resync', setsChanged: state.sets.size, podsChanged: state.pods.size, elementsAdded: 0, elementsRemoved: 0, durationMs: 0 }
  }
}
