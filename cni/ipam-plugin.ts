// The weft-ipam plugin: host-local-style IPAM (cni/ipam) behind the CNI protocol, so any
// plugin (the reference bridge too) can delegate to it. The bridge plugin calls these
// handlers in-process when its ipam.type is weft-ipam.
import { access, constants } from 'node:fs/promises'
import { dirname } from 'node:path'
import { allocate, check, gc, release } from './ipam/allocator.ts'
import { parseIpamConfig, type IpamConfig } from './ipam/config.ts'
import type { PluginHandlers, PluginRequest } from './protocol/dispatch.ts'
import { CniError, ERR_PLUGIN_NOT_AVAILABLE } from './protocol/errors.ts'
import type { CniResult } from './protocol/result.ts'

// One in-process queue per reservation directory: concurrent invocations in a warm service
// wait here instead of polling the store's lock file.
const queues = new Map<string, Promise<unknown>>()

function serialized<T>(config: IpamConfig, fn: () => Promise<T>): Promise<T> {
  const key = `${config.dataDir}\n${config.name}`
  const prev = queues.get(key) ?? Promise.resolve()
  const next = prev.then(fn, fn)
  const tail = next.catch(() => {})
  queues.set(key, tail)
  void tail.then(() => {
    if (queues.get(key) === tail) queues.delete(key)
  })
  return next
}

// host-local blocks on flock(2) as long as it takes; polling 100 standalone plugins on a
// small machine can take far longer than the store's 30 s default.
const lock = { timeoutMs: 300_000 }

function toResult(cniVersion: string, r: { ips: { address: string; gateway: string }[]; routes: { dst: string; gw?: string }[] }): CniResult {
  return { cniVersion, ips: r.ips.map((ip) => ({ address: ip.address, gateway: ip.gateway })), routes: r.routes }
}

async function writable(dir: string): Promise<boolean> {
  for (let d = dir; ; d = dirname(d)) {
    try {
      await access(d, constants.W_OK)
      return true
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || d === '/') return false
    }
  }
}

export const ipamHandlers: PluginHandlers = {
  async add({ env, conf }: PluginRequest) {
    const config = parseIpamConfig(conf.raw)
    const r = await serialized(config, () => allocate({ config, containerID: env.containerID, ifname: env.ifname, lock }))
    return toResult(conf.cniVersion, r)
  },
  async del({ env, conf }) {
    const config = parseIpamConfig(conf.raw)
    await serialized(config, () => release({ config, containerID: env.containerID, ifname: env.ifname, lock }))
  },
  async check({ env, conf }) {
    const config = parseIpamConfig(conf.raw)
    await serialized(config, () => check({ config, containerID: env.containerID, ifname: env.ifname, lock }))
  },
  async gc({ conf }) {
    const config = parseIpamConfig(conf.raw)
    await serialized(config, () => gc({ config, keep: conf.validAttachments ?? [], lock }))
  },
  async status({ conf }) {
    const config = parseIpamConfig(conf.raw)
    if (!(await writable(config.dataDir))) {
      throw new CniError(ERR_PLUGIN_NOT_AVAILABLE, 'IPAM data directory is not writable', config.dataDir)
    }
  },
}
