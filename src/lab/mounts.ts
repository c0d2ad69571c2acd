// Mounts a lab leaves under its data dir (the agents bind-mount pod UTS namespaces there).
import { run } from '../netlink/index.ts'

/** `findmnt -r` escapes space, tab, newline and backslash as \xHH. */
export function unescapeMountPath(s: string): string {
  return s.replace(/\\x([0-9a-fA-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)))
}

/** Mount points at or below `dir`, deepest first (so nested mounts come off before their parents). */
export function mountsUnder(findmntOutput: string, dir: string): string[] {
  const base = dir.replace(/\/+$/, '')
  return findmntOutput
    .split('\n')
    .filter(Boolean)
    .map(unescapeMountPath)
    .filter((target) => target === base || target.startsWith(`${base}/`))
    .sort((a, b) => b.length - a.length)
}

export async function listMountsUnder(dir: string): Promise<string[]> {
  return mountsUnder(await run('findmnt', ['-rn', '-o', 'TARGET']), dir)
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
