// Mounts a lab leaves under its data dir: the agents bind-mount pod UTS namespaces there,
// and pod volumes may be tmpfs mounts. Read from /proc/self/mountinfo, so whatever is
// mounted there, by whom, is found.
import { readFile } from 'node:fs/promises'
import { realpathSync } from 'node:fs'
import { run } from '../netlink/index.ts'

/** `findmnt -r` escapes space, tab, newline and backslash as \xHH. */
export function unescapeMountPath(s: string): string {
  return s.replace(/\\x([0-9a-fA-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)))
}

/** The mount points in /proc/<pid>/mountinfo text (field 5, octal escapes undone). */
export function mountinfoTargets(text: string): string[] {
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => (line.split(' ')[4] ?? '').replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))))
    .filter((target) => target !== '')
}

/** Of `targets`, those at or below one of `dirs`, deepest first (so nested mounts come off before their parents). */
export function targetsUnder(targets: readonly string[], dirs: readonly string[]): string[] {
  const bases = dirs.map((d) => d.replace(/\/+$/, '') || '/')
  const under = (target: string) => bases.some((base) => target === base || target.startsWith(base === '/' ? '/' : `${base}/`))
  return targets.filter(under).sort((a, b) => b.length - a.length)
}

/** Mount points at or below `dir` in `findmnt -rn -o TARGET` output, deepest first. */
export function mountsUnder(findmntOutput: string, dir: string): string[] {
  return targetsUnder(findmntOutput.split('\n').filter(Boolean).map(unescapeMountPath), [dir])
}

/** `dir` as given and with symlinks resolved (mountinfo has the latter). */
function spellings(dir: string): string[] {
  try {
    const real = realpathSync(dir)
    return real === dir ? [dir] : [dir, real]
  } catch {
    return [dir]
  }
}

export async function listMountsUnder(dir: string): Promise<string[]> {
  return targetsUnder(mountinfoTargets(await readFile('/proc/self/mountinfo', 'utf8')), spellings(dir))
}

/** Unmounts everything under `dir`; a busy mount is detached lazily. */
export async function unmountUnder(dir: string): Promise<void> {
  // A target mounted twice is listed twice; each pass takes one layer off.
  for (let pass = 0; pass < 5; pass++) {
    const targets = await listMountsUnder(dir)
    if (targets.length === 0) return
    for (const target of targets) {
      try {
        await run('umount', [target])
      } catch {
        await run('umount', ['-l', target]).catch(() => {})
      }
    }
  }
}
