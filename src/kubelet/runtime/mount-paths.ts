// The host side of a volume mounted from a path: made where the volume says so (a local-path
// directory, a hostPath DirectoryOrCreate), else checked to be what its type says.
import { chmod, mkdir, stat, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import type { ClaimMount } from '../claim-volumes.ts'

/** local-path's setup script: `mkdir -m 0777 -p`. */
const LOCAL_PATH_MODE = 0o777
/** The kubelet's DirectoryOrCreate. */
const DIRECTORY_MODE = 0o755
/** The agent's storage dir: only root reaches the volumes under it (containers get them bound in). */
const STORAGE_DIR_MODE = 0o700

const typeChecks: Record<string, [string, (s: Awaited<ReturnType<typeof stat>>) => boolean]> = {
  Directory: ['a directory', (s) => s.isDirectory()],
  File: ['a file', (s) => s.isFile()],
  Socket: ['a socket file', (s) => s.isSocket()],
  CharDevice: ['a character device', (s) => s.isCharacterDevice()],
  BlockDevice: ['a block device', (s) => s.isBlockDevice()],
}

/** Makes or checks the path of a claim's mount; throws with the kubelet's message when the path is not what it must be. */
export async function prepareMountPath(mount: ClaimMount): Promise<void> {
  const { path, prepare } = mount
  if ('make' in prepare && prepare.make === 'file') {
    await mkdir(dirname(path), { recursive: true, mode: DIRECTORY_MODE })
    await writeFile(path, '', { flag: 'a', mode: 0o644 })
    if (!(await stat(path)).isFile()) throw new Error(`hostPath type check failed: ${path} is not a file`)
    return
  }
  if ('make' in prepare) {
    if (prepare.make === 'local-path') {
      const parent = dirname(path)
      if ((await mkdir(parent, { recursive: true, mode: STORAGE_DIR_MODE })) !== undefined) await chmod(parent, STORAGE_DIR_MODE)
      // chmod after mkdir: the umask would take the group and other bits off.
      if ((await mkdir(path, { mode: LOCAL_PATH_MODE }).then(() => true, (err: NodeJS.ErrnoException) => (err.code === 'EEXIST' ? false : Promise.reject(err))))) await chmod(path, LOCAL_PATH_MODE)
    } else {
      await mkdir(path, { recursive: true, mode: DIRECTORY_MODE })
    }
    const s = await stat(path)
    if (!s.isDirectory()) throw new Error(`hostPath type check failed: ${path} is not a directory`)
    return
  }
  const check = typeChecks[prepare.check]
  let s: Awaited<ReturnType<typeof stat>>
  try {
    s = await stat(path)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new Error(prepare.check ? `hostPath type check failed: ${path} is not ${check?.[0] ?? prepare.check}` : `path "${path}" does not exist`)
    throw err
  }
  if (check && !check[1](s)) throw new Error(`hostPath type check failed: ${path} is not ${check[0]}`)
}
