// `kubectl attach` to a container with stdin or a tty: a session on its attach relay
// (runtime/attach-relay.ts) — its output live, stdin written through, and resizes applied
// to its terminal.
import { PassThrough, Writable } from 'node:stream'
import { readAttachFrames, ATTACH_STDERR } from '../runtime/attach-relay.ts'
import { processOnTerminal } from '../../util/proc.ts'
import { attachSocket, SYSTEM_PATH, type ContainerProcess } from '../runtime/index.ts'
import { setTerminalSize } from './exec.ts'
import type { AttachSession, StreamFlags } from './types.ts'

export async function attachToRelay(proc: ContainerProcess, flags: StreamFlags): Promise<AttachSession> {
  const socket = await attachSocket(proc)
  const tty = proc.io?.tty === true
  const output = new PassThrough()
  const stderr = new PassThrough()
  let pending: Buffer = Buffer.alloc(0)
  socket.on('data', (chunk: Buffer) => {
    const { frames, rest } = readAttachFrames(Buffer.concat([pending, chunk]))
    pending = rest
    for (const f of frames) (f.stream === ATTACH_STDERR && !tty ? stderr : output).write(f.data)
  })
  const done = new Promise<void>((resolve) => {
    socket.once('close', () => {
      output.end()
      stderr.end()
      resolve()
    })
  })
  socket.on('error', () => socket.destroy())
  const stdin =
    flags.stdin && proc.io?.stdin !== 'none'
      ? new Writable({
          write(chunk: Buffer, _encoding, callback) {
            if (socket.destroyed) return callback()
            if (socket.write(chunk)) callback()
            else socket.once('drain', () => callback())
          },
          // The caller's stdin ended: the session ends (with stdinOnce, so does the container's stdin).
          final(callback) {
            socket.end()
            callback()
          },
        })
      : undefined
  return {
    ...(stdin ? { stdin } : {}),
    output,
    ...(tty ? {} : { stderr }),
    ...(tty
      ? {
          resize(cols: number, rows: number) {
            const pid = processOnTerminal(proc.process.pid)
            if (pid !== undefined) void setTerminalSize(pid, { width: cols, height: rows }, { PATH: SYSTEM_PATH })
          },
        }
      : {}),
    done,
    close() {
      socket.destroy()
    },
  }
}
