// Makes Service addresses local on the node so the userspace proxier can listen on them: each
// is a /32 (/128) on the dummy interface weft-svc0 (as IPVS mode's kube-ipvs0). Kernels
// without dummy links get them on `lo` instead, marked so weft finds exactly its own: IPv4
// ones carry the label lo:weft-svc; IPv6 has no labels, so ours are the /128s with both
// nodad and noprefixroute (a combination nothing else on lo uses in practice).
//
// Linux answers ARP for any local IPv4 address on any interface, so every Service address
// would be claimed by the node on all its links (and fight a load balancer's speaker for
// load-balancer IPs). As IPVS mode's strictARP, the node's namespace gets
// net.ipv4.conf.all.arp_ignore=1 (answer only for addresses on the receiving interface) and
// arp_announce=2 (never a Service address as the source of the node's own ARP requests);
// stricter values already set stay. IPv6 needs nothing: NDP answers only for addresses on
// the receiving interface.
import { CommandError, getLink, getSysctl, ip, ipBatch, listAddrs, setSysctl, type AddrInfo, type NetnsRef } from '../../src/netlink/index.ts'
import { logger, type Logger } from '../../src/util/log.ts'
import type { Family } from '../model.ts'

export const SERVICE_DEVICE = 'weft-svc0'
export const LO_LABEL = 'lo:weft-svc'
export type AddressDevice = typeof SERVICE_DEVICE | 'lo'

export interface AddressManagerOptions {
  family: Family
  /** Where the addresses go; undefined: the process's own namespace. */
  netns?: NetnsRef
  log?: Logger
  /** Skip the dummy interface and use `lo` even where the kernel has dummy links (tests). */
  noDummy?: boolean
  /** Keep the node from answering ARP for Service addresses (IPVS's strictARP); default true. */
  strictArp?: boolean
}

interface AddrDetail extends AddrInfo {
  label?: string
  nodad?: boolean
  noprefixroute?: boolean
}

function isUnsupportedLinkType(err: unknown): boolean {
  return err instanceof CommandError && /Unknown device type|not supported|Operation not supported/i.test(err.stderr)
}

export class ServiceAddressManager {
  readonly family: Family
  readonly netns: NetnsRef
  readonly log: Logger
  readonly #noDummy: boolean
  readonly #strictArp: boolean
  #device: AddressDevice | undefined
  #created = false
  /** Our addresses as last seen or written; undefined: read the kernel first. */
  #ours: Set<string> | undefined

  constructor(opts: AddressManagerOptions) {
    this.family = opts.family
    this.netns = opts.netns
    this.log = opts.log ?? logger('proxy-userspace')
    this.#noDummy = opts.noDummy ?? false
    this.#strictArp = opts.strictArp ?? true
  }

  /** The device holding the addresses, once chosen (at the first change). */
  get device(): AddressDevice | undefined {
    return this.#device
  }

  /** The addresses weft owns on the node, read from the kernel. */
  async list(): Promise<Set<string>> {
    const device = await this.#ensureDevice()
    const [link] = await listAddrs(device, this.netns)
    const inet = this.family === 4 ? 'inet' : 'inet6'
    const width = this.family === 4 ? 32 : 128
    const ours = new Set<string>()
    for (const a of (link?.addr_info ?? []) as AddrDetail[]) {
      if (a.family !== inet || a.prefixlen !== width || a.scope === 'link') continue
      if (device === 'lo' && (this.family === 4 ? a.label !== LO_LABEL : !(a.nodad && a.noprefixroute))) continue
      ours.add(a.local)
    }
    this.#ours = ours
    return ours
  }

  /** Adds the addresses of `wanted` that are missing; `refresh` re-reads the kernel first. */
  async addMissing(wanted: ReadonlySet<string>, refresh = false): Promise<string[]> {
    const ours = refresh || this.#ours === undefined ? await this.list() : this.#ours
    const missing = [...wanted].filter((a) => !ours.has(a))
    if (missing.length === 0) return missing
    const device = await this.#ensureDevice()
    await this.#batch(missing.map((a) => `addr replace ${this.#addrArgs(a, device)}`))
    for (const a of missing) ours.add(a)
    return missing
  }

  /** Removes the addresses weft owns that are not in `wanted`. */
  async removeStale(wanted: ReadonlySet<string>): Promise<string[]> {
    const ours = this.#ours ?? (await this.list())
    const stale = [...ours].filter((a) => !wanted.has(a))
    if (stale.length === 0) return stale
    const device = await this.#ensureDevice()
    await this.#batch(stale.map((a) => `addr del ${a}/${this.family === 4 ? 32 : 128} dev ${device}`))
    for (const a of stale) ours.delete(a)
    return stale
  }

  /** Makes the owned set exactly `wanted`. */
  async sync(wanted: ReadonlySet<string>, refresh = false): Promise<{ added: string[]; removed: string[] }> {
    const added = await this.addMissing(wanted, refresh)
    const removed = await this.removeStale(wanted)
    return { added, removed }
  }

  /** Removes every address weft owns, and weft-svc0 once no family has addresses on it. */
  async removeAll(): Promise<void> {
    if (this.#device === undefined) {
      // Nothing chosen in this process: look where a previous run may have left addresses, creating nothing.
      this.#device = !this.#noDummy && (await getLink(SERVICE_DEVICE, this.netns)) !== undefined ? SERVICE_DEVICE : 'lo'
    }
    await this.list()
    await this.removeStale(new Set())
    if (this.#device !== SERVICE_DEVICE) return
    const [link] = await listAddrs(SERVICE_DEVICE, this.netns)
    const left = (link?.addr_info ?? []).filter((a) => a.scope !== 'link')
    if (left.length === 0) {
      await ip(['link', 'delete', 'dev', SERVICE_DEVICE], this.netns).catch(() => {})
      this.log.info({ device: SERVICE_DEVICE, created: this.#created }, 'removed the service address device')
    }
    this.#device = undefined
    this.#ours = undefined
  }

  #addrArgs(addr: string, device: AddressDevice): string {
    if (this.family === 4) return `${addr}/32 dev ${device}${device === 'lo' ? ` label ${LO_LABEL}` : ''}`
    return `${addr}/128 dev ${device} nodad${device === 'lo' ? ' noprefixroute' : ''}`
  }

  async #batch(lines: string[]): Promise<void> {
    try {
      await ipBatch(lines, this.netns)
    } catch (err) {
      this.#ours = undefined
      throw err
    }
  }

  async #ensureDevice(): Promise<AddressDevice> {
    if (this.#device !== undefined) return this.#device
    if (this.family === 4 && this.#strictArp) await this.#setStrictArp()
    this.#device = await this.#chooseDevice()
    return this.#device
  }

  async #setStrictArp(): Promise<void> {
    const wanted = { arp_ignore: 1, arp_announce: 2 }
    const set: Record<string, number> = {}
    try {
      for (const [name, value] of Object.entries(wanted)) {
        const key = `net.ipv4.conf.all.${name}`
        if (Number(await getSysctl(key, this.netns)) >= value) continue
        await setSysctl(key, String(value), this.netns)
        set[name] = value
      }
      if (Object.keys(set).length) this.log.info({ set }, 'strict ARP: the node no longer answers ARP for Service addresses on its links (--strict-arp=false leaves these alone)')
    } catch (err) {
      this.log.warn({ err }, 'cannot set net.ipv4.conf.all.arp_ignore=1 and arp_announce=2: the node answers ARP for Service addresses on every link; set them yourself, or pass --strict-arp=false')
    }
  }

  async #chooseDevice(): Promise<AddressDevice> {
    if (this.#noDummy) {
      this.log.info({ device: 'lo', label: LO_LABEL }, 'service addresses go on lo (dummy interface disabled)')
      return 'lo'
    }
    if ((await getLink(SERVICE_DEVICE, this.netns)) === undefined) {
      try {
        await ip(['link', 'add', SERVICE_DEVICE, 'type', 'dummy'], this.netns)
        this.#created = true
      } catch (err) {
        if (isUnsupportedLinkType(err)) {
          this.log.info({ device: 'lo', label: LO_LABEL }, 'the kernel has no dummy links: service addresses go on lo')
          return 'lo'
        }
        // Another proxier (the other family) may have created it meanwhile.
        if ((await getLink(SERVICE_DEVICE, this.netns)) === undefined) throw err
      }
      // No link-local address: every IPv6 address on the device is a Service's.
      await ip(['link', 'set', 'dev', SERVICE_DEVICE, 'addrgenmode', 'none'], this.netns).catch(() => {})
    }
    await ip(['link', 'set', 'dev', SERVICE_DEVICE, 'up'], this.netns)
    this.log.info({ device: SERVICE_DEVICE, created: this.#created }, 'service addresses go on the dummy interface')
    return SERVICE_DEVICE
  }
}
