// The weft-cni bridge plugin: like the reference `bridge`, it runs in the caller's network
// namespace (the host side), puts a veth pair between a bridge there and the pod's netns,
// and configures what IPAM returns.
import { existsSync } from 'node:fs'
import { stat, statfs } from 'node:fs/promises'
import { isIP } from 'node:net'
import { isSpawnFailure } from '../../src/netfilter/exec-client.ts'
import { CommandError } from '../../src/netlink/exec.ts'
import { getLink, listAddrs, listRoutes } from '../../src/netlink/ip.ts'
import { addMasq, gcMasq, removeMasq } from '../masq.ts'
import type { PluginHandlers, PluginRequest } from '../protocol/dispatch.ts'
import { CniError, ERR_INTERNAL, ERR_INVALID_ENVIRONMENT, ERR_INVALID_NETWORK_CONFIG } from '../protocol/errors.ts'
import type { CniDns, CniIpConfig, CniResult, CniRoute } from '../protocol/result.ts'
import { parseIpamConfig } from '../ipam/config.ts'
import { AntiSpoofError, defaultAntiSpoofClient, gcGuards, guardProblem, installGuard, parseListedTable, portGuard, removeGuard, removeGuardPlan, type PortGuard } from './antispoof.ts'
import { checkLinkName, parseBridgeConf, WEFT_IPAM_TYPE, type BridgeConf } from './config.ts'
import { ipamAdd, ipamCommand } from './ipam.ts'
import { deleteHostLink, enableForwarding, ensureBridge, forgetBridge, gatewayLines, hostLines, podLines, runHost, runPod, type BridgeInfo, type VethPlan } from './links.ts'
import { hostVethName, randomMac } from './names.ts'

const familyOf = (addr: string): 4 | 6 => (isIP(addr.split('/')[0]) === 6 ? 6 : 4)

const NSFS_MAGIC = 0x6e736673

/**
 * CNI_NETNS must be a network namespace other than the plugin's own (else the "pod" end
 * would stay on the host side), named by an absolute path `ip` can take as one argument.
 */
async function requireNetns(netns: string): Promise<void> {
  if (!netns.startsWith('/') || !/^[A-Za-z0-9_.:@+/-]+$/.test(netns)) {
    throw new CniError(ERR_INVALID_ENVIRONMENT, 'CNI_NETNS must be an absolute path of a network namespace (letters, digits and _.:@+-/ only)', netns)
  }
  if (!existsSync(netns)) throw new CniError(ERR_INTERNAL, `failed to open netns "${netns}"`, 'the network namespace does not exist')
  const [fsInfo, target, own] = await Promise.all([statfs(netns), stat(netns), stat('/proc/self/ns/net')])
  if (fsInfo.type !== NSFS_MAGIC) throw new CniError(ERR_INVALID_ENVIRONMENT, `CNI_NETNS ${netns} is not a network namespace`)
  if (target.dev === own.dev && target.ino === own.ino) throw new CniError(ERR_INVALID_ENVIRONMENT, `CNI_NETNS ${netns} is the plugin's own network namespace`, 'give the pod its own namespace')
}

function requireIfname(ifname: string): void {
  const bad = checkLinkName(ifname)
  if (bad !== undefined) throw new CniError(ERR_INVALID_ENVIRONMENT, `CNI_IFNAME: ${bad}`, ifname)
}

/** Routes to install: IPAM's (a missing gw means the family's gateway) plus default routes for isDefaultGateway. */
export function plannedRoutes(conf: BridgeConf, ips: readonly CniIpConfig[], ipamRoutes: readonly CniRoute[]): { kernel: CniRoute[]; result: CniRoute[] } {
  const gw = new Map<4 | 6, string>()
  for (const ip of ips) if (ip.gateway && !gw.has(familyOf(ip.address))) gw.set(familyOf(ip.address), ip.gateway)
  const result = ipamRoutes.map((r) => ({ ...r }))
  if (conf.isDefaultGateway) {
    for (const [family, via] of gw) {
      const dst = family === 4 ? '0.0.0.0/0' : '::/0'
      if (!result.some((r) => r.dst === dst)) result.push({ dst, gw: via })
    }
  }
  const kernel = result.map((r) => (r.gw ? r : gw.has(familyOf(r.dst)) ? { ...r, gw: gw.get(familyOf(r.dst)) } : r))
  return { kernel, result }
}

function bridgeGateways(conf: BridgeConf, ips: readonly CniIpConfig[]): string[] {
  if (!conf.isGateway) return []
  const out: string[] = []
  for (const ip of ips) {
    if (!ip.gateway) continue
    const cidr = `${ip.gateway}/${ip.address.split('/')[1]}`
    if (!out.includes(cidr)) out.push(cidr)
  }
  return out
}

async function setUpHost(conf: BridgeConf, plan: VethPlan): Promise<BridgeInfo> {
  let bridge = await ensureBridge(conf)
  try {
    await runHost(hostLines(conf, plan))
  } catch (err) {
    if (!(err instanceof CommandError)) throw err
    // A bridge removed behind our back, or a veth left from an earlier failed ADD: start over once.
    forgetBridge(conf.bridge)
    await deleteHostLink(plan.hostVeth)
    bridge = await ensureBridge(conf)
    await runHost(hostLines(conf, plan))
  }
  return bridge
}

function setupError(env: PluginRequest['env'], err: unknown): unknown {
  return err instanceof CommandError ? new CniError(ERR_INTERNAL, `failed to set up ${env.ifname} for ${env.containerID}`, err.message) : err
}

// How the plugin reaches nftables for anti-spoofing (antispoof.ts): `nft` in its own
// network namespace, the node's.
let antiSpoofNft: ReturnType<typeof defaultAntiSpoofClient> | undefined
const nft = () => (antiSpoofNft ??= defaultAntiSpoofClient())

/** The pod's port guard is on by default; `nft` missing is then an error that says how to go on. */
function antiSpoofError(port: string, err: unknown): CniError {
  if (isSpawnFailure(err)) return new CniError(ERR_INTERNAL, `cannot guard ${port} against address spoofing: nft is not installed`, 'install nftables, or set "antiSpoof": false in the network config')
  const detail = err instanceof Error ? err.message : String(err)
  return new CniError(ERR_INTERNAL, `cannot guard ${port} against address spoofing`, detail)
}

async function guardPort(guard: PortGuard): Promise<void> {
  try {
    await installGuard(nft().client, guard)
  } catch (err) {
    throw antiSpoofError(guard.port, err)
  }
}

/**
 * Removes the port's guard: with antiSpoof on, usually one transaction; with it off (the
 * config changed since ADD), by reading the table first. Either way nothing is created, so
 * a node that opted out never gets the table. No nft at all means no guard to remove.
 */
async function unguardPort(conf: BridgeConf, network: string, port: string): Promise<void> {
  const { client, read } = nft()
  try {
    if (conf.antiSpoof) await removeGuard(client, read, network, port)
    else {
      const tx = removeGuardPlan(parseListedTable(await read()), network, port)
      if (tx) await client.apply(tx)
    }
  } catch (err) {
    if (isSpawnFailure(err)) return
    throw antiSpoofError(port, err)
  }
}

async function add(req: PluginRequest): Promise<CniResult> {
  const { env } = req
  const conf = parseBridgeConf(req.conf)
  requireIfname(env.ifname)
  await requireNetns(env.netns)
  // Config errors before any kernel change (IPAM and the host side run concurrently below).
  if (conf.ipamType === WEFT_IPAM_TYPE) parseIpamConfig(req.conf.raw)
  const plan: VethPlan = { hostVeth: hostVethName(env.containerID, env.ifname), hostMac: randomMac(), podIfname: env.ifname, podMac: randomMac(), netns: env.netns }
  // IPAM and the host side run side by side.
  const [ipamOutcome, hostOutcome] = await Promise.allSettled([
    conf.ipamType ? ipamAdd(conf.ipamType, req) : Promise.resolve<CniResult>({ cniVersion: req.conf.cniVersion }),
    setUpHost(conf, plan),
  ])
  const releaseIpam = async () => {
    if (conf.ipamType && ipamOutcome.status === 'fulfilled') await ipamCommand('DEL', conf.ipamType, req).catch(() => {})
  }
  if (ipamOutcome.status === 'rejected' || hostOutcome.status === 'rejected') {
    if (hostOutcome.status === 'fulfilled') await deleteHostLink(plan.hostVeth).catch(() => {})
    await releaseIpam()
    throw setupError(env, ipamOutcome.status === 'rejected' ? ipamOutcome.reason : (hostOutcome as PromiseRejectedResult).reason)
  }
  const ipam = ipamOutcome.value
  const bridge = hostOutcome.value
  const ips = ipam.ips ?? []
  const routes = plannedRoutes(conf, ips, ipam.routes ?? [])
  const attachment = { network: req.conf.name, containerID: env.containerID, ifname: env.ifname }
  let guarded = false
  try {
    // The guard goes in beside the addresses: no process runs in the pod before ADD returns.
    const guard = conf.antiSpoof ? portGuard(req.conf.name, plan.hostVeth, plan.podMac, ips.map((ip) => ip.address)) : undefined
    guarded = guard !== undefined
    await Promise.all([runHost(gatewayLines(conf, bridgeGateways(conf, ips))), runPod(podLines(env.ifname, ips, routes.kernel), env.netns), guard && guardPort(guard)])
    if (conf.isGateway) {
      const families = new Set(ips.filter((ip) => ip.gateway).map((ip) => familyOf(ip.address)))
      for (const f of families) await enableForwarding(f)
    }
    if (conf.ipMasq && ips.length > 0) await addMasq(attachment, ips.map((ip) => ip.address))
  } catch (err) {
    await deleteHostLink(plan.hostVeth).catch(() => {})
    if (guarded) await unguardPort(conf, req.conf.name, plan.hostVeth).catch(() => {})
    await releaseIpam()
    throw setupError(env, err instanceof AntiSpoofError ? antiSpoofError(plan.hostVeth, err) : err)
  }
  const mtu = conf.mtu === undefined ? {} : { mtu: conf.mtu }
  const dns = (conf.dns as CniDns | undefined) ?? ipam.dns
  return {
    cniVersion: req.conf.cniVersion,
    interfaces: [
      { name: bridge.name, mac: bridge.mac },
      { name: plan.hostVeth, mac: plan.hostMac, ...mtu },
      { name: env.ifname, mac: plan.podMac, ...mtu, sandbox: env.netns },
    ],
    ips: ips.map((ip) => ({ ...ip, interface: 2 })),
    routes: routes.result,
    ...(dns ? { dns } : {}),
  }
}

async function del(req: PluginRequest): Promise<void> {
  const { env } = req
  const conf = parseBridgeConf(req.conf)
  const port = hostVethName(env.containerID, env.ifname)
  const released = (async () => {
    if (conf.ipamType) await ipamCommand('DEL', conf.ipamType, req)
    // Deleting the host end takes the pod end with it; with the netns gone both are gone already.
    await deleteHostLink(port)
  })()
  // The guard goes at the same time: it only names this port, which is going too.
  const [linkAndAddress, guard] = await Promise.allSettled([released, unguardPort(conf, req.conf.name, port)])
  if (linkAndAddress.status === 'rejected') throw linkAndAddress.reason
  if (guard.status === 'rejected') throw guard.reason
  if (conf.ipMasq) await removeMasq({ network: req.conf.name, containerID: env.containerID, ifname: env.ifname })
}

async function check(req: PluginRequest): Promise<void> {
  const { env } = req
  const conf = parseBridgeConf(req.conf)
  const prev = req.conf.prevResult
  if (!prev) throw new CniError(ERR_INVALID_NETWORK_CONFIG, 'required prevResult missing')
  if (conf.ipamType) await ipamCommand('CHECK', conf.ipamType, req)
  await requireNetns(env.netns)
  const fail = (msg: string): never => {
    throw new CniError(ERR_INTERNAL, msg)
  }
  const pod = await getLink(env.ifname, env.netns)
  if (!pod) fail(`interface ${env.ifname} not found in ${env.netns}`)
  const want = prev.interfaces?.find((i) => i.name === env.ifname && i.sandbox)
  if (want?.mac && pod?.address !== want.mac) fail(`interface ${env.ifname} has MAC ${pod?.address}, expected ${want.mac}`)
  const host = await getLink(hostVethName(env.containerID, env.ifname))
  if (!host) fail(`host veth ${hostVethName(env.containerID, env.ifname)} not found`)
  if (host?.master !== conf.bridge) fail(`host veth ${host?.ifname} is not attached to bridge ${conf.bridge}`)
  const have = new Set((await listAddrs(env.ifname, env.netns)).flatMap((l) => l.addr_info.map((a) => `${a.local}/${a.prefixlen}`)))
  for (const ip of prev.ips ?? []) if (!have.has(ip.address)) fail(`address ${ip.address} not found on ${env.ifname}`)
  const routes = [...(await listRoutes(4, env.netns)), ...(await listRoutes(6, env.netns))]
  const norm = (dst: string): string => (dst === '0.0.0.0/0' || dst === '::/0' ? 'default' : dst)
  for (const r of prev.routes ?? []) {
    const found = routes.some((k) => (k.dst === norm(r.dst) || k.dst === r.dst) && (!r.gw || k.gateway === r.gw))
    if (!found) fail(`route ${r.dst}${r.gw ? ` via ${r.gw}` : ''} not found in ${env.netns}`)
  }
  if (conf.antiSpoof) {
    // The guard for the pod's MAC (as the result says, else as the interface has it) and addresses.
    let guard: PortGuard
    try {
      const podIndex = want ? prev.interfaces!.indexOf(want) : -1
      const own = (prev.ips ?? []).filter((ip) => ip.interface === undefined || ip.interface === podIndex)
      guard = portGuard(req.conf.name, hostVethName(env.containerID, env.ifname), want?.mac ?? pod?.address ?? '', own.map((ip) => ip.address))
    } catch (err) {
      return fail(`anti-spoofing: ${(err as Error).message}`)
    }
    let problem: string | undefined
    try {
      problem = guardProblem(parseListedTable(await nft().read()), guard)
    } catch (err) {
      throw antiSpoofError(guard.port, err)
    }
    if (problem) fail(`anti-spoofing: ${problem}`)
  }
}

async function gc(req: PluginRequest): Promise<void> {
  const conf = parseBridgeConf(req.conf)
  if (conf.ipamType) await ipamCommand('GC', conf.ipamType, req)
  if (conf.ipMasq) await gcMasq(req.conf.name, req.conf.validAttachments ?? [])
  // Guards of attachments that are gone, whether antiSpoof is on now or was before.
  const keep = (req.conf.validAttachments ?? []).map((a) => hostVethName(a.containerID, a.ifname))
  const { client, read } = nft()
  await gcGuards(client, read, req.conf.name, keep).catch((err: unknown) => {
    if (!isSpawnFailure(err)) throw antiSpoofError('the pod ports', err)
  })
}

async function status(req: PluginRequest): Promise<void> {
  const conf = parseBridgeConf(req.conf)
  if (conf.ipamType) await ipamCommand('STATUS', conf.ipamType, req)
}

export const bridgeHandlers: PluginHandlers = { add, del, check, gc, status }
