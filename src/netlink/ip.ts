// iproute2: links, addresses, routes and sysctls, in any namespace. Several changes to
// one namespace go through `ip -batch` (one process for all of them).
import { CommandError, run } from './exec.ts'
import { inNetns, netnsPath, type NetnsRef } from './netns.ts'

export interface Link {
  ifindex: number
  ifname: string
  flags: string[]
  mtu: number
  operstate: string
  address?: string
  master?: string
  link_type?: string
  linkinfo?: { info_kind?: string; info_slave_kind?: string; info_data?: Record<string, unknown> }
  link_index?: number
  link_netnsid?: number
}

export interface AddrInfo {
  family: 'inet' | 'inet6'
  local: string
  prefixlen: number
  scope?: string
}

export interface LinkAddrs {
  ifname: string
  addr_info: AddrInfo[]
}

export interface Route {
  dst: string
  gateway?: string
  dev?: string
  protocol?: string
  scope?: string
  flags?: string[]
}

export async function ip(args: readonly string[], netns?: NetnsRef): Promise<string> {
  const [file, argv] = inNetns(netns, 'ip', args)
  return run(file, argv)
}

async function ipJson<T>(args: readonly string[], netns?: NetnsRef): Promise<T> {
  const out = await ip(['-j', ...args], netns)
  return (out.trim() === '' ? [] : JSON.parse(out)) as T
}

/**
 * Throws unless every line is one `ip` command that `ip -batch` reads as written: printable
 * ASCII without the characters it treats specially (a newline or carriage return ends the
 * command, `#` comments out the rest of the line, quotes and backslashes regroup words).
 */
export function checkIpBatchLines(lines: readonly string[]): void {
  for (const line of lines) {
    const bad = typeof line === 'string' ? /[^\x20-\x7e]|["'#\\]/.exec(line) : undefined
    if (typeof line !== 'string' || bad) {
      const quote = (x: string) => JSON.stringify(x).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
      const what = bad ? quote(bad[0]) : 'a value that is not text'
      throw new Error(`ip -batch line ${quote(String(line).slice(0, 120))} holds ${what}${bad ? ` at ${bad.index}` : ''}: refused, nothing was run`)
    }
  }
}

/** Runs every line in one `ip -batch`; stops at the first failing line (unless `force`). Lines are checked first (checkIpBatchLines). */
export async function ipBatch(lines: readonly string[], netns?: NetnsRef, opts: { force?: boolean } = {}): Promise<void> {
  if (lines.length === 0) return
  checkIpBatchLines(lines)
  const [file, argv] = inNetns(netns, 'ip', [...(opts.force ? ['-force'] : []), '-batch', '-'])
  await run(file, argv, { input: lines.join('\n') + '\n' })
}

function isMissingDevice(err: unknown): boolean {
  return err instanceof CommandError && /does not exist|Cannot find device/.test(err.stderr)
}

export async function getLink(name: string, netns?: NetnsRef): Promise<Link | undefined> {
  try {
    const [link] = await ipJson<Link[]>(['-d', 'link', 'show', 'dev', name], netns)
    return link
  } catch (err) {
    if (isMissingDevice(err)) return undefined
    throw err
  }
}

export async function listLinks(netns?: NetnsRef): Promise<Link[]> {
  return ipJson<Link[]>(['-d', 'link', 'show'], netns)
}

export async function deleteLink(name: string, netns?: NetnsRef): Promise<boolean> {
  try {
    await ip(['link', 'delete', 'dev', name], netns)
    return true
  } catch (err) {
    if (isMissingDevice(err)) return false
    throw err
  }
}

export async function listAddrs(dev: string | undefined, netns?: NetnsRef): Promise<LinkAddrs[]> {
  return ipJson<LinkAddrs[]>(['addr', 'show', ...(dev ? ['dev', dev] : [])], netns)
}

export async function listRoutes(family: 4 | 6, netns?: NetnsRef, table = 'main'): Promise<Route[]> {
  return ipJson<Route[]>([`-${family}`, 'route', 'show', 'table', table], netns)
}

/** Writes a sysctl inside a namespace (net.* keys are per namespace). */
export async function setSysctl(key: string, value: string, netns?: NetnsRef): Promise<void> {
  const args = ['-q', '-w', `${key}=${value}`]
  if (netns === undefined) await run('sysctl', args)
  else await run('nsenter', [`--net=${netnsPath(netns)}`, '--', 'sysctl', ...args])
}

export async function getSysctl(key: string, netns?: NetnsRef): Promise<string> {
  const args = ['-n', key]
  const out = netns === undefined ? await run('sysctl', args) : await run('nsenter', [`--net=${netnsPath(netns)}`, '--', 'sysctl', ...args])
  return out.trim()
}
