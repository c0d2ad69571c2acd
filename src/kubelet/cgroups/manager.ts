// The kubelet's cgroups: the node's pod tree (weft, weft/burstable, weft/besteffort with
// node-allocatable limits), one cgroup per pod (ResourceConfigForPod) and per container,
// in every hierarchy weft uses. Kills nothing: a cgroup still holding processes is left
// (and retried briefly) when its pod goes.
import { mkdir, readdir, readFile, rmdir, stat, writeFile } from 'node:fs/promises'
import { totalmem } from 'node:os'
import { join } from 'node:path'
import { podQOSClass } from '../../api/qos.ts'
import { cgroupPath, detectDriver, detectLayout, hierarchies, type CgroupDriver, type CgroupLayout, type QosClass } from './layout.ts'
import { cgroupWrites, containerResourceConfig, milliCPUToShares, MIN_SHARES, podRequest, podResourceConfig, type ContainerLike, type PodSpecLike, type ResourceConfig } from './resources.ts'
import { parseMeminfo, readOomKills, readUsage, type CgroupUsage } from './usage.ts'

export interface CgroupManagerOptions {
  layout: CgroupLayout
  driver: CgroupDriver
  /** The parent of weft's tree inside each hierarchy (default `/`). */
  cgroupRoot?: string
  /** pids.max of each pod cgroup; -1 (default): unlimited. */
  podPidsLimit?: number
  /** Limits of the whole pod tree (upstream enforces node allocatable on kubepods). */
  allocatable?: { cpuMilli?: number; memoryBytes?: number; pids?: number }
  log?: { warn(obj: object, msg?: string): void }
}

export interface PodLike {
  metadata?: { uid?: string }
  spec?: PodSpecLike
}

const QOS: readonly QosClass[] = ['Guaranteed', 'Burstable', 'BestEffort']
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

export class CgroupManager {
  readonly layout: CgroupLayout
  readonly driver: CgroupDriver
  readonly cgroupRoot: string
  readonly #o: CgroupManagerOptions
  /** QoS class and CPU request of each pod with a cgroup, for the burstable tier's shares. */
  readonly #pods = new Map<string, { qos: QosClass; cpuMilli: number }>()

  constructor(options: CgroupManagerOptions) {
    const root = checkCgroupRoot(options.cgroupRoot ?? '/')
    this.layout = options.layout
    this.driver = options.driver
    this.cgroupRoot = root
    this.#o = options
  }

  /** The cgroup's directory in each hierarchy. */
  dirs(path: string): string[] {
    return hierarchies(this.layout).map((mount) => join(mount, path))
  }

  #dir(controller: keyof CgroupLayout['mounts'], path: string): string | undefined {
    const mount = this.layout.mounts[controller]
    return mount === undefined ? undefined : join(mount, path)
  }

  async #ensure(path: string): Promise<void> {
    for (const mount of hierarchies(this.layout)) {
      const dir = join(mount, path)
      if (this.layout.version === 2) await this.#enableControllers(mount, path)
      await mkdir(dir, { recursive: true })
    }
  }

  /** v2: each ancestor hands the controllers down (cgroup.subtree_control). */
  async #enableControllers(mount: string, path: string): Promise<void> {
    const wanted = (['cpu', 'memory', 'pids'] as const).filter((c) => this.layout.mounts[c] !== undefined)
    const parts = path.split('/').filter(Boolean)
    for (let i = 0; i < parts.length; i++) {
      const dir = join(mount, ...parts.slice(0, i))
      if (i > 0) await mkdir(dir, { recursive: true })
      await writeFile(join(dir, 'cgroup.subtree_control'), wanted.map((c) => `+${c}`).join(' ')).catch((err: NodeJS.ErrnoException) => {
        this.#o.log?.warn({ err, dir }, 'cannot enable cgroup controllers')
      })
    }
  }

  async #write(path: string, config: ResourceConfig): Promise<void> {
    for (const w of cgroupWrites(this.layout.version, config)) {
      const dir = this.#dir(w.controller, path)
      if (dir === undefined) continue
      try {
        await writeFile(join(dir, w.file), w.value)
      } catch (err) {
        throw new Error(`cannot write ${w.value} to ${join(dir, w.file)}: ${(err as Error).message}`)
      }
    }
  }

  /** Makes the pod tree and sets the node-allocatable limits on it. */
  async init(): Promise<void> {
    const a = this.#o.allocatable ?? {}
    const top = cgroupPath(this.driver, this.cgroupRoot, {})
    await this.#ensure(top)
    await this.#write(top, {
      ...(a.cpuMilli !== undefined ? { cpuShares: milliCPUToShares(a.cpuMilli) } : {}),
      ...(a.memoryBytes !== undefined ? { memoryLimit: a.memoryBytes } : {}),
      ...(a.pids !== undefined && this.layout.mounts.pids ? { pidsLimit: a.pids } : {}),
    })
    for (const qos of ['Burstable', 'BestEffort'] as const) {
      const path = cgroupPath(this.driver, this.cgroupRoot, { qos })
      await this.#ensure(path)
      await this.#write(path, { cpuShares: MIN_SHARES })
    }
  }

  podPath(uid: string, qos: QosClass): string {
    return cgroupPath(this.driver, this.cgroupRoot, { qos, uid })
  }

  /** Makes the pod's cgroup and writes its limits; returns its directories. */
  async podCgroups(pod: PodLike): Promise<string[]> {
    const uid = pod.metadata?.uid ?? ''
    const spec = pod.spec ?? {}
    const qos = podQOSClass(spec as Parameters<typeof podQOSClass>[0])
    const config = podResourceConfig(spec, this.#o.podPidsLimit ?? -1)
    const path = this.podPath(uid, qos)
    await this.#ensure(path)
    await this.#write(path, this.layout.mounts.pids ? config : { ...config, pidsLimit: undefined })
    const cpuMilli = qos === 'Burstable' ? podRequest(spec, 'cpu') : 0
    this.#pods.set(uid, { qos, cpuMilli })
    if (qos === 'Burstable') await this.#updateBurstable()
    return this.dirs(path)
  }

  /** The burstable tier's shares: the sum of its pods' CPU requests (upstream's QoS container manager). */
  async #updateBurstable(): Promise<void> {
    let milli = 0
    for (const p of this.#pods.values()) if (p.qos === 'Burstable') milli += p.cpuMilli
    await this.#write(cgroupPath(this.driver, this.cgroupRoot, { qos: 'Burstable' }), { cpuShares: milliCPUToShares(milli) })
  }

  /**
   * A fresh cgroup for the container's next run (the old one is removed when it is empty,
   * so its OOM count starts at 0), with the container's limits; returns its directories,
   * for ContainerSpec.cgroups.
   */
  async containerCgroups(pod: PodLike, container: ContainerLike & { name: string }): Promise<string[]> {
    const uid = pod.metadata?.uid ?? ''
    const qos = this.#pods.get(uid)?.qos ?? podQOSClass(pod.spec as Parameters<typeof podQOSClass>[0])
    const path = this.containerPath(this.podPath(uid, qos), container.name)
    // The last run's supervisor leaves a `sleep 2` behind (launcher.ts): wait it out, briefly.
    for (const dir of this.dirs(path)) await rmdirRetry(dir, undefined, 30)
    await this.#ensure(path)
    await this.#write(path, containerResourceConfig(container))
    return this.dirs(path)
  }

  /** The pod's cgroup path, whichever QoS tier it is in (the agent may have restarted since it was made). */
  async findPod(uid: string): Promise<string | undefined> {
    const known = this.#pods.get(uid)
    if (known) return this.podPath(uid, known.qos)
    const first = hierarchies(this.layout)[0]
    if (first === undefined) return undefined
    for (const qos of QOS) {
      const path = this.podPath(uid, qos)
      if (await isDir(join(first, path))) return path
    }
    return undefined
  }

  containerPath(podPath: string, container: string): string {
    const name = this.driver === 'systemd' ? `container-${container}.scope` : container
    return `${podPath}/${name}`
  }

  /** Removes the pod's cgroups, containers' first. Processes still exiting get ~2 s; what is left is logged. */
  async removePod(uid: string): Promise<void> {
    const path = await this.findPod(uid)
    this.#pods.delete(uid)
    if (path === undefined) return
    for (const dir of this.dirs(path)) {
      const children = await readdir(dir, { withFileTypes: true }).catch(() => [])
      for (const c of children) if (c.isDirectory()) await rmdirRetry(join(dir, c.name), this.#o.log)
      await rmdirRetry(dir, this.#o.log)
    }
    await this.#updateBurstable().catch(() => undefined)
  }

  /** Usage of the cgroup at `path` (a pod's, a container's, or the pod tree's). */
  usage(path: string): Promise<CgroupUsage> {
    return readUsage(this.layout.version, { cpu: this.#dir('cpu', path), cpuacct: this.#dir('cpuacct', path), memory: this.#dir('memory', path) })
  }

  /** The OOM kills the container's current cgroup has seen. */
  async oomKills(uid: string, container: string): Promise<number> {
    const pod = await this.findPod(uid)
    const dir = pod === undefined ? undefined : this.#dir('memory', this.containerPath(pod, container))
    return dir === undefined ? 0 : readOomKills(this.layout.version, dir)
  }

  /**
   * The node's memory as the eviction manager and the summary see it: capacity (the
   * machine's) and working set, from the root memory cgroup on v1 and /proc/meminfo on v2
   * (whose root cgroup has no memory.current).
   */
  async nodeMemory(): Promise<{ capacityBytes: number; workingSetBytes: number }> {
    if (this.layout.version === 1 && this.layout.mounts.memory !== undefined) {
      const root = await this.usage('/')
      if (root.workingSetBytes !== undefined) return { capacityBytes: totalmem(), workingSetBytes: root.workingSetBytes }
    }
    return parseMeminfo(await readFile('/proc/meminfo', 'utf8'))
  }

  /** The cgroup path of the whole pod tree. */
  get podsPath(): string {
    return cgroupPath(this.driver, this.cgroupRoot, {})
  }
}

/** A cgroup path weft can hand to the launcher: absolute, plain names, no `..`. */
export function checkCgroupRoot(root: string): string {
  if (!/^\/([A-Za-z0-9_.:@=,+-]+(\/[A-Za-z0-9_.:@=,+-]+)*)?$/.test(root) || root.split('/').includes('..')) throw new Error(`--cgroup-root ${JSON.stringify(root)} must be an absolute cgroup path like / or /weft-nodes`)
  return root
}

async function isDir(path: string): Promise<boolean> {
  return stat(path).then(
    (s) => s.isDirectory(),
    () => false,
  )
}

async function rmdirRetry(dir: string, log: CgroupManagerOptions['log'], tries = 20): Promise<void> {
  for (let i = 0; ; i++) {
    try {
      await rmdir(dir)
      return
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      if (code === 'ENOENT') return
      if (code !== 'EBUSY' || i >= tries) {
        log?.warn({ err, dir }, 'cannot remove a cgroup (processes still in it?)')
        return
      }
      await sleep(100)
    }
  }
}

/**
 * Removes weft's whole tree under `cgroupRoot` in every hierarchy, children first (for a
 * node that is gone: a test's or a lab's). Cgroups that still hold processes after 3 s stay.
 */
export async function removeCgroupTree(layout: CgroupLayout, driver: CgroupDriver, cgroupRoot: string): Promise<void> {
  const top = cgroupPath(driver, checkCgroupRoot(cgroupRoot), {})
  for (const mount of hierarchies(layout)) {
    const remove = async (dir: string): Promise<void> => {
      const children = await readdir(dir, { withFileTypes: true }).catch(() => [])
      for (const c of children) if (c.isDirectory()) await remove(join(dir, c.name))
      // Processes of a pod just killed may take a moment to leave.
      await rmdirRetry(dir, undefined, 30)
    }
    await remove(join(mount, top))
    // The root itself, when it is weft's own (not / or a cgroup someone else made).
    if (cgroupRoot !== '/') await rmdirRetry(join(mount, cgroupRoot), undefined, 30)
  }
}

/** removeCgroupTree on this host's cgroups, as found; nothing when the host has none mounted. */
export async function removeHostCgroupTree(cgroupRoot: string): Promise<void> {
  let layout: CgroupLayout
  try {
    layout = detectLayout()
  } catch {
    return
  }
  await removeCgroupTree(layout, detectDriver(), cgroupRoot)
}
