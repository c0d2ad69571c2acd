// Host-side mount bookkeeping for a pod.
//
// A container's volume mounts are bind mounts made inside its own mount namespace, and a
// mountPath is a path in the container's view: there is no container image root, so that
// view is the host's filesystem. Decision: weft never creates a mountPath on the host. A
// missing one is made by the container's supervisor (launcher.ts) in the container's mount
// namespace only: the nearest existing directory above it is covered there with a tmpfs
// that holds what the directory held (each entry bound from the original), and the missing
// path is made on that tmpfs; a missing name right under / gets the container a root of its
// own (a tmpfs holding what / holds, the same way) that it is chroot'ed into. Targets are
// resolved with the symbolic links of the container's view, relative ones from its root
// (`../../x` is `/x`), and nothing is ever made through a link or outside weft's tmpfs. The
// host sees none of it, and nothing is left behind when the container ends. A side effect:
// new names the container makes right in a covered directory (not inside its entries,
// which are the host's) stay on that tmpfs (256 MiB at most), private to the container.
//
// Sandboxes made by an older weft recorded the paths it created on the host in
// `<pod dir>/mount-targets`; removeCreatedTargets still removes those.
import { appendFileSync, lstatSync, readdirSync, readFileSync, rmdirSync, unlinkSync } from 'node:fs'
import { join } from 'node:path'
import { run } from '../../netlink/exec.ts'
import { unescapeMountPath } from '../../netlink/uts.ts'
import { podsDir } from './paths.ts'

const TARGETS_FILE = 'mount-targets'

/** Mount points (in this process's mount namespace) at or below `dir`, deepest first. */
export function mountsUnder(dir: string): string[] {
  const prefix = dir.endsWith('/') ? dir : `${dir}/`
  const points = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => unescapeMountPath(line.split(' ')[4] ?? ''))
    .filter((p) => p === dir || p.startsWith(prefix))
  return [...new Set(points)].sort((a, b) => b.length - a.length)
}

export async function unmountUnder(dir: string): Promise<void> {
  for (const point of mountsUnder(dir)) {
    try {
      await run('umount', [point])
    } catch {
      await run('umount', ['--lazy', point])
    }
  }
}

function readTargets(podDir: string): { uses: string[]; created: string[] } {
  let text = ''
  try {
    text = readFileSync(join(podDir, TARGETS_FILE), 'utf8')
  } catch {
    // No mounts were ever prepared.
  }
  const uses: string[] = []
  const created: string[] = []
  for (const line of text.split('\n')) {
    const space = line.indexOf(' ')
    if (space < 0) continue
    const path = JSON.parse(line.slice(space + 1)) as string
    ;(line.startsWith('created') ? created : uses).push(path)
  }
  return { uses, created }
}

/**
 * Deletes the still-empty paths this pod created that no other pod under `dataDir` uses;
 * a path another pod still uses is handed over to it (removed when that pod goes).
 */
export function removeCreatedTargets(dataDir: string, podDir: string): void {
  const { created } = readTargets(podDir)
  if (created.length === 0) return
  const others: Array<{ dir: string; uses: string[] }> = []
  let siblings: string[] = []
  try {
    siblings = readdirSync(podsDir(dataDir))
  } catch {
    // No pods directory: nothing else uses anything.
  }
  for (const uid of siblings) {
    const dir = join(podsDir(dataDir), uid)
    if (dir !== podDir) others.push({ dir, uses: readTargets(dir).uses })
  }
  const user = (p: string): string | undefined => others.find((o) => o.uses.some((u) => u === p || u.startsWith(`${p}/`)))?.dir
  for (const path of [...new Set(created)].sort((a, b) => b.length - a.length)) {
    const other = user(path)
    if (other !== undefined) {
      appendFileSync(join(other, TARGETS_FILE), `created ${JSON.stringify(path)}\n`)
      continue
    }
    try {
      const st = lstatSync(path)
      if (st.isDirectory()) {
        if (readdirSync(path).length === 0) rmdirSync(path)
      } else if (st.isFile() && st.size === 0) {
        unlinkSync(path)
      }
    } catch {
      // Gone already, or no longer ours to remove.
    }
  }
}
