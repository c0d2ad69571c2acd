// IPAM for the bridge plugin: weft-ipam runs in-process; any other ipam.type is executed
// from CNI_PATH with the same configuration and environment, as the spec's delegation says.
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { CommandError, run } from '../../src/netlink/exec.ts'
import { ipamHandlers } from '../ipam-plugin.ts'
import type { PluginRequest } from '../protocol/dispatch.ts'
import type { CniEnvironment } from '../protocol/env.ts'
import { CniError, ERR_INTERNAL } from '../protocol/errors.ts'
import { parseResult, type CniResult } from '../protocol/result.ts'
import { WEFT_IPAM_TYPE } from './config.ts'

type IpamCommand = 'ADD' | 'DEL' | 'CHECK' | 'GC' | 'STATUS'

function envFor(command: IpamCommand, env: CniEnvironment): NodeJS.ProcessEnv {
  const args = Object.entries(env.args).map(([k, v]) => `${k}=${v}`).join(';')
  return {
    PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
    CNI_COMMAND: command,
    CNI_CONTAINERID: env.containerID,
    CNI_NETNS: env.netns,
    CNI_IFNAME: env.ifname,
    CNI_ARGS: args,
    CNI_PATH: env.path.join(':'),
  }
}

function findPlugin(type: string, path: readonly string[]): string {
  for (const dir of path) {
    const file = join(dir, type)
    if (existsSync(file)) return file
  }
  throw new CniError(ERR_INTERNAL, `failed to find plugin "${type}" in path [${path.join(' ')}]`)
}

async function exec(type: string, command: IpamCommand, req: PluginRequest): Promise<string> {
  const file = findPlugin(type, req.env.path)
  try {
    return await run(file, [], { input: JSON.stringify(req.conf.raw), env: envFor(command, req.env) })
  } catch (err) {
    if (err instanceof CommandError) {
      let parsed: { code?: unknown; msg?: unknown; details?: unknown } | undefined
      try {
        parsed = JSON.parse(err.stderr)
      } catch {}
      if (parsed && typeof parsed.code === 'number') {
        throw new CniError(parsed.code, String(parsed.msg ?? `${type} failed`), typeof parsed.details === 'string' ? parsed.details : '')
      }
      throw new CniError(ERR_INTERNAL, `IPAM plugin ${type} ${command} failed`, err.stderr.trim())
    }
    throw err
  }
}

export async function ipamAdd(type: string, req: PluginRequest): Promise<CniResult> {
  if (type === WEFT_IPAM_TYPE) return ipamHandlers.add(req)
  const out = await exec(type, 'ADD', req)
  let value: unknown
  try {
    value = JSON.parse(out)
  } catch {
    throw new CniError(ERR_INTERNAL, `IPAM plugin ${type} printed no JSON result`, out.slice(0, 200))
  }
  return parseResult(value, req.conf.cniVersion)
}

export async function ipamCommand(type: 'DEL' | 'CHECK' | 'GC' | 'STATUS', ipamType: string, req: PluginRequest): Promise<void> {
  if (ipamType === WEFT_IPAM_TYPE) {
    const h = ipamHandlers
    if (type === 'DEL') await h.del(req)
    else if (type === 'CHECK') await h.check(req)
    else if (type === 'GC') await h.gc?.(req)
    else await h.status?.(req)
    return
  }
  await exec(ipamType, type, req)
}
