// The nftables client interface: the real one runs `nft`, the fake keeps tables in memory.
import type { NftFamily, Transaction } from './transaction.ts'

export interface TableObjects {
  chains: string[]
  sets: string[]
  maps: string[]
  /** The default element timeout of each set that has one, in seconds. */
  setTimeouts: Record<string, number>
}

export interface NftClient {
  /** Applies the whole transaction atomically, or throws and changes nothing. */
  apply(tx: Transaction): Promise<void>
  /** The names of the table's chains, sets and maps; undefined when the table does not exist. */
  listTable(family: NftFamily, table: string): Promise<TableObjects | undefined>
}
