// The kubelet's CNI runtime (what libcni is to kubelet and containerd): runs the plugins
// of the node's network list over the real CNI protocol and keeps the attachment cache.
import { pluginConf, invocationOrder, type GcAttachment, type NetConfList } from '../../../cni/protocol/config.ts'
import type { CniCommand } from '../../../cni/protocol/env.ts'
import { validateContainerID, validateInterfaceName } from '../../../cni/protocol/env.ts'
import { CniError, ERR_DECODING_FAILURE, ERR_INCOMPATIBLE_VERSION, ERR_INVALID_ENVIRONMENT, toCniError } from '../../../cni/protocol/errors.ts'
import { parseResult, toVersion, type CniResult } from '../../../cni/protocol/result.ts'
import { compareVersions, isSupportedVersion, LATEST_VERSION, type CniVersion } from '../../../cni/protocol/version.ts'
import { CniPluginError, execPlugin, findPlugin } from './exec-plugin.ts'
import { loadNetworkFromDir, type LoadedNetwork } from './network-config.ts'
import { highestCommonVersion, parseVersionInfo, type PluginVersionInfo } from './versions.ts'
import {
  deleteCachedAttachment,
  listCachedAttachments,
  readCachedAttachment,
  writeCachedAttachment,
  type CachedAttachment,
} from './result-cache.ts'

export interface CniRuntimeOptions {
  /** Where plugin binaries are looked up by `type`, in order (CNI_PATH). */
  binDirs: string[]
  /** Where the network config lives (`*.conflist`, `*.conf`, `*.json`). */
  confDir: string
  /** libcni-style cache: `<cacheDir>/results/<network>-<containerID>-<ifName>`. */
  cacheDir: string
  /** Run plugins inside this network namespace (name or path); unset: the caller's own. */
  hostNetns?: string
  /** Per plugin invocation; the plugin is killed when it runs longer. Default 60 s. */
  timeoutMs?: number
}

export interface PortMapping {
  hostPort: number
  containerPort: number
  protocol: 'tcp' | 'udp' | 'sctp'
  hostIP?: string
}

export interface BandwidthLimits {
  /** Bits per second into the pod. */
  ingressRate?: number
  /** Bits. */
  ingressBurst?: number
  egressRate?: number
  egressBurst?: number
}

/** Values for plugins that declare the capability of the same name. */
export interface CapabilityArgs {
  portMappings?: PortMapping[]
  bandwidth?: BandwidthLimits
  [capability: string]: unknown
}

export interface CniAttachment {
  containerID: string
  /** Path of the pod's network namespace; may be '' for DEL when it is gone. */
  netns: string
  ifName: string
  /** CNI_ARGS (K8S_POD_NAMESPACE, K8S_POD_NAME, K8S_POD_INFRA_CONTAINER_ID, K8S_POD_UID). */
  args?: Record<string, string>
  capabilityArgs?: CapabilityArgs
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/** CNI_ARGS pairs, with IgnoreUnknown=1 first (as kubelet sends) so plugins skip keys they do not know. */
export function cniArgPairs(args: Record<string, string> = {}): [string, string][] {
  const pairs: [string, string][] = []
  if (!('IgnoreUnknown' in args)) pairs.push(['IgnoreUnknown', '1'])
  for (const [k, v] of Object.entries(args)) {
    if (k === '' || /[;=]/.test(k) || /[;=]/.test(v)) {
      throw new CniError(ERR_INVALID_ENVIRONMENT, 'CNI_ARGS keys and values cannot contain ";" or "="', `${k}=${v}`)
    }
    pairs.push([k, v])
  }
  return pairs
}

function formatArgs(pairs: readonly [string, string][]): string {
  return pairs.map(([k, v]) => `${k}=${v}`).join(';')
}

/** A plugin's ADD output as a result in the list's version. */
function readResult(out: unknown, list: NetConfList, plugin: string): CniResult {
  const fail = (msg: string, details = ''): never => {
    throw new CniPluginError(plugin, 'ADD', new CniError(ERR_DECODING_FAILURE, msg, details), 0, '')
  }
  if (!isObject(out)) return fail('plugin returned no result')
  if (!isSupportedVersion(out.cniVersion)) {
    throw new CniPluginError(plugin, 'ADD', new CniError(ERR_INCOMPATIBLE_VERSION, 'plugin returned a result of an unsupported version', String(out.cniVersion)), 0, '')
  }
  try {
    return toVersion(parseResult(out, out.cniVersion), list.cniVersion)
  } catch (err) {
    const e = toCniError(err)
    return fail(`invalid result: ${e.msg}`, e.details)
  }
}

function cachedResult(entry: CachedAttachment | undefined, list: NetConfList): CniResult | undefined {
  if (entry?.result === undefined || !isSupportedVersion(entry.result.cniVersion)) return undefined
  try {
    return toVersion(parseResult(entry.result, entry.result.cniVersion), list.cniVersion)
  } catch {
    return undefined
  }
}

/**
 * The reference portmap and bandwidth plugins act only on their capability's value (host
 * ports, bandwidth limits) and hand prevResult on unchanged without it. Skipping them for
 * pods that have no such value saves two process starts per ADD and DEL — most of a pod's
 * network setup time — and changes nothing. Other plugins are always run, whatever their
 * capabilities, as libcni does (Calico, for one, declares portMappings on its main plugin).
 */
const capabilityOnlyPlugins = new Set(['portmap', 'bandwidth'])

function isEmptyValue(v: unknown): boolean {
  if (v === undefined || v === null) return true
  if (Array.isArray(v)) return v.length === 0
  return isObject(v) && Object.keys(v).length === 0
}

export function pluginIsIdle(conf: Record<string, unknown>, capabilityArgs: CapabilityArgs): boolean {
  if (!capabilityOnlyPlugins.has(String(conf.type)) || !isObject(conf.capabilities)) return false
  const declared = Object.entries(conf.capabilities).filter(([, on]) => on === true).map(([name]) => name)
  return declared.length > 0 && declared.every((name) => isEmptyValue(capabilityArgs[name]))
}

export class CniRuntime {
  readonly opts: CniRuntimeOptions

  constructor(opts: CniRuntimeOptions) {
    this.opts = { ...opts, binDirs: [...opts.binDirs] }
  }

  /** The network in use: re-read on every call, so a conflist written later is picked up. */
  loadNetwork(): Promise<LoadedNetwork> {
    return loadNetworkFromDir(this.opts.confDir)
  }

  private async invoke(
    command: CniCommand,
    conf: Record<string, unknown>,
    target: { containerID?: string; netns?: string; ifName?: string; args?: string } = {},
  ): Promise<unknown> {
    const file = await findPlugin(String(conf.type), this.opts.binDirs)
    return execPlugin({
      file,
      command,
      ...target,
      binDirs: this.opts.binDirs,
      stdin: JSON.stringify(conf),
      timeoutMs: this.opts.timeoutMs,
      hostNetns: this.opts.hostNetns,
    })
  }

  async addNetwork(a: CniAttachment): Promise<CniResult> {
    validateContainerID(a.containerID)
    validateInterfaceName(a.ifName)
    const net = await this.loadNetwork()
    const { list } = net
    const pairs = cniArgPairs(a.args)
    const capabilityArgs = a.capabilityArgs ?? {}
    const target = { containerID: a.containerID, netns: a.netns, ifName: a.ifName, args: formatArgs(pairs) }
    let result: CniResult | undefined
    for (const i of invocationOrder(list, 'ADD')) {
      const conf = pluginConf(list, i, { prevResult: result, runtimeConfig: capabilityArgs })
      if (result !== undefined && pluginIsIdle(conf, capabilityArgs)) continue
      result = readResult(await this.invoke('ADD', conf, target), list, String(conf.type))
    }
    if (result === undefined) throw new CniError(ERR_DECODING_FAILURE, `network ${list.name} produced no result`)
    await writeCachedAttachment(this.opts.cacheDir, {
      networkName: list.name,
      containerID: a.containerID,
      ifName: a.ifName,
      netns: a.netns,
      cniArgs: pairs,
      capabilityArgs,
      config: net.text,
      result: JSON.parse(JSON.stringify(result)) as Record<string, unknown>,
    })
    return result
  }

  /**
   * Runs DEL through the plugins in reverse order with the cached result as prevResult
   * (none is fine), then drops the cache entry. Safe to repeat. Capability args default
   * to the ones the attachment was added with.
   */
  async delNetwork(a: CniAttachment): Promise<void> {
    validateContainerID(a.containerID)
    validateInterfaceName(a.ifName)
    const { list } = await this.loadNetwork()
    await this.delWithList(list, a)
  }

  private async delWithList(list: NetConfList, a: CniAttachment): Promise<void> {
    const entry = await readCachedAttachment(this.opts.cacheDir, list.name, a.containerID, a.ifName)
    const prevResult = cachedResult(entry, list)
    const capabilityArgs = a.capabilityArgs ?? entry?.capabilityArgs ?? {}
    const args = a.args !== undefined ? cniArgPairs(a.args) : (entry?.cniArgs ?? cniArgPairs())
    const target = { containerID: a.containerID, netns: a.netns, ifName: a.ifName, args: formatArgs(args) }
    for (const i of invocationOrder(list, 'DEL')) {
      const conf = pluginConf(list, i, { prevResult, runtimeConfig: capabilityArgs })
      if (pluginIsIdle(conf, capabilityArgs)) continue
      await this.invoke('DEL', conf, target)
    }
    await deleteCachedAttachment(this.opts.cacheDir, list.name, a.containerID, a.ifName)
  }

  /** CHECK with the cached result; fails when the attachment was never added. Skipped when the list sets disableCheck. */
  async checkNetwork(a: CniAttachment): Promise<void> {
    validateContainerID(a.containerID)
    validateInterfaceName(a.ifName)
    const { list } = await this.loadNetwork()
    if (list.disableCheck) return
    const entry = await readCachedAttachment(this.opts.cacheDir, list.name, a.containerID, a.ifName)
    const prevResult = cachedResult(entry, list)
    if (entry === undefined || prevResult === undefined) {
      throw new CniError(ERR_INVALID_ENVIRONMENT, `no cached result for ${a.containerID}/${a.ifName} on network ${list.name}`, 'CHECK needs a successful ADD first')
    }
    const capabilityArgs = a.capabilityArgs ?? entry.capabilityArgs
    const args = a.args !== undefined ? cniArgPairs(a.args) : entry.cniArgs
    const target = { containerID: a.containerID, netns: a.netns, ifName: a.ifName, args: formatArgs(args) }
    for (const i of invocationOrder(list, 'CHECK')) {
      const conf = pluginConf(list, i, { prevResult, runtimeConfig: capabilityArgs })
      if (pluginIsIdle(conf, capabilityArgs)) continue
      await this.invoke('CHECK', conf, target)
    }
  }

  /**
   * As libcni's GCNetworkList: DEL every cached attachment of this network that is not
   * in `valid` (with the netns, args and capability args it was added with), then, for
   * 1.1.0+ lists, GC in every plugin with `cni.dev/valid-attachments`. Errors are
   * collected; the first is thrown with the others in its details.
   */
  async gcNetwork(valid: readonly GcAttachment[]): Promise<void> {
    const { list } = await this.loadNetwork()
    if (list.disableGC) return
    const keep = new Set(valid.map((v) => `${v.containerID}\u0000${v.ifname}`))
    const errors: CniError[] = []
    for (const entry of await listCachedAttachments(this.opts.cacheDir, list.name)) {
      if (keep.has(`${entry.containerID}\u0000${entry.ifName}`)) continue
      try {
        await this.delWithList(list, {
          containerID: entry.containerID,
          netns: entry.netns,
          ifName: entry.ifName,
          args: Object.fromEntries(entry.cniArgs),
          capabilityArgs: entry.capabilityArgs,
        })
      } catch (err) {
        errors.push(toCniError(err))
      }
    }
    if (compareVersions(list.cniVersion, '1.1.0') >= 0) {
      const attachments = valid.map((v) => ({ containerID: v.containerID, ifname: v.ifname }))
      for (const i of invocationOrder(list, 'GC')) {
        try {
          await this.invoke('GC', { ...pluginConf(list, i), 'cni.dev/valid-attachments': attachments })
        } catch (err) {
          errors.push(toCniError(err))
        }
      }
    }
    if (errors.length === 1) throw errors[0]
    if (errors.length > 1) {
      throw new CniError(errors[0].code, `garbage collection of network ${list.name} failed`, errors.map((e) => e.message).join('; '))
    }
  }

  /** Resolves when the network is ready: a config exists and (1.1.0+) every plugin's STATUS succeeds. */
  async status(): Promise<void> {
    const { list } = await this.loadNetwork()
    if (compareVersions(list.cniVersion, '1.1.0') < 0) return
    for (const i of invocationOrder(list, 'ADD')) await this.invoke('STATUS', pluginConf(list, i))
  }

  /** A plugin's VERSION answer (which spec versions it accepts). */
  async pluginVersionInfo(type: string): Promise<PluginVersionInfo> {
    return parseVersionInfo(await this.invoke('VERSION', { cniVersion: LATEST_VERSION, type }), type)
  }

  /**
   * The highest CNI version every named plugin supports (list the IPAM plugin too): the
   * cniVersion to write into a conflist that chains them.
   */
  async negotiateVersion(types: readonly string[]): Promise<CniVersion> {
    const lists: Record<string, string[]> = {}
    for (const type of types) lists[type] = (await this.pluginVersionInfo(type)).supportedVersions
    return highestCommonVersion(lists)
  }

  /** The cached attachments of the current network (all networks when none is configured). */
  async listAttachments(): Promise<CachedAttachment[]> {
    let name: string | undefined
    try {
      name = (await this.loadNetwork()).list.name
    } catch {
      name = undefined
    }
    return listCachedAttachments(this.opts.cacheDir, name)
  }

  /** The result ADD cached for an attachment, in the current network's version. */
  async getCachedResult(containerID: string, ifName: string): Promise<CniResult | undefined> {
    const { list } = await this.loadNetwork()
    return cachedResult(await readCachedAttachment(this.opts.cacheDir, list.name, containerID, ifName), list)
  }
}
