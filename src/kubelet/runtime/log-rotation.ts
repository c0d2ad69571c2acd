// Container log rotation, as the kubelet's container log manager does it: a log that has
// reached its size limit is renamed to `<log>.<YYYYMMDD-HHMMSS>` (UTC) and the oldest
// rotated files are removed so that at most `maxFiles` files (the live one included) remain.
// The writers (launcher.ts) reopen the log by name once a second, so the next second's
// lines start the new file; the renamed one may still get the rest of the current second.
// Rotated files are not compressed (the kubelet gzips all but the newest).
import { readdirSync, statSync } from 'node:fs'
import { rename, rm } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'

export interface LogRotationOptions {
  /** Rotate once the live file has this many bytes (the kubelet's default: 10 MiB). */
  maxSize: number
  /** Files kept per log, the live one included (at least 2; the kubelet's default: 5). */
  maxFiles: number
}

export const defaultLogRotation: LogRotationOptions = { maxSize: 10 * 1024 * 1024, maxFiles: 5 }

const STAMP = /^\d{8}-\d{6}$/

/** The rotated files of a log, oldest first. */
export function rotatedLogs(path: string): string[] {
  const prefix = `${basename(path)}.`
  let names: string[]
  try {
    names = readdirSync(dirname(path))
  } catch {
    return []
  }
  return names
    .filter((n) => n.startsWith(prefix) && STAMP.test(n.slice(prefix.length)))
    .sort()
    .map((n) => join(dirname(path), n))
}

/** When a rotated file was rotated (to the second), from its name; NaN for another name. */
export function rotationTime(rotated: string): number {
  const m = /\.(\d{4})(\d\d)(\d\d)-(\d\d)(\d\d)(\d\d)$/.exec(rotated)
  return m === null ? NaN : Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]))
}

function stamp(now: Date): string {
  const iso = now.toISOString()
  return `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}-${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}`
}

/**
 * Rotates `path` if it has reached `maxSize`; returns the rotated file's name, or undefined
 * when nothing was done (small enough, missing, or already rotated this second).
 */
export async function rotateLog(path: string, opts: LogRotationOptions, now = new Date()): Promise<string | undefined> {
  if (!(opts.maxFiles >= 2)) throw new Error(`container log max files must be at least 2, not ${opts.maxFiles}`)
  let size: number
  try {
    size = statSync(path).size
  } catch {
    return undefined
  }
  if (size < opts.maxSize) return undefined
  const target = `${path}.${stamp(now)}`
  const rotated = rotatedLogs(path)
  if (rotated.includes(target)) return undefined
  for (const old of rotated.slice(0, Math.max(0, rotated.length - (opts.maxFiles - 2)))) await rm(old, { force: true })
  await rename(path, target)
  return target
}
