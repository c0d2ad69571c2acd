// Kernel state for one bridge attachment, as `ip -batch` lines: a pure builder per
// namespace (host and pod), so ADD costs one `ip` process on each side.
import { isIP } from 'node:net'
import { readFile, writeFile } from 'node:fs/promises'
import { CommandError } from '../../src/netlink/exec.ts'
import { getLink, ipBatch } from '../../src/netlink/ip.ts'
import type { CniIpConfig, CniRoute } from '../protocol/result.ts'
import type { BridgeConf } from './config.ts'
import { randomMac } from './names.ts'

export interface VethPlan {
  hostVeth: string
  hostMac: string
  podIfname: string
  podMac: string
  netns: string
}

const v6 = (addr: string): boolean => isIP(addr.split('/')[0]) === 6

export function hostLines(conf: BridgeConf, plan: VethPlan): string[] {
  const mtu = conf.mtu === undefined ? '' : ` mtu ${conf.mtu}`
  const lines = [
    `link add ${plan.hostVeth}${mtu} address ${plan.hostMac} type veth peer name ${plan.podIfname}${mtu} address ${plan.podMac} netns ${plan.netns}`,
    `link set dev ${plan.hostVeth} master ${conf.bridge}`,
  ]
  if (conf.hairpinMode) lines.push(`link set dev ${plan.hostVeth} type bridge_slave hairpin on`)
  lines.push(`link set dev ${plan.hostVeth} up`)
  return lines
}

export function gatewayLines(conf: BridgeConf, gateways: readonly string[]): string[] {
  return gateways.map((gw) => `address replace ${gw} dev ${conf.bridge}${v6(gw) ? ' nodad' : ''}`)
}

export function podLines(ifname: string, ips: readonly CniIpConfig[], routes: readonly CniRoute[]): string[] {
  const lines = [`link set dev ${ifname} up`]
  for (const ip of ips) lines.push(`address add ${ip.address} dev ${ifname}${v6(ip.address) ? ' nodad' : ''}`)
  for (const r of routes) lines.push(`route add ${r.dst}${r.gw ? ` via ${r.gw}` : ''} dev ${ifname}`)
  return lines
}

type HostIp = (lines: readonly string[]) => Promise<void>

// How host-side lines run: a fresh `ip -batch` by default; the CNI service installs a
// long-lived IpSession instead.
let hostIp: HostIp = (lines) => ipBatch(lines)

export function setHostIp(run: HostIp | undefined): void {
  hostIp = run ?? ((lines) => ipBatch(lines))
}

// Host-side lines whose kernel work waits: deleting a link waits for an RCU grace period
// (tens of ms). They run in a process of their own, so the deletes of a burst of DELs
// overlap instead of queueing one after another in the service's one session.
let hostIpAlone: HostIp = (lines) => ipBatch(lines)

export function setHostIpAlone(run: HostIp | undefined): void {
  hostIpAlone = run ?? ((lines) => ipBatch(lines))
}

export function runHost(lines: readonly string[]): Promise<void> {
  return hostIp(lines)
}

type PodIp = (lines: readonly string[], netns: string) => Promise<void>

// How pod-side batches run: `ip -batch` started from this process by default; the CNI
// service starts them through its Spawner.
let podIp: PodIp = (lines, netns) => ipBatch(lines, netns)

export function setPodIp(run: PodIp | undefined): void {
  podIp = run ?? ((lines, netns) => ipBatch(lines, netns))
}

export function runPod(lines: readonly string[], netns: string): Promise<void> {
  return podIp(lines, netns)
}

/** Deletes a link in the host namespace; a missing one is success. */
export async function deleteHostLink(name: string): Promise<void> {
  try {
    await hostIpAlone([`link delete dev ${name}`])
  } catch (err) {
    if (!(err instanceof CommandError && /Cannot find device|does not exist/.test(err.stderr))) throw err
  }
}

export interface BridgeInfo {
  name: string
  mac: string
}

// Bridges this process has already made sure of, by name. A stale entry (the bridge was
// deleted behind our back) is dropped when an ADD fails and the ADD retried.
const known = new Map<string, BridgeInfo>()

export function forgetBridge(name: string): void {
  known.delete(name)
}

const pending = new Map<string, Promise<BridgeInfo>>()

/** Creates the bridge if missing (concurrent callers share one attempt) and returns its MAC. */
export function ensureBridge(conf: BridgeConf): Promise<BridgeInfo> | BridgeInfo {
  const cached = known.get(conf.bridge)
  if (cached) return cached
  let p = pending.get(conf.bridge)
  if (p === undefined) {
    p = createBridge(conf).finally(() => pending.delete(conf.bridge))
    pending.set(conf.bridge, p)
  }
  return p
}

async function createBridge(conf: BridgeConf): Promise<BridgeInfo> {
  let link = await getLink(conf.bridge)
  if (link === undefined) {
    // A fixed MAC: otherwise the bridge takes its lowest port's, and changes as ports come and go.
    const lines = [`link add name ${conf.bridge}${conf.mtu ? ` mtu ${conf.mtu}` : ''} address ${randomMac()} type bridge`]
    if (conf.promiscMode) lines.push(`link set dev ${conf.bridge} promisc on`)
    lines.push(`link set dev ${conf.bridge} up`)
    try {
      await ipBatch(lines)
    } catch (err) {
      // Another invocation created it first.
      if (!(err instanceof CommandError && /File exists/.test(err.stderr))) throw err
    }
    link = await getLink(conf.bridge)
  }
  if (link === undefined) throw new Error(`bridge ${conf.bridge} vanished while being created`)
  if (link.linkinfo?.info_kind !== undefined && link.linkinfo.info_kind !== 'bridge') {
    throw new Error(`${conf.bridge} already exists and is not a bridge (it is a ${link.linkinfo.info_kind})`)
  }
  if (!link.flags.includes('UP')) await ipBatch([`link set dev ${conf.bridge} up`])
  const info = { name: conf.bridge, mac: link.address ?? '' }
  known.set(conf.bridge, info)
  return info
}

/** Turns on forwarding in this process's namespace (/proc/sys/net is per namespace). */
export async function enableForwarding(family: 4 | 6): Promise<void> {
  const file = family === 4 ? '/proc/sys/net/ipv4/ip_forward' : '/proc/sys/net/ipv6/conf/all/forwarding'
  if ((await readFile(file, 'utf8')).trim() !== '1') await writeFile(file, '1')
}
