// The contract both data planes implement: the shell hands them a whole ProxyState for their
// family and says which Service ports changed since the last sync.
import type { Family, ProxyState } from './model.ts'

export type ProxyMode = 'nftables' | 'userspace'

export interface SyncStats {
  /** Service ports whose rules (or listeners) were rewritten. */
  servicesChanged: number
  /** nft: operations in the transaction; userspace: listeners opened or closed. */
  operations: number
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
