// The network config list the node agent writes once its Node has a podCIDR: the weft
// bridge with weft-ipam over the node's pod CIDRs, then portmap and bandwidth when the
// bin dirs have them (they are optional: without them hostPort and the bandwidth
// annotations do nothing, but pods still get a network).
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { isIP } from 'node:net'
import { join } from 'node:path'
import type { CniVersion } from '../../../cni/protocol/version.ts'
import { findPlugin } from './exec-plugin.ts'

export interface OptionalPlugins {
  portMap: boolean
  bandwidth: boolean
  /** The plugin types not found, in chain order. */
  missing: string[]
}

/** Which of the chain's optional reference plugins (portmap, bandwidth) `binDirs` has. */
export async function optionalChainPlugins(binDirs: readonly string[]): Promise<OptionalPlugins> {
  const has = (type: string) => findPlugin(type, binDirs).then(() => true, () => false)
  const [portMap, bandwidth] = await Promise.all([has('portmap'), has('bandwidth')])
  const missing = [...(portMap ? [] : ['portmap']), ...(bandwidth ? [] : ['bandwidth'])]
  return { portMap, bandwidth, missing }
}

export interface NodeConflistOptions {
  /** The Node's spec.podCIDRs: at most one per address family. */
  podCIDRs: string[]
  /** Default 1.1.0; lower it to what every chained plugin supports (CniRuntime.negotiateVersion). */
  cniVersion?: CniVersion
  /** Network name; default "weft". */
  name?: string
  /** Bridge device; default "cni0". */
  bridge?: string
  mtu?: number
  /** Default true. */
  hairpin?: boolean
  /** Default true. */
  ipMasq?: boolean
  /**
   * The bridge drops what a pod sends from another MAC or address than its own (weft-cni's
   * `antiSpoof`, which NetworkPolicy relies on: it judges traffic by source address). Default true.
   */
  antiSpoof?: boolean
  /** Add the portmap plugin (hostPort); default true. */
  portMap?: boolean
  /** Add the bandwidth plugin (kubernetes.io/ingress-bandwidth annotations); default true. */
  bandwidth?: boolean
  /** weft-ipam's reservation directory; the plugin's default when unset. */
  ipamDataDir?: string
}

function familyOf(cidr: string): 4 | 6 {
  const slash = cidr.indexOf('/')
  const family = slash > 0 ? isIP(cidr.slice(0, slash)) : 0
  if (family === 0 || !/^\d{1,3}$/.test(cidr.slice(slash + 1))) throw new Error(`podCIDR "${cidr}" is not a CIDR`)
  return family as 4 | 6
}

export function nodeConflist(opts: NodeConflistOptions): string {
  if (opts.podCIDRs.length === 0) throw new Error('the node has no podCIDRs yet: wait for the node controller to assign one')
  const families = opts.podCIDRs.map(familyOf)
  if (new Set(families).size !== families.length) throw new Error(`podCIDRs ${opts.podCIDRs.join(',')} must have at most one CIDR per address family`)
  const ipam: Record<string, unknown> = {
    type: 'weft-ipam',
    ranges: opts.podCIDRs.map((subnet) => [{ subnet }]),
    routes: families.map((f) => ({ dst: f === 4 ? '0.0.0.0/0' : '::/0' })),
  }
  if (opts.ipamDataDir !== undefined) ipam.dataDir = opts.ipamDataDir
  const bridge: Record<string, unknown> = {
    type: 'weft-cni',
    bridge: opts.bridge ?? 'cni0',
    isGateway: true,
    isDefaultGateway: true,
    ipMasq: opts.ipMasq ?? true,
    hairpinMode: opts.hairpin ?? true,
    antiSpoof: opts.antiSpoof ?? true,
  }
  if (opts.mtu !== undefined) bridge.mtu = opts.mtu
  bridge.ipam = ipam
  const plugins: Record<string, unknown>[] = [bridge]
  if (opts.portMap ?? true) plugins.push({ type: 'portmap', capabilities: { portMappings: true }, snat: true })
  if (opts.bandwidth ?? true) plugins.push({ type: 'bandwidth', capabilities: { bandwidth: true } })
  return JSON.stringify({ cniVersion: opts.cniVersion ?? '1.1.0', name: opts.name ?? 'weft', plugins }, null, 2) + '\n'
}

/**
 * Writes the conflist atomically (temp file + rename) so a runtime never reads half of
 * it. Returns false, writing nothing, when the file already has this content.
 */
export async function writeConflist(confDir: string, text: string, fileName = '10-weft.conflist'): Promise<boolean> {
  const file = join(confDir, fileName)
  try {
    if ((await readFile(file, 'utf8')) === text) return false
  } catch {
    // Not there yet.
  }
  await mkdir(confDir, { recursive: true })
  // A name without the .conflist suffix, so a reader listing the directory skips it.
  const tmp = join(confDir, `.${fileName}.tmp-${process.pid}`)
  await writeFile(tmp, text, { mode: 0o644 })
  await rename(tmp, file)
  return true
}
