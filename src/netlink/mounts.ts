// Mount points of this process's mount namespace, read from /proc/self/mountinfo (so whatever
// is mounted, by whom, is found), and their removal: agents bind-mount pod UTS namespaces
// and mount tmpfs volumes under their data dirs; sandbox removal and `weft down` take them off.
import { lstatSync, readFileSync, realpathSync, statSync } from 'node:fs'
import { dirname } from 'node:path'
import { run } from './exec.ts'

/** A mountinfo path field with its octal escapes (`\040` for a space) undone. */
export function unescapeMountPath(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)))
}

export interface MountEntry {
  /** The mount point (field 5), unescaped. */
  target: string
  /** The filesystem type (first field after the `-`). */
  fstype: string
  /** Per-mount options (field 6): rw, nosuid, nodev, noexec, … */
  options: string[]
  /** Per-superblock options (last field): a tmpfs's size=…k and mode=…, … */
  superOptions: string[]
}

/**
 * The mounts in mountinfo text, in mount order: a target mounted more than once is listed
 * once per layer, the top one last.
 */
export function mountEntries(text: string = mountinfo()): MountEntry[] {
  const entries: MountEntry[] = []
  for (const line of text.split('\n')) {
    // id parent major:minor root target options [optional fields…] - fstype source superOptions
    const fields = line.split(' ')
    const target = unescapeMountPath(fields[4] ?? '')
    if (target === '') continue
    const dash = fields.indexOf('-', 6)
    entries.push({
      target,
      fstype: dash < 0 ? '' : (fields[dash + 1] ?? ''),
      options: (fields[5] ?? '').split(','),
      superOptions: dash < 0 ? [] : (fields[dash + 3] ?? '').split(','),
    })
  }
  return entries
}

/** The mount points in mountinfo text (field 5), in mount order. */
export function mountinfoTargets(text: string): string[] {
  return mountEntries(text).map((e) => e.target)
}

/** Of `targets`, those at or below one of `dirs`, deepest first (so nested mounts come off before their parents). */
export function targetsUnder(targets: readonly string[], dirs: readonly string[]): string[] {
  const bases = dirs.map((d) => d.replace(/\/+$/, '') || '/')
  const under = (target: string) => bases.some((base) => target === base || target.startsWith(base === '/' ? '/' : `${base}/`))
  return targets.filter(under).sort((a, b) => b.length - a.length)
}

export function mountinfo(): string {
  return readFileSync('/proc/self/mountinfo', 'utf8')
}

/**
 * Where `path` stands against its directory's filesystem, without reading the mount table:
 * nothing there (`missing`: no mount), on the same device (`same`: at most a bind of that
 * filesystem), on another (`other`: a mount point), or `unknown` (the directory cannot be
 * read). Sandboxes hold two namespace files each, and reading a table of hundreds of mounts
 * per check cost a burst of pods seconds.
 */
export function deviceOf(path: string): 'missing' | 'same' | 'other' | 'unknown' {
  let own
  try {
    own = lstatSync(path)
  } catch {
    return 'missing'
  }
  try {
    return statSync(dirname(path)).dev === own.dev ? 'same' : 'other'
  } catch {
    return 'unknown'
  }
}

/** Whether `path` is a mount point; the mount table is read only when deviceOf cannot tell. */
export function isMountPoint(path: string): boolean {
  const device = deviceOf(path)
  if (device === 'missing') return false
  if (device === 'other') return true
  return mountinfoTargets(mountinfo()).includes(path)
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

/** Mount points at or below `dir`, deepest first; a target mounted twice is listed twice. */
export function listMountsUnder(dir: string): string[] {
  return targetsUnder(mountinfoTargets(mountinfo()), spellings(dir))
}

/** Unmounts everything at or below `dir`; a busy mount is detached lazily. */
export async function unmountUnder(dir: string): Promise<void> {
  // A target mounted more than once is listed once per layer, so one pass takes every
  // layer off. Another pass runs only when something is still there: an unmount (lazy
  // one included) failed, or something was mounted meanwhile.
  for (let pass = 0; pass < 5; pass++) {
    const targets = listMountsUnder(dir)
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
