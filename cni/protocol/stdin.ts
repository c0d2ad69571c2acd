// A plugin's stdin is its network configuration: read whole, but never more than this.
// Real configs are a few KiB (a prevResult adds little); the cap keeps a runaway or hostile
// writer from growing the plugin (or the warm CNI service) without bound.
import { readSync } from 'node:fs'
import { CniError, ERR_IO_FAILURE } from './errors.ts'

export const MAX_STDIN_BYTES = 1 << 20

export function tooLarge(limit: number): CniError {
  return new CniError(ERR_IO_FAILURE, `the network configuration on stdin is larger than ${limit} bytes`, 'a CNI config is a small JSON object')
}

/**
 * Reads `fd` (a file, or a blocking pipe) to its end as UTF-8; more than `limit` bytes is
 * an error (code 5). A non-blocking descriptor with nothing to read yet is waited on.
 */
export function readBounded(fd: number, limit = MAX_STDIN_BYTES): string {
  const chunks: Buffer[] = []
  let size = 0
  const buf = Buffer.alloc(64 * 1024)
  for (;;) {
    let n: number
    try {
      n = readSync(fd, buf, 0, buf.length, null)
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      if (code === 'EAGAIN') {
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5)
        continue
      }
      throw new CniError(ERR_IO_FAILURE, 'failed to read the network configuration from stdin', (err as Error).message)
    }
    if (n === 0) break
    size += n
    if (size > limit) throw tooLarge(limit)
    chunks.push(Buffer.from(buf.subarray(0, n)))
  }
  return Buffer.concat(chunks).toString('utf8')
}
