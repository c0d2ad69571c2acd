// The agent's cgroup manager from its flags: `--cgroup-driver none` turns cgroups off; no
// driver detects it (systemd when systemd is init, else cgroupfs). When cgroups cannot be
// used (no mount, not root, read-only) the agent logs it once and runs pods without them.
import { readFileSync } from 'node:fs'
import { CgroupManager, checkCgroupRoot } from './manager.ts'
import { detectDriver, detectLayout, type CgroupDriver } from './layout.ts'
import type { Allocatable } from './allocatable.ts'

export interface CgroupSettings {
  driver?: CgroupDriver | 'none'
  cgroupRoot?: string
  /** --pod-max-pids; -1: unlimited. */
  podPidsLimit?: number
}

export async function setupCgroups(settings: CgroupSettings, allocatable: Allocatable | undefined, log: { warn(obj: object, msg?: string): void; info(obj: object, msg?: string): void }): Promise<CgroupManager | undefined> {
  if (settings.driver === 'none') return undefined
  if (settings.cgroupRoot !== undefined) checkCgroupRoot(settings.cgroupRoot)
  try {
    const layout = detectLayout()
    const manager = new CgroupManager({
      layout,
      driver: settings.driver ?? detectDriver(),
      ...(settings.cgroupRoot !== undefined ? { cgroupRoot: settings.cgroupRoot } : {}),
      ...(settings.podPidsLimit !== undefined ? { podPidsLimit: settings.podPidsLimit } : {}),
      ...(allocatable ? { allocatable } : {}),
      log,
    })
    await manager.init()
    log.info({ version: layout.version, driver: manager.driver, root: manager.cgroupRoot, controllers: Object.keys(layout.mounts) }, 'pods run in cgroups')
    return manager
  } catch (err) {
    log.warn({ err: (err as Error).message }, 'cgroups are not usable here: pods run without resource limits, OOM detection, eviction or stats; pass --cgroup-driver none to say that is intended')
    return undefined
  }
}

/** The kernel's pid limit, the node's pid capacity. */
export function pidCapacity(): number | undefined {
  try {
    const n = Number(readFileSync('/proc/sys/kernel/pid_max', 'utf8').trim())
    return Number.isSafeInteger(n) && n > 0 ? n : undefined
  } catch {
    return undefined
  }
}
