// Idle keep-alive connections to endpoints, for the HTTP/1.1 fast path (h1-fast-path.ts):
// per endpoint a stack of idle sockets, each dropped when its peer closes it or it has been
// idle for a while.
import { connect, type Socket } from 'node:net'
import { endpointId } from './balancer.ts'
import type { Endpoint } from './endpoints.ts'

const IDLE_MS = 30_000
const MAX_IDLE_PER_ENDPOINT = 128

export class RawPools {
  #idle = new Map<string, Socket[]>()
  #closed = false
  /** Removes the listeners an idle connection has while it waits in the pool. */
  #watchers = new WeakMap<Socket, () => void>()

  /** An idle connection to `ep`, if one is left. */
  take(ep: Endpoint): Socket | undefined {
    const list = this.#idle.get(endpointId(ep))
    while (list && list.length > 0) {
      const socket = list.pop()!
      socket.setTimeout(0)
      this.#watchers.get(socket)?.()
      if (!socket.destroyed && socket.readable && socket.writable) return socket
      socket.destroy()
    }
    return undefined
  }

  /** A new connection, destroyed with an ETIMEDOUT error when it is not up within `timeoutMs`. */
  open(ep: Endpoint, timeoutMs: number): Socket {
    const socket = connect({ host: ep.address, port: ep.port, noDelay: true })
    const timer = setTimeout(() => socket.destroy(Object.assign(new Error(`connect timed out after ${timeoutMs} ms`), { code: 'ETIMEDOUT' })), timeoutMs)
    socket.once('connect', () => clearTimeout(timer))
    socket.once('close', () => clearTimeout(timer))
    return socket
  }

  /** Keeps an idle connection for reuse (or closes it when the pool is full or closed). */
  put(ep: Endpoint, socket: Socket): void {
    const id = endpointId(ep)
    let list = this.#idle.get(id)
    if (!list) this.#idle.set(id, (list = []))
    if (this.#closed || list.length >= MAX_IDLE_PER_ENDPOINT) {
      socket.destroy()
      return
    }
    const drop = () => {
      const i = list.indexOf(socket)
      if (i >= 0) list.splice(i, 1)
    }
    const destroy = () => socket.destroy()
    socket.setTimeout(IDLE_MS)
    socket.on('timeout', destroy)
    socket.on('close', drop)
    socket.on('error', destroy)
    // Bytes from an idle connection are a protocol error: the connection is not reusable.
    socket.on('data', destroy)
    this.#watchers.set(socket, () => {
      socket.off('timeout', destroy)
      socket.off('close', drop)
      socket.off('error', destroy)
      socket.off('data', destroy)
      this.#watchers.delete(socket)
    })
    list.push(socket)
  }

  /** Closes the idle connections of endpoints not in `keep` ('addr:port' ids). */
  prune(keep: ReadonlySet<string>): void {
    for (const [id, list] of this.#idle) {
      if (keep.has(id)) continue
      this.#idle.delete(id)
      for (const s of list) s.destroy()
    }
  }

  close(): void {
    this.#closed = true
    for (const list of this.#idle.values()) for (const s of list) s.destroy()
    this.#idle.clear()
  }
}
