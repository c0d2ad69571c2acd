// The contract both data planes implement: the shell hands them a whole ProxyState for their
// family and says which Service ports changed since the last sync.
import type { Family, ProxyState } from './model.ts'

export type ProxyMode = 'nftables' | 'userspace'

/** A Service port the data plane would not program (its rules did not pass the renderer's checks). */
export interface RefusedPort {
  namespace: string
  name: string
  /** What was refused and why. */
  message: string
}

export interface SyncStats {
  /** Service ports whose rules (or listeners) were rewritten. */
  servicesChanged: number
  /** nft: operations in the transaction; userspace: listeners opened or closed. */
  operations: number
  /** Every Service port left out of the data plane now, by port id (whole set, not just this sync's). */
  refused?: ReadonlyMap<string, RefusedPort>
}

export interface Proxier {
  readonly mode: ProxyMode
  readonly family: Family
  /**
   * Makes the data plane match `state`. `changed` holds the ids of the Service ports that
   * changed since the last successful sync (removed ones included); 'all' asks for a full
   * resync that also repairs whatever else changed the kernel state. A failed sync throws
   * and leaves the previous configuration working; the next call with the same or more
   * changes retries.
   */
  sync(state: ProxyState, changed: ReadonlySet<string> | 'all'): Promise<SyncStats>
  /** Stops the proxier. nftables leaves its rules in place (a restart keeps connections working); userspace closes its listeners. */
  close(): Promise<void>
}
