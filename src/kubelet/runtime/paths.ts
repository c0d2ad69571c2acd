// Where a pod's state lives on disk: <dataDir>/pods/<uid>/...
import { join } from 'node:path'

export function podsDir(dataDir: string): string {
  return join(dataDir, 'pods')
}

export function podDir(dataDir: string, uid: string): string {
  return join(podsDir(dataDir), uid)
}

/** `<dataDir>/storage`: the local-path volumes of the node, `<volume>_<namespace>_<claim>` each. */
export function storageDir(dataDir: string): string {
  return join(dataDir, 'storage')
}

export function containersDir(dir: string): string {
  return join(dir, 'containers')
}

/** `<pod dir>/logs/<container>/<restartCount>.log`, in the CRI log format. */
export function logPath(dir: string, container: string, restartCount: number): string {
  return join(dir, 'logs', container, `${restartCount}.log`)
}

/** The directory of a pod volume; subPath must stay inside it. */
export function volumePath(dir: string, volume: string, subPath = ''): string {
  checkRelative(volume, 'volume name')
  if (subPath !== '') checkRelative(subPath, 'subPath')
  return join(dir, 'volumes', volume, subPath)
}

export function checkRelative(path: string, what: string): void {
  if (path === '' || path.startsWith('/') || path.split('/').includes('..')) {
    throw new Error(`${what} ${JSON.stringify(path)} must be a relative path without '..'`)
  }
}
