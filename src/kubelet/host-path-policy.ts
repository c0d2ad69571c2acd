// Which host paths a pod may mount as hostPath volumes: only those under a prefix the node
// allows (`weft agent --allow-host-path`), none by default. The path is judged as it
// resolves on the host (links followed), so a link under an allowed prefix that points
// elsewhere is judged by where it points.
import { realpathSync } from 'node:fs'
import { isAbsolute, resolve } from 'node:path'

/** Parses `--allow-host-path`: absolute paths, comma-separated; '' for none. */
export function parseAllowedHostPaths(flag: string): string[] {
  const prefixes = flag.split(',').map((s) => s.trim()).filter(Boolean)
  for (const p of prefixes) {
    if (!isAbsolute(p) || p.includes('\0')) throw new Error(`--allow-host-path "${p}" must be an absolute path`)
    if (resolve(p) === '/') throw new Error('--allow-host-path "/" would allow every host path: name the directories pods may mount')
  }
  return prefixes.map((p) => resolve(p))
}

function resolved(path: string): string {
  try {
    return realpathSync(path)
  } catch {
    // A path that does not exist yet is judged as written (normalised: no `..` escapes).
    return resolve(path)
  }
}

function within(path: string, prefix: string): boolean {
  return path === prefix || path.startsWith(prefix.endsWith('/') ? prefix : `${prefix}/`)
}

/** Why the hostPath may not be mounted, or undefined when it may. */
export function hostPathRefusal(volume: string, path: string, allowed: readonly string[]): string | undefined {
  if (!isAbsolute(path) || path.includes('\0')) return `hostPath volume ${JSON.stringify(volume)}: path ${JSON.stringify(path)} must be absolute`
  const real = resolved(path)
  if (allowed.some((prefix) => within(real, resolved(prefix)))) return undefined
  const where = allowed.length ? `only under ${allowed.join(', ')}` : 'no hostPath at all'
  return `hostPath volume ${JSON.stringify(volume)} (${JSON.stringify(path)}${real !== path ? ` → ${real}` : ''}) is not allowed on this node: it allows ${where} (weft agent --allow-host-path)`
}
