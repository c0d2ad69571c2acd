// The helper a NetnsDialer starts inside a pod's network namespace (through nsenter; Node
// cannot setns): for each `{ id, port }` on its IPC channel it connects to localhost:port
// here and hands the connected socket back over the channel (fd passing), so the bytes
// never pass through this process. It exits when its parent goes.
import { connect, type Socket } from 'node:net'
import type { DialReply, DialRequest } from './netns-dialer-protocol.ts'
import { goDialError } from './netns-dialer-protocol.ts'

function attempt(host: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port, noDelay: true })
    // Nothing may be read here: the first bytes belong to the parent.
    socket.pause()
    const timer = setTimeout(() => socket.destroy(Object.assign(new Error('i/o timeout'), { code: 'ETIMEDOUT' })), 10_000)
    socket.once('connect', () => {
      clearTimeout(timer)
      socket.removeAllListeners('error')
      socket.on('error', () => socket.destroy())
      resolve(socket)
    })
    socket.once('error', (err) => {
      clearTimeout(timer)
      reject(err)
    })
  })
}

async function dial(req: DialRequest): Promise<void> {
  try {
    const socket = await attempt('127.0.0.1', req.port)
    process.send?.({ id: req.id, ok: true } satisfies DialReply, socket)
    return
  } catch (v4) {
    // Upstream's runtimes try IPv4, then IPv6, and report both.
    try {
      const socket = await attempt('::1', req.port)
      process.send?.({ id: req.id, ok: true } satisfies DialReply, socket)
    } catch (v6) {
      const error = `IPv4: ${goDialError('tcp4', `127.0.0.1:${req.port}`, v4)} IPv6 ${goDialError('tcp6', `[::1]:${req.port}`, v6)}`
      process.send?.({ id: req.id, ok: false, error } satisfies DialReply)
    }
  }
}

process.on('message', (msg: unknown) => {
  const m = msg as Partial<DialRequest> | null
  if (!m || typeof m.id !== 'number' || !Number.isInteger(m.port) || m.port! < 1 || m.port! > 65535) return
  void dial({ id: m.id, port: m.port! })
})
process.on('disconnect', () => process.exit(0))
process.once('SIGTERM', () => process.exit(0))
process.send?.({ ready: true })
