// Files and directories only their owner may read: data dirs (0700), stores, keys,
// kubeconfigs and secrets (0600). weft tightens what it made or what is its own (a store
// file, a kubeconfig it wrote); a directory someone else made keeps its mode (it may be
// shared, like /tmp), and the caller is told so it can warn.
import { chmodSync, closeSync, lstatSync, mkdirSync, openSync, statSync } from 'node:fs'

export interface PrivateDir {
  /** Group or others may read or enter it (a directory that was there keeps its mode). */
  openToOthers: boolean
}

/** Makes `dir` and its missing parents with mode 0700; an existing directory is left as it is. */
export function makePrivateDir(dir: string): PrivateDir {
  try {
    if (!statSync(dir).isDirectory()) throw new Error(`${dir} exists and is not a directory; choose another path`)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    mkdirSync(dir, { recursive: true, mode: 0o700 })
    chmodSync(dir, 0o700)
  }
  return { openToOthers: (statSync(dir).mode & 0o077) !== 0 }
}

/** Sets mode 0600 on each of `paths` that is a regular file; missing ones are skipped. */
export function restrictFiles(...paths: string[]): void {
  for (const path of paths) {
    try {
      if (lstatSync(path).isFile()) chmodSync(path, 0o600)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    }
  }
}

/** Creates `path` empty with mode 0600 if missing (so what opens it later keeps that mode), else sets 0600. */
export function privateFile(path: string): void {
  closeSync(openSync(path, 'a', 0o600))
  restrictFiles(path)
}
