// host-local-style allocation: one address per range set, round-robin after the last one handed out.
import { bigIntToIp, ipToBigInt } from '../../src/util/cidr.ts'
import { rangeSetContains, rangeSetString } from './config.ts'
import type { IpamConfig, IpamRangeSet, IpamRoute } from './config.ts'
import { CNI_ERR, CniError } from './errors.ts'
import { ReservationStore } from './store.ts'
import type { LockOptions } from './store.ts'

export interface IpamIp {
  /** CIDR notation: the address with its subnet's prefix length. */
  address: string
  gateway: string
}

export interface IpamResult {
  ips: IpamIp[]
  routes: IpamRoute[]
}

export interface Attachment {
  containerID: string
  ifname: string
}

export interface AllocateArgs extends Attachment {
  config: IpamConfig
  lock?: LockOptions
}

export interface GcArgs {
  config: IpamConfig
  keep: Attachment[]
  lock?: LockOptions
}

const storeFor = (config: IpamConfig): ReservationStore => new ReservationStore(config.dataDir, config.name)

function ipConfigFor(set: IpamRangeSet, ip: string): IpamIp {
  const r = set.find((x) => rangeSetContains([x], ip))
  if (!r) throw new CniError(CNI_ERR.internal, `${ip} is not in range set ${rangeSetString(set)}`)
  return { address: `${ip}/${r.subnet.prefix}`, gateway: r.gateway }
}

/** Candidate addresses in host-local's order: after `last` (or from the first range's start), wrapping once. */
function* candidates(set: IpamRangeSet, last: string | undefined): Generator<{ ip: string; gateway: string }> {
  const bounds = set.map((r) => ({ start: ipToBigInt(r.rangeStart), end: ipToBigInt(r.rangeEnd), gw: r.gateway, family: r.subnet.family }))
  const total = bounds.reduce((n, b) => n + (b.end - b.start + 1n), 0n)
  let idx = 0
  let cur = bounds[0].start
  if (last !== undefined && rangeSetContains(set, last)) {
    idx = set.findIndex((r) => rangeSetContains([r], last))
    cur = ipToBigInt(last) + 1n
  }
  for (let n = 0n; n < total; n++) {
    if (cur > bounds[idx].end) {
      idx = (idx + 1) % bounds.length
      cur = bounds[idx].start
    }
    const b = bounds[idx]
    yield { ip: bigIntToIp(cur, b.family), gateway: b.gw }
    cur++
  }
}

/**
 * ADD: one address per range set. A container/interface that already holds an address in a
 * range set gets it back (idempotent ADD; host-local itself refuses a duplicate ADD).
 */
export async function allocate({ config, containerID, ifname, lock }: AllocateArgs): Promise<IpamResult> {
  const store = storeFor(config)
  return store.withLock(async () => {
    const all = await store.list()
    const held = await store.findByID(containerID, ifname, all)
    const taken = new Set(all.map((r) => r.ip))
    const made: string[] = []
    const ips: IpamIp[] = []
    try {
      for (const [index, set] of config.ranges.entries()) {
        const existing = held.find((ip) => rangeSetContains(set, ip))
        if (existing !== undefined) {
          ips.push(ipConfigFor(set, existing))
          continue
        }
        let got: string | undefined
        for (const c of candidates(set, await store.lastReservedIP(index))) {
          if (c.ip === c.gateway || taken.has(c.ip)) continue
          if (await store.reserve(containerID, ifname, c.ip, index)) {
            got = c.ip
            break
          }
        }
        if (got === undefined) {
          throw new CniError(CNI_ERR.internal, `failed to allocate for range ${index}: no IP addresses available in range set: ${rangeSetString(set)}`)
        }
        made.push(got)
        ips.push(ipConfigFor(set, got))
      }
    } catch (err) {
      for (const ip of made) await store.release(ip)
      throw err
    }
    return { ips, routes: config.routes.map((r) => ({ ...r })) }
  }, lock)
}

/** DEL: drop every address of this container/interface. Nothing held is success. */
export async function release({ config, containerID, ifname, lock }: AllocateArgs): Promise<string[]> {
  const store = storeFor(config)
  return store.withLock(() => store.releaseByID(containerID, ifname), lock)
}

/** CHECK: every range set must hold an address for this container/interface. */
export async function check({ config, containerID, ifname, lock }: AllocateArgs): Promise<IpamResult> {
  const store = storeFor(config)
  return store.withLock(async () => {
    const held = await store.findByID(containerID, ifname)
    const ips = config.ranges.map((set, index) => {
      const ip = held.find((x) => rangeSetContains(set, x))
      if (ip === undefined) {
        throw new CniError(CNI_ERR.internal, `failed to find address added by container ${containerID}`, `no reservation for ${ifname} in range set ${index} (${rangeSetString(set)})`)
      }
      return ipConfigFor(set, ip)
    })
    return { ips, routes: config.routes.map((r) => ({ ...r })) }
  }, lock)
}

/** GC: drop every reservation whose attachment is not in `keep`. Returns the IPs freed. */
export async function gc({ config, keep, lock }: GcArgs): Promise<string[]> {
  const store = storeFor(config)
  const exact = new Set(keep.map((a) => `${a.containerID.trim()}\n${a.ifname}`))
  const ids = new Set(keep.map((a) => a.containerID.trim()))
  return store.withLock(async () => {
    const freed: string[] = []
    for (const r of await store.list()) {
      const kept = r.ifname === '' ? ids.has(r.containerID) : exact.has(`${r.containerID}\n${r.ifname}`)
      if (kept) continue
      await store.release(r.ip)
      freed.push(r.ip)
    }
    return freed
  }, lock)
}
