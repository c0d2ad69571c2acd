// fsGroup on volumes, as the kubelet's SetVolumeOwnership: every file and directory of a
// volume gets the pod's fsGroup as its group, group read (and write for a writable volume)
// bits, and directories the setgid bit so new files inherit the group. Links are re-owned,
// never followed.
import type { Dirent } from 'node:fs'
import { chmod, lchown, lstat, readdir } from 'node:fs/promises'
import { join } from 'node:path'

const READ_ONLY_MASK = 0o440
const READ_WRITE_MASK = 0o660
const DIR_EXEC_MASK = 0o110
const SETGID = 0o2000

function wanted(mode: number, isDir: boolean, readOnly: boolean): number {
  let m = mode | (readOnly ? READ_ONLY_MASK : READ_WRITE_MASK)
  if (isDir) m |= DIR_EXEC_MASK | SETGID
  return m & 0o7777
}

/** Whether the volume's root already shows the ownership (fsGroupChangePolicy OnRootMismatch). */
async function rootMatches(dir: string, fsGroup: number, readOnly: boolean): Promise<boolean> {
  const st = await lstat(dir)
  return st.gid === fsGroup && (st.mode & 0o7777) === wanted(st.mode & 0o7777, true, readOnly)
}

export async function setVolumeOwnership(dir: string, fsGroup: number, readOnly: boolean, policy: string | undefined): Promise<void> {
  if (policy === 'OnRootMismatch' && (await rootMatches(dir, fsGroup, readOnly))) return
  const visit = async (path: string, isDir: boolean, isLink: boolean): Promise<void> => {
    await lchown(path, -1, fsGroup)
    if (isLink) return
    const st = await lstat(path)
    const mode = wanted(st.mode & 0o7777, isDir, readOnly)
    if (mode !== (st.mode & 0o7777)) await chmod(path, mode)
    if (!isDir) return
    let entries: Dirent[]
    try {
      entries = await readdir(path, { withFileTypes: true })
    } catch {
      return
    }
    for (const e of entries) await visit(join(path, e.name), e.isDirectory(), e.isSymbolicLink())
  }
  await visit(dir, true, false)
}
