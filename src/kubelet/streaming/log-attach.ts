// Attach to a container without stdin or a tty (no attach relay runs for it): its output as
// its log records it, followed from now until it exits (stdout and stderr together, as the
// log holds them).
import { Readable } from 'node:stream'
import { followLog } from '../runtime/logs.ts'
import type { AttachSession } from './types.ts'

export function attachToLog(logPath: string, exited: Promise<unknown>, pollMs?: number): AttachSession {
  const abort = new AbortController()
  const output = Readable.from(followLog(logPath, { tailLines: 0, signal: abort.signal, until: exited, ...(pollMs !== undefined ? { pollMs } : {}) }), { objectMode: false })
  const done = new Promise<void>((resolve) => {
    output.once('close', resolve)
    output.once('end', resolve)
    output.once('error', () => resolve())
  })
  return {
    output,
    done,
    close() {
      abort.abort()
      output.destroy()
    },
  }
}
