// Host-side mount bookkeeping for a pod.
//
// A container's volume mounts are bind mounts made inside its own mount namespace, but a
// bind mount needs its target to exist, and the target is a path on the host filesystem
// (there is no container image root). Decision: when a mountPath is missing, weft creates
// it on the host (a directory, or an empty file when the source is a file), records each
// path it created in `<pod dir>/mount-targets`, and on sandbox removal deletes a created
// path only if it is still empty (an empty directory or a zero-length file) and no other
// sandbox under the same data dir mounts onto it or below it (if one does, the record
// moves to that sandbox, which removes the path when it goes). The last check matters:
// unlinking a path that is a mount point in another mount namespace silently detaches
// that mount there, which would pull a volume out from under a running container.
import { appendFileSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmdirSync, statSync, unlinkSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
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

function exists(path: string): boolean {
  try {
    lstatSync(path)
    return true
  } catch {
    return false
  }
}

/**
 * Makes sure `target` exists so `source` can be bind-mounted on it, creating what is
 * missing (parents as directories; the target as a directory or an empty file, like the
 * source) and recording every path this pod uses or created.
 */
export function prepareMountTarget(podDir: string, source: string, target: string): void {
  const record = (kind: 'uses' | 'created', path: string): void => appendFileSync(join(podDir, TARGETS_FILE), `${kind} ${JSON.stringify(path)}\n`)
  record('uses', target)
  if (exists(target)) return
  const missing: string[] = []
  for (let p = dirname(target); !exists(p); p = dirname(p)) missing.unshift(p)
  for (const dir of missing) {
    record('created', dir)
    mkdirSync(dir)
  }
  record('created', target)
  if (statSync(source).isDirectory()) mkdirSync(target)
  else writeFileSync(target, '', { flag: 'wx' })
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
