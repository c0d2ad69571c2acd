// Persistent UTS namespaces: `unshare --uts=FILE` binds the new namespace onto FILE (as
// `ip netns add` does for network namespaces) so processes can join it later with
// `nsenter --uts=FILE` while nothing runs in it.
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { CommandError, run } from './exec.ts'
import { isMountPoint } from './mounts.ts'

/** Creates a UTS namespace held by `file` (created if missing) with `hostname` set. */
export async function addUtsNamespace(file: string, hostname: string): Promise<void> {
  if (isMountPoint(file)) throw new Error(`${file} already holds a namespace; remove it first`)
  writeFileSync(file, '')
  try {
    await run('unshare', [`--uts=${file}`, 'hostname', hostname])
  } catch (err) {
    await deleteUtsNamespace(file)
    throw err
  }
}

/** Unmounts and removes `file`; a missing or unmounted file is success. */
export async function deleteUtsNamespace(file: string): Promise<void> {
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
