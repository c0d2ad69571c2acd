// Collision-free allocation of service IPs and NodePorts. Each allocated value is a
// key in the store, claimed with create-if-absent, so several API servers sharing
// one etcd never hand out the same value twice.
import { isStoreError, type Store } from '../store/store.ts'
import { cidrAddress, cidrContains, cidrOffset, type Cidr } from '../util/cidr.ts'

/** An allocated value; `fresh` is false when the owner already held it (a retry, or a claim left behind). */
export interface Allocation<T> {
  value: T
  fresh: boolean
}

export class AllocationError extends Error {
  readonly field: string
  readonly value: string
  constructor(field: string, value: string, message: string) {
    super(message)
    this.field = field
    this.value = value
  }
}

interface Range {
  /** Store key prefix, e.g. `/registry/allocations/serviceips/`. */
  prefix: string
  /** First and last offsets that dynamic allocation may hand out (inclusive). */
  dynamicFirst: bigint
  dynamicLast: bigint
  /** Offsets a caller may ask for by value (inclusive). */
  first: bigint
  last: bigint
  render(offset: bigint): string
  what: string
}

class RangeAllocator {
  readonly range: Range
  readonly store: Store

  constructor(store: Store, range: Range) {
    this.store = store
    this.range = range
  }

  /** Claims `value` for `owner`; fails if another owner holds it. Re-claiming one's own value succeeds, not fresh. */
  async claim(offset: bigint, owner: string, field: string): Promise<Allocation<string>> {
    const value = this.range.render(offset)
    if (offset < this.range.first || offset > this.range.last) {
      throw new AllocationError(field, value, `provided ${this.range.what} is not in the valid range`)
    }
    try {
      await this.store.create(this.range.prefix + value, owner)
      return { value, fresh: true }
    } catch (err) {
      if (!isStoreError(err, 'KeyExists')) throw err
      const existing = await this.store.get(this.range.prefix + value)
      if (existing?.value === owner) return { value, fresh: false }
      throw new AllocationError(field, value, `provided ${this.range.what} is already allocated`)
    }
  }

  /** Claims a free value for `owner`, probing from a random start. */
  async next(owner: string, field: string): Promise<string> {
    const { dynamicFirst, dynamicLast } = this.range
    const span = dynamicLast - dynamicFirst + 1n
    const start = BigInt(Math.floor(Math.random() * Number(span < 1n << 52n ? span : 1n << 52n)))
    const tries = span < 65536n ? span : 65536n
    for (let i = 0n; i < tries; i++) {
      const offset = dynamicFirst + ((start + i) % span)
      const value = this.range.render(offset)
      try {
        await this.store.create(this.range.prefix + value, owner)
        return value
      } catch (err) {
        if (!isStoreError(err, 'KeyExists')) throw err
      }
    }
    throw new AllocationError(field, '', `range of ${this.range.what}s is full`)
  }

  async release(value: string, owner: string): Promise<void> {
    const kv = await this.store.get(this.range.prefix + value)
    if (!kv || kv.value !== owner) return
    try {
      await this.store.delete(kv.key, kv.modRevision)
    } catch (err) {
      if (!isStoreError(err, 'KeyNotFound') && !isStoreError(err, 'Conflict')) throw err
    }
  }

  /** Every claimed value with its owner. */
  async claimed(): Promise<Map<string, string>> {
    const { items } = await this.store.list(this.range.prefix)
    return new Map(items.map((kv) => [kv.key.slice(this.range.prefix.length), kv.value]))
  }
}

/** Service cluster IPs from one or two (dual-stack) CIDRs. */
export class ServiceIPAllocator {
  readonly cidrs: Cidr[]
  private readonly ranges: Map<4 | 6, { cidr: Cidr; alloc: RangeAllocator }>

  constructor(store: Store, cidrs: Cidr[]) {
    this.cidrs = cidrs
    this.ranges = new Map()
    for (const cidr of cidrs) {
      // The network address is never used; for IPv4 neither is the broadcast address.
      const last = cidr.family === 4 ? cidr.size - 2n : cidr.size - 1n
      // Like Kubernetes, the lower band is kept for addresses users pick (10.96.0.10 for
      // DNS); dynamic allocation uses the band above it while it has room.
      const band = cidr.size / 16n < 16n ? 16n : cidr.size / 16n > 256n ? 256n : cidr.size / 16n
      const dynamicFirst = last - band > 16n ? band : 1n
      this.ranges.set(cidr.family, {
        cidr,
        alloc: new RangeAllocator(store, {
          prefix: `/registry/allocations/serviceips/`,
          first: 1n,
          last,
          dynamicFirst,
          dynamicLast: last,
          render: (offset) => cidrAddress(cidr, offset),
          what: 'IP address',
        }),
      })
    }
  }

  families(): (4 | 6)[] {
    return this.cidrs.map((c) => c.family)
  }

  async allocate(family: 4 | 6, owner: string, field: string, requested?: string): Promise<Allocation<string>> {
    const range = this.ranges.get(family)
    if (!range) throw new AllocationError(field, requested ?? '', `IPv${family} is not configured on this cluster`)
    if (!requested) return { value: await range.alloc.next(owner, field), fresh: true }
    if (!cidrContains(range.cidr, requested)) {
      throw new AllocationError(field, requested, `failed to allocate IP ${requested}: the provided IP (${requested}) is not in the valid range. The range of valid IPs is ${range.cidr.text}`)
    }
    return range.alloc.claim(cidrOffset(range.cidr, requested), owner, field)
  }

  async release(ip: string, owner: string): Promise<void> {
    for (const { cidr, alloc } of this.ranges.values()) if (cidrContains(cidr, ip)) await alloc.release(ip, owner)
  }

  async claimed(): Promise<Map<string, string>> {
    const first = [...this.ranges.values()][0]
    return first ? first.alloc.claimed() : new Map()
  }
}

export const nodePortRangeDefault = { first: 30000, last: 32767 }

export class NodePortAllocator {
  private readonly alloc: RangeAllocator
  readonly first: number
  readonly last: number

  constructor(store: Store, first = nodePortRangeDefault.first, last = nodePortRangeDefault.last) {
    this.first = first
    this.last = last
    this.alloc = new RangeAllocator(store, {
      prefix: '/registry/allocations/nodeports/',
      first: BigInt(first),
      last: BigInt(last),
      dynamicFirst: BigInt(first),
      dynamicLast: BigInt(last),
      render: (offset) => String(offset),
      what: 'port',
    })
  }

  async allocate(owner: string, field: string, requested?: number): Promise<Allocation<number>> {
    if (requested === undefined) return { value: Number(await this.alloc.next(owner, field)), fresh: true }
    if (requested < this.first || requested > this.last) {
      throw new AllocationError(field, String(requested), `provided port is not in the valid range. The range of valid ports is ${this.first}-${this.last}`)
    }
    const { value, fresh } = await this.alloc.claim(BigInt(requested), owner, field)
    return { value: Number(value), fresh }
  }

  release(port: number, owner: string): Promise<void> {
    return this.alloc.release(String(port), owner)
  }

  claimed(): Promise<Map<string, string>> {
    return this.alloc.claimed()
  }
}
