// Network namespaces. A namespace is named (bind-mounted under /run/netns by `ip netns
// add`) or given by path (CNI_NETNS may be any path, such as /proc/PID/ns/net).
import { existsSync, readdirSync } from 'node:fs'
import { basename, dirname } from 'node:path'
import { CommandError, run } from './exec.ts'

export const NETNS_DIR = '/run/netns'

/** A namespace by name or path; undefined means the caller's own namespace. */
export type NetnsRef = string | undefined

export function netnsPath(ref: string): string {
  return ref.startsWith('/') ? ref : `${NETNS_DIR}/${ref}`
}

/** The `ip -n` name of a namespace, when it has one. */
export function netnsName(ref: string): string | undefined {
  if (!ref.startsWith('/')) return ref
  const dir = dirname(ref)
  return dir === NETNS_DIR || dir === '/var/run/netns' ? basename(ref) : undefined
}

/** Prefixes a command so it runs inside `ref` (nothing for the caller's own namespace). */
export function inNetns(ref: NetnsRef, file: string, args: readonly string[]): [string, string[]] {
  if (ref === undefined) return [file, [...args]]
  if (file === 'ip') {
    const name = netnsName(ref)
    if (name !== undefined) return ['ip', ['-n', name, ...args]]
  }
  return ['nsenter', [`--net=${netnsPath(ref)}`, '--', file, ...args]]
}

export function netnsExists(ref: string): boolean {
  return existsSync(netnsPath(ref))
}

export function listNetns(): string[] {
  try {
    return readdirSync(NETNS_DIR)
  } catch {
    return []
  }
}

/** Creates a named namespace with loopback up. Fails if it already exists. */
export async function addNetns(name: string): Promise<void> {
  await run('ip', ['netns', 'add', name])
  try {
    await run('ip', ['-n', name, 'link', 'set', 'lo', 'up'])
  } catch (err) {
    await deleteNetns(name)
    throw err
  }
}

/** Deletes a named namespace; a missing one is success. */
export async function deleteNetns(name: string): Promise<void> {
  if (!netnsExists(name)) return
  try {
    await run('ip', ['netns', 'delete', name])
  } catch (err) {
    if (err instanceof CommandError && !netnsExists(name)) return
    throw err
  }
}
