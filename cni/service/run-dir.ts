// Where CNI services meet their clients: one directory per network namespace,
// <runDir>/<netns inode>/, holding the request FIFO `req`.
import { join } from 'node:path'

export const DEFAULT_RUN_DIR = '/run/weft/cni'

export function serviceDir(runDir: string, netnsInode: number | string): string {
  return join(runDir, String(netnsInode))
}
