// Where the cgroups are: the hierarchy version and mount of each controller (read from
// /proc/self/mountinfo), the driver (systemd or cgroupfs naming), and the path of the
// node's, a QoS class's, a pod's and a container's cgroup inside each hierarchy.
//
// Naming (upstream's kubepods tree, renamed weft):
//   cgroupfs: <root>/weft, <root>/weft/burstable, <root>/weft/besteffort,
//             <root>/weft/pod<uid> (Guaranteed), <root>/weft/burstable/pod<uid>, …/pod<uid>/<container>
//   systemd:  <root>/weft.slice, <root>/weft.slice/weft-burstable.slice,
//             <root>/weft.slice/weft-burstable.slice/weft-burstable-pod<uid with _ for ->.slice,
//             …/<pod slice>/container-<container>.scope
// weft writes the systemd-style directories itself (no D-Bus calls to systemd): the names
// only keep the tree readable beside systemd's own slices.
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Controller } from './resources.ts'

export const CONTROLLERS: readonly Controller[] = ['cpu', 'cpuacct', 'memory', 'pids']

export interface CgroupLayout {
  version: 1 | 2
  /** The mount point of each controller weft uses (v2: the unified mount for all). */
  mounts: Partial<Record<Controller, string>>
}

export type CgroupDriver = 'cgroupfs' | 'systemd'
export type QosClass = 'Guaranteed' | 'Burstable' | 'BestEffort'

export class CgroupUnavailableError extends Error {
  readonly code = 'CgroupUnavailable'
  constructor(message: string) {
    super(message)
    this.name = 'CgroupUnavailableError'
  }
}

function unescapeMount(path: string): string {
  return path.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(Number.parseInt(oct, 8)))
}

interface Mount {
  mountPoint: string
  fsType: string
  superOptions: string[]
}

export function parseMountinfo(text: string): Mount[] {
  const out: Mount[] = []
  for (const line of text.split('\n')) {
    const sep = line.indexOf(' - ')
    if (sep < 0) continue
    const fields = line.slice(0, sep).split(' ')
    const tail = line.slice(sep + 3).split(' ')
    if (fields.length < 5 || tail.length < 3) continue
    out.push({ mountPoint: unescapeMount(fields[4]!), fsType: tail[0]!, superOptions: tail[2]!.split(',') })
  }
  return out
}

/**
 * v2 when `root` itself is a cgroup2 mount (its cgroup.controllers says which controllers
 * there are); otherwise v1, each controller at the mount of the hierarchy that has it (a
 * hybrid host's cgroup2 at root/unified carries no controllers weft uses and is ignored).
 */
export function detectLayout(opts: { mountinfo?: string; root?: string } = {}): CgroupLayout {
  const root = opts.root ?? '/sys/fs/cgroup'
  const mounts = parseMountinfo(opts.mountinfo ?? readFileSync('/proc/self/mountinfo', 'utf8'))
  if (mounts.some((m) => m.fsType === 'cgroup2' && m.mountPoint === root)) {
    let available: string[]
    try {
      available = readFileSync(join(root, 'cgroup.controllers'), 'utf8').trim().split(/\s+/)
    } catch (err) {
      throw new CgroupUnavailableError(`cannot read ${join(root, 'cgroup.controllers')}: ${(err as Error).message}`)
    }
    const found: CgroupLayout['mounts'] = {}
    for (const c of CONTROLLERS) if (c === 'cpuacct' ? available.includes('cpu') : available.includes(c)) found[c] = root
    return { version: 2, mounts: found }
  }
  const found: CgroupLayout['mounts'] = {}
  for (const m of mounts) {
    if (m.fsType !== 'cgroup') continue
    for (const c of CONTROLLERS) if (m.superOptions.includes(c) && found[c] === undefined) found[c] = m.mountPoint
  }
  if (Object.keys(found).length === 0) throw new CgroupUnavailableError(`no cgroup v2 mount at ${root} and no cgroup v1 controllers mounted`)
  return { version: 1, mounts: found }
}

/** systemd when it is the init system (sd_booted: /run/systemd/system exists). */
export function detectDriver(runDir = '/run/systemd/system'): CgroupDriver {
  return existsSync(runDir) ? 'systemd' : 'cgroupfs'
}

const SEGMENT = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/

/**
 * The cgroup path (inside each hierarchy, starting with /) of the node's pods (`[]`), a QoS
 * class's, a pod's (`uid`) or a container's (`uid` and `container`).
 */
export function cgroupPath(driver: CgroupDriver, cgroupRoot: string, node: { qos?: QosClass; uid?: string; container?: string }): string {
  if (node.uid !== undefined && !/^[A-Za-z0-9-]+$/.test(node.uid)) throw new Error(`pod uid ${JSON.stringify(node.uid)} is not a plain UID`)
  if (node.container !== undefined && !SEGMENT.test(node.container)) throw new Error(`container name ${JSON.stringify(node.container)} is not a DNS label`)
  const tier = node.qos === 'Burstable' ? 'burstable' : node.qos === 'BestEffort' ? 'besteffort' : undefined
  const parts: string[] = []
  if (driver === 'cgroupfs') {
    parts.push('weft')
    if (tier) parts.push(tier)
    if (node.uid !== undefined) parts.push(`pod${node.uid}`)
    if (node.container !== undefined) parts.push(node.container)
  } else {
    parts.push('weft.slice')
    const prefix = tier ? `weft-${tier}` : 'weft'
    if (tier) parts.push(`${prefix}.slice`)
    if (node.uid !== undefined) parts.push(`${prefix}-pod${node.uid.replaceAll('-', '_')}.slice`)
    if (node.container !== undefined) parts.push(`container-${node.container}.scope`)
  }
  const base = cgroupRoot.replace(/\/+$/, '')
  return `${base}/${parts.join('/')}`
}

/** The distinct hierarchies (mount points) weft writes into. */
export function hierarchies(layout: CgroupLayout): string[] {
  return [...new Set(Object.values(layout.mounts))]
}
