// Which CNI version a network list can use: the highest one weft speaks that every plugin
// in the chain (IPAM plugins included) also supports, as each plugin's VERSION reports.
import { compareVersions, SUPPORTED_VERSIONS, type CniVersion } from '../../../cni/protocol/version.ts'
import { CniError, ERR_DECODING_FAILURE, ERR_INCOMPATIBLE_VERSION } from '../../../cni/protocol/errors.ts'

export interface PluginVersionInfo {
  cniVersion: string
  supportedVersions: string[]
}

export function parseVersionInfo(out: unknown, plugin: string): PluginVersionInfo {
  if (typeof out !== 'object' || out === null) throw new CniError(ERR_DECODING_FAILURE, `plugin ${plugin} printed no version information`)
  const o = out as Record<string, unknown>
  const supported = Array.isArray(o.supportedVersions) ? o.supportedVersions.filter((v): v is string => typeof v === 'string') : []
  if (supported.length === 0) throw new CniError(ERR_DECODING_FAILURE, `plugin ${plugin} reported no supportedVersions`)
  return { cniVersion: typeof o.cniVersion === 'string' ? o.cniVersion : '', supportedVersions: supported }
}

/** The highest version weft supports that every plugin lists. */
export function highestCommonVersion(plugins: Record<string, readonly string[]>): CniVersion {
  const usable = [...SUPPORTED_VERSIONS]
    .filter((v) => Object.values(plugins).every((list) => list.includes(v)))
    .sort(compareVersions)
  const best = usable[usable.length - 1]
  if (best === undefined) {
    const each = Object.entries(plugins).map(([p, list]) => `${p} [${list.join(' ')}]`).join(', ')
    throw new CniError(ERR_INCOMPATIBLE_VERSION, 'no CNI version supported by every plugin', `weft [${SUPPORTED_VERSIONS.join(' ')}], ${each}`)
  }
  return best
}
