// Namespaces held by a file: `unshare --uts=FILE` (or --ipc=FILE) binds the new namespace
// onto FILE (as `ip netns add` does for network namespaces) so processes can join it later
// with `nsenter --uts=FILE` while nothing runs in it.
import { existsSync, rmSync, writeFileSync } from 'node:fs'
import { CommandError, run } from './exec.ts'
import { isMountPoint } from './mounts.ts'

export type HeldNamespaceKind = 'uts' | 'ipc'

/** Creates a namespace held by `file` (created if missing) and runs `argv` in it once (e.g. `hostname NAME`). */
export async function addHeldNamespace(kind: HeldNamespaceKind, file: string, argv: readonly string[] = ['true']): Promise<void> {
  if (isMountPoint(file)) throw new Error(`${file} already holds a namespace; remove it first`)
  writeFileSync(file, '')
  try {
    await run('unshare', [`--${kind}=${file}`, ...argv])
  } catch (err) {
    await deleteHeldNamespace(file)
    throw err
  }
}

/** Unmounts and removes `file`; a missing or unmounted file is success. */
export async function deleteHeldNamespace(file: string): Promise<void> {
  if (isMountPoint(file)) {
    try {
      await run('umount', [file])
    } catch (err) {
      if (!(err instanceof CommandError) || isMountPoint(file)) throw err
    }
  }
  if (existsSync(file)) rmSync(file, { force: true })
}

export async function utsHostname(file: string): Promise<string> {
  return (await run('nsenter', [`--uts=${file}`, '--', 'hostname'])).trim()
}
