import { CniError, ERR_DECODING_FAILURE, ERR_INCOMPATIBLE_VERSION, ERR_INVALID_NETWORK_CONFIG } from './errors.ts'
import { parseResult, toVersion, type CniResult } from './result.ts'
import { compareVersions, isSupportedVersion, requireSupportedVersion, SUPPORTED_VERSIONS, type CniVersion } from './version.ts'

export interface GcAttachment {
  containerID: string
  ifname: string
}

/** A plugin's stdin configuration. `raw` holds every key as given, unknown ones included. */
export interface NetConf {
  cniVersion: CniVersion
  name: string
  type: string
  prevResult?: CniResult
  runtimeConfig: Record<string, unknown>
  capabilities: Record<string, boolean>
  /** From `cni.dev/valid-attachments` (or the older `cni.dev/attachments`), GC only. */
  validAttachments?: GcAttachment[]
  raw: Record<string, unknown>
}

export interface NetConfList {
  cniVersion: CniVersion
  name: string
  disableCheck: boolean
  disableGC: boolean
  plugins: Record<string, unknown>[]
  raw: Record<string, unknown>
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function decode(text: string): Record<string, unknown> {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (err) {
    throw new CniError(ERR_DECODING_FAILURE, 'failed to decode network configuration', (err as Error).message)
  }
  if (!isObject(value)) throw new CniError(ERR_DECODING_FAILURE, 'network configuration must be a JSON object')
  return value
}

function requireString(obj: Record<string, unknown>, key: string, where: string): string {
  const v = obj[key]
  if (typeof v !== 'string' || v === '') {
    throw new CniError(ERR_INVALID_NETWORK_CONFIG, `${where} is missing "${key}"`)
  }
  return v
}

function optionalObject(obj: Record<string, unknown>, key: string): Record<string, unknown> | undefined {
  const v = obj[key]
  if (v === undefined || v === null) return undefined
  if (!isObject(v)) throw new CniError(ERR_INVALID_NETWORK_CONFIG, `"${key}" must be an object`)
  return v
}

function parseAttachments(v: unknown): GcAttachment[] {
  if (!Array.isArray(v)) throw new CniError(ERR_INVALID_NETWORK_CONFIG, '"cni.dev/valid-attachments" must be an array')
  return v.map((a, n) => {
    if (!isObject(a) || typeof a.containerID !== 'string' || typeof a.ifname !== 'string') {
      throw new CniError(ERR_INVALID_NETWORK_CONFIG, `valid attachment ${n} needs containerID and ifname`)
    }
    return { containerID: a.containerID, ifname: a.ifname }
  })
}

export function parseNetConf(text: string): NetConf {
  const raw = decode(text)
  const cniVersion = requireSupportedVersion(raw.cniVersion)
  const name = requireString(raw, 'name', 'network configuration')
  const type = requireString(raw, 'type', 'network configuration')
  const capabilities: Record<string, boolean> = {}
  for (const [k, v] of Object.entries(optionalObject(raw, 'capabilities') ?? {})) capabilities[k] = v === true
  const conf: NetConf = {
    cniVersion,
    name,
    type,
    runtimeConfig: optionalObject(raw, 'runtimeConfig') ?? {},
    capabilities,
    raw,
  }
  if (raw.prevResult !== undefined && raw.prevResult !== null) {
    try {
      conf.prevResult = parseResult(raw.prevResult, cniVersion)
    } catch (err) {
      const e = err as CniError
      throw new CniError(ERR_INVALID_NETWORK_CONFIG, `invalid prevResult: ${e.msg}`, e.details)
    }
  }
  const attachments = raw['cni.dev/valid-attachments'] ?? raw['cni.dev/attachments']
  if (attachments !== undefined) conf.validAttachments = parseAttachments(attachments)
  return conf
}

function flag(v: unknown, key: string): boolean {
  if (v === undefined) return false
  if (typeof v === 'boolean') return v
  // libcni also accepts the strings "true" and "false".
  if (v === 'true' || v === 'false') return v === 'true'
  throw new CniError(ERR_INVALID_NETWORK_CONFIG, `"${key}" must be a boolean`)
}

/** Picks the highest supported entry of `cniVersions` (1.1.0+), else checks `cniVersion`. */
function listVersion(raw: Record<string, unknown>): CniVersion {
  const versions = raw.cniVersions
  if (Array.isArray(versions) && versions.length > 0) {
    const usable = versions.filter(isSupportedVersion).sort(compareVersions)
    if (usable.length === 0) {
      throw new CniError(
        ERR_INCOMPATIBLE_VERSION,
        'incompatible CNI versions',
        `config lists [${versions.map(String).join(' ')}], supported [${SUPPORTED_VERSIONS.join(' ')}]`,
      )
    }
    return usable[usable.length - 1]
  }
  return requireSupportedVersion(raw.cniVersion)
}

export function parseConfList(text: string): NetConfList {
  const raw = decode(text)
  const cniVersion = listVersion(raw)
  const name = requireString(raw, 'name', 'network configuration list')
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(name)) {
    throw new CniError(ERR_INVALID_NETWORK_CONFIG, 'invalid characters in network name', name)
  }
  const plugins = raw.plugins
  if (!Array.isArray(plugins) || plugins.length === 0) {
    throw new CniError(ERR_INVALID_NETWORK_CONFIG, `network configuration list "${name}" has no plugins`)
  }
  plugins.forEach((p, n) => {
    if (!isObject(p)) throw new CniError(ERR_INVALID_NETWORK_CONFIG, `plugins[${n}] must be an object`)
    requireString(p, 'type', `plugins[${n}]`)
  })
  return {
    cniVersion,
    name,
    disableCheck: flag(raw.disableCheck, 'disableCheck'),
    disableGC: flag(raw.disableGC, 'disableGC'),
    plugins: plugins as Record<string, unknown>[],
    raw,
  }
}

export interface PluginConfOptions {
  prevResult?: CniResult
  /** Runtime values keyed by capability name; each plugin gets only the ones it declares. */
  runtimeConfig?: Record<string, unknown>
}

/** One plugin's stdin for a list, built as libcni does: the list's name and cniVersion injected. */
export function pluginConf(list: NetConfList, index: number, opts: PluginConfOptions = {}): Record<string, unknown> {
  const plugin = list.plugins[index]
  if (plugin === undefined) throw new RangeError(`plugin index ${index} out of range`)
  const conf: Record<string, unknown> = { ...plugin, name: list.name, cniVersion: list.cniVersion }
  if (opts.prevResult) conf.prevResult = toVersion(opts.prevResult, list.cniVersion)
  const caps = isObject(plugin.capabilities) ? plugin.capabilities : {}
  const runtime: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(opts.runtimeConfig ?? {})) {
    if (caps[key] === true) runtime[key] = value
  }
  if (Object.keys(runtime).length > 0) conf.runtimeConfig = runtime
  return conf
}

/** The plugin indices in invocation order: list order for ADD/CHECK/GC, reversed for DEL. */
export function invocationOrder(list: NetConfList, command: 'ADD' | 'CHECK' | 'DEL' | 'GC'): number[] {
  const order = list.plugins.map((_, i) => i)
  return command === 'DEL' ? order.reverse() : order
}
