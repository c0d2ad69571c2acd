// Pod volumes on the node: `<pod dir>/volumes/<name>/`, 0700.
//  - configMap, secret, downwardAPI and projected: the payload in the kubelet's atomic
//    layout (atomic-writer.ts), rewritten in place when it changes;
//  - emptyDir: a directory whose contents survive container restarts;
//  - on a memory medium (secret, downwardAPI, projected — as the kubelet — and emptyDir
//    with `medium: Memory`): each volume its own tmpfs, mounted in the host's mount
//    namespace before any container starts (containers get a copy of the mount), with
//    nosuid, nodev, mode 0700, and noexec unless a file of the payload is executable.
//    A payload volume's size limit is twice its payload (old and new generation side by
//    side during an update) plus 1 MiB, grown by a remount when the payload grows; an
//    emptyDir's is its sizeLimit (else the tmpfs default, half the RAM). Removing the
//    sandbox unmounts them (removeSandbox → unmountUnder); so does the next agent for the
//    sandboxes of pods that went while it was down, and `weft down` for a lab.
import { readdirSync } from 'node:fs'
import { chmod, mkdir } from 'node:fs/promises'
import { run } from '../../netlink/exec.ts'
import { deviceOf, mountEntries } from '../../netlink/mounts.ts'
import { writeAtomic } from './atomic-writer.ts'
import { volumePath } from './paths.ts'

export interface PodFile {
  /** Relative to the volume root. */
  path: string
  data: string | Uint8Array
  mode?: number
}

export interface PodVolume {
  name: string
  /**
   * The volume's exact contents (configMap, secret, downwardAPI, projected), written in the
   * atomic layout. Omitted: an emptyDir — the directory is created if missing and its
   * contents are kept (they survive container restarts).
   */
  files?: PodFile[]
  /** On a tmpfs of its own. */
  memory?: boolean
  /** An emptyDir's sizeLimit in bytes (memory medium only). */
  sizeLimit?: number
}

const PAGE = 4096
const SLACK = 1024 * 1024

/** Bytes of tmpfs a payload takes: whole pages per file and per directory. */
function payloadBytes(files: readonly PodFile[]): number {
  const dirs = new Set<string>()
  let bytes = PAGE
  for (const f of files) {
    const size = typeof f.data === 'string' ? Buffer.byteLength(f.data) : f.data.length
    bytes += Math.max(1, Math.ceil(size / PAGE)) * PAGE
    const parts = f.path.split('/')
    for (let i = 1; i < parts.length; i++) dirs.add(parts.slice(0, i).join('/'))
  }
  return bytes + dirs.size * PAGE
}

interface MountState {
  options: string[]
  sizeBytes?: number
}

/** The tmpfs mounted exactly at `path` (on top, in this process's mount namespace), if any. */
function tmpfsAt(path: string): MountState | undefined {
  // A tmpfs has a device of its own: where `path` is on its directory's device (or is not
  // there), none is mounted on it, and the whole mount table need not be read.
  const device = deviceOf(path)
  if (device === 'missing' || device === 'same') return undefined
  const top = mountEntries().findLast((e) => e.target === path)
  if (top?.fstype !== 'tmpfs') return undefined
  const size = top.superOptions.map((o) => /^size=(\d+)k$/.exec(o)).find((m) => m !== null)
  return { options: top.options, ...(size ? { sizeBytes: Number(size[1]) * 1024 } : {}) }
}

async function ensureTmpfs(path: string, current: MountState | undefined, want: { sizeBytes?: number; exec: boolean; mode: number }): Promise<void> {
  const size = want.sizeBytes === undefined ? [] : [`size=${Math.ceil(want.sizeBytes / PAGE) * PAGE}`]
  const exec = want.exec ? 'exec' : 'noexec'
  if (current === undefined) {
    await run('mount', ['-t', 'tmpfs', '-o', [`mode=${want.mode.toString(8).padStart(4, '0')}`, 'nosuid', 'nodev', exec, ...size].join(','), 'weft-volume', path])
    return
  }
  const grow = want.sizeBytes !== undefined && (current.sizeBytes === undefined || current.sizeBytes < want.sizeBytes)
  const execNow = !current.options.includes('noexec')
  if (grow || execNow !== want.exec) await run('mount', ['-o', ['remount', exec, ...(grow ? size : [])].join(','), path])
}

/**
 * A volume's own directory, as upstream makes it: an emptyDir 0777 (any user of the pod may
 * write it), a configMap, secret, downwardAPI or projected volume 0755 with its files at
 * their modes. Other users of the host cannot reach either: the pod directory is 0700.
 */
const EMPTY_DIR_MODE = 0o777
const PAYLOAD_DIR_MODE = 0o755

/** Writes one volume under the pod directory `podDir`; returns whether its contents changed. */
export async function writeVolume(podDir: string, volume: PodVolume): Promise<boolean> {
  const root = volumePath(podDir, volume.name)
  const dirMode = volume.files === undefined ? EMPTY_DIR_MODE : PAYLOAD_DIR_MODE
  const made = (await mkdir(root, { recursive: true, mode: 0o700 })) !== undefined
  const files = volume.files?.map((f) => ({ path: f.path, data: f.data, mode: f.mode ?? 0o644 }))
  // A volume an older weft wrote to disk stays there while its pod lives: its containers
  // have bound that directory, and a tmpfs over it now would hide updates from them.
  const mounted = volume.memory ? tmpfsAt(root) : undefined
  if (volume.memory && (mounted !== undefined || readdirSync(root).length === 0)) {
    await ensureTmpfs(root, mounted, {
      sizeBytes: files !== undefined ? 2 * payloadBytes(files) + SLACK : volume.sizeLimit,
      exec: files?.some((f) => (f.mode & 0o111) !== 0) ?? true,
      mode: dirMode,
    })
  }
  // An emptyDir is the containers' once made: a mode one of them set stays (writing the
  // pod's volumes again for a container start must not undo it).
  if (files === undefined) {
    if (made) await chmod(root, dirMode)
    return false
  }
  await chmod(root, dirMode)
  return writeAtomic(root, files)
}
