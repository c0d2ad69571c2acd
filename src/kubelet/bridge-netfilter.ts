// Same-node pod → Service → pod. A pod sends to a ClusterIP; the node DNATs it to another
// pod on the same bridge. That pod replies straight to the caller's address, and the bridge
// switches the reply at layer 2, past the conntrack entry that would turn the source back
// into the ClusterIP: the caller sees a reply from an address it never called and resets.
// br_netfilter (with net.bridge.bridge-nf-call-iptables=1, per network namespace) sends
// bridged IPv4 through netfilter so conntrack un-DNATs it; -ip6tables does the same for IPv6.
//
// At start the agent checks for it, loads it with `modprobe br_netfilter` when it is
// missing, and otherwise falls back to masquerading that traffic (pod-masquerade.ts): the
// reply then goes to the bridge's own address and is routed, through conntrack, back.
// A sysctl found at 0 is left alone: br_netfilter turns it on when it loads, so 0 was set
// on purpose (it also changes every other bridge of the namespace), and masquerading costs
// only the callee seeing the node's bridge address instead of the caller's.
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { run } from '../netlink/index.ts'
import type { Logger } from '../util/log.ts'

export type HairpinMode = 'br_netfilter' | 'masquerade'

/** What /proc/sys/net/bridge says in the agent's network namespace. */
export interface BridgeNetfilterFacts {
  /** The directory exists: br_netfilter is loaded (or built in). */
  loaded: boolean
  /** net.bridge.bridge-nf-call-iptables, when loaded. */
  callIptables?: boolean
  /** net.bridge.bridge-nf-call-ip6tables, when loaded. */
  callIp6tables?: boolean
}

export type ModprobeResult = { ok: true } | { ok: false; error: string }

export interface HairpinPlan {
  ipv4: HairpinMode
  ipv6: HairpinMode
  reason: string
}

/** How same-node Service traffic gets its replies un-DNATed, from the facts after any modprobe. Pure. */
export function planHairpin(facts: BridgeNetfilterFacts, modprobe?: ModprobeResult): HairpinPlan {
  if (!facts.loaded) {
    const why = modprobe === undefined ? 'br_netfilter is not loaded' : modprobe.ok ? 'modprobe br_netfilter succeeded but /proc/sys/net/bridge is still missing' : `br_netfilter is not loaded and modprobe br_netfilter failed (${modprobe.error})`
    return { ipv4: 'masquerade', ipv6: 'masquerade', reason: `${why}: same-node Service traffic is masqueraded instead` }
  }
  const ipv4: HairpinMode = facts.callIptables ? 'br_netfilter' : 'masquerade'
  const ipv6: HairpinMode = facts.callIp6tables ? 'br_netfilter' : 'masquerade'
  const off = [...(facts.callIptables ? [] : ['bridge-nf-call-iptables']), ...(facts.callIp6tables ? [] : ['bridge-nf-call-ip6tables'])]
  const loadedBy = modprobe?.ok ? 'loaded br_netfilter (modprobe)' : 'br_netfilter is loaded'
  if (off.length === 0) return { ipv4, ipv6, reason: `${loadedBy} and the bridge calls netfilter` }
  return {
    ipv4,
    ipv6,
    reason: `${loadedBy} but net.bridge.${off.join(' and net.bridge.')} is 0 in this network namespace: same-node Service traffic of that family is masqueraded instead (set it to 1 and restart the agent to keep pod source addresses)`,
  }
}

async function readFlag(file: string): Promise<boolean | undefined> {
  try {
    return (await readFile(file, 'utf8')).trim() === '1'
  } catch {
    return undefined
  }
}

/** Reads the bridge sysctls of the calling process's network namespace (`procDir` for tests). */
export async function readBridgeNetfilter(procDir = '/proc/sys/net/bridge'): Promise<BridgeNetfilterFacts> {
  const [callIptables, callIp6tables] = await Promise.all([readFlag(join(procDir, 'bridge-nf-call-iptables')), readFlag(join(procDir, 'bridge-nf-call-ip6tables'))])
  if (callIptables === undefined && callIp6tables === undefined) return { loaded: false }
  return { loaded: true, callIptables: callIptables ?? false, callIp6tables: callIp6tables ?? false }
}

export async function modprobeBrNetfilter(): Promise<ModprobeResult> {
  try {
    await run('modprobe', ['br_netfilter'])
    return { ok: true }
  } catch (err) {
    return { ok: false, error: (err as Error).message }
  }
}

export interface HairpinCheckOptions {
  read?: () => Promise<BridgeNetfilterFacts>
  modprobe?: () => Promise<ModprobeResult>
  log: Logger
}

/** The agent's start-up check: reads, loads the module when it is missing, decides, and says which once. */
export async function checkHairpin(opts: HairpinCheckOptions): Promise<HairpinPlan> {
  const read = opts.read ?? (() => readBridgeNetfilter())
  let facts = await read()
  let modprobe: ModprobeResult | undefined
  if (!facts.loaded) {
    modprobe = await (opts.modprobe ?? modprobeBrNetfilter)()
    if (modprobe.ok) facts = await read()
  }
  const plan = planHairpin(facts, modprobe)
  opts.log.info({ ipv4: plan.ipv4, ipv6: plan.ipv6, reason: plan.reason }, 'same-node pod → Service → pod traffic: replies are un-DNATed by br_netfilter or masqueraded')
  return plan
}
