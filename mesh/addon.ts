// The mesh's addon (native/): where a redirected connection was first going, and the tunnel
// engine (dataplane.ts). Built by `npm install` (node mesh/native/build.ts). nftables' `redirect` sent the connection to the proxy's port, and
// conntrack still knows the original destination (SO_ORIGINAL_DST). A connection that was not
// redirected reads back as sent: the proxy's own address and port. Without conntrack there is
// no answer at all (ENOENT).
import { createRequire } from 'node:module'
import type { Socket } from 'node:net'
import type { EngineCallbacks, EngineOptions, Engine } from './dataplane.ts'

export interface OriginalDestination {
  address: string
  port: number
  family: 4 | 6
}

interface Addon {
  originalDestination(fd: number): OriginalDestination
  createEngine(callbacks: EngineCallbacks, options: EngineOptions): Engine
  /** Bytes malloc has handed out and not taken back (glibc mallinfo2): the engine's, OpenSSL's and nghttp2's memory. */
  heapInUse(): number
}

const addonPath = new URL('./native/build/Release/mesh.node', import.meta.url).pathname
let addon: Addon | Error | undefined

export function meshAddon(): Addon {
  if (addon === undefined) {
    try {
      addon = createRequire(import.meta.url)(addonPath) as Addon
    } catch (err) {
      addon = new Error(`the mesh addon is not built (${(err as Error).message.split('\n')[0]}): node mesh/native/build.ts builds it, with Debian's build-essential and libnghttp2-dev`)
    }
  }
  if (addon instanceof Error) throw addon
  return addon
}

/** Why the mesh data path cannot run here, or undefined. */
export function meshAddonUnavailable(): string | undefined {
  try {
    meshAddon()
    return undefined
  } catch (err) {
    return (err as Error).message
  }
}

/** The socket's file descriptor (Node keeps it on the TCP handle on Unix). */
function fdOf(socket: Socket): number {
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd
  if (typeof fd !== 'number' || fd < 0) throw new Error('the socket has no file descriptor (closed, or not a TCP socket)')
  return fd
}

export function originalDestination(socket: Socket): OriginalDestination {
  return meshAddon().originalDestination(fdOf(socket))
}
