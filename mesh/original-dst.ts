// Where a connection the node proxy accepted was first going: nftables' `redirect` sent it to
// the proxy's port, and conntrack still knows the original destination (SO_ORIGINAL_DST, read
// by the addon in native/). A connection that was not redirected reads back as sent: the
// proxy's own address and port. Without conntrack there is no answer at all (ENOENT).
import { createRequire } from 'node:module'
import type { Socket } from 'node:net'

export interface OriginalDestination {
  address: string
  port: number
  family: 4 | 6
}

interface Addon {
  originalDestination(fd: number): OriginalDestination
}

const addonPath = new URL('./native/build/Release/original_dst.node', import.meta.url).pathname
let addon: Addon | Error | undefined

function load(): Addon | Error {
  if (addon === undefined) {
    try {
      addon = createRequire(import.meta.url)(addonPath) as Addon
    } catch (err) {
      addon = new Error(`the mesh's original-destination addon is not built (${(err as Error).message.split('\n')[0]}): node mesh/native/build.ts builds it, with Debian's build-essential`)
    }
  }
  return addon
}

/** Why the mesh data path cannot run here, or undefined. */
export function originalDestinationUnavailable(): string | undefined {
  const a = load()
  return a instanceof Error ? a.message : undefined
}

/** The socket's file descriptor (Node keeps it on the TCP handle on Unix). */
function fdOf(socket: Socket): number {
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd
  if (typeof fd !== 'number' || fd < 0) throw new Error('the socket has no file descriptor (closed, or not a TCP socket)')
  return fd
}

export function originalDestination(socket: Socket): OriginalDestination {
  const a = load()
  if (a instanceof Error) throw a
  return a.originalDestination(fdOf(socket))
}
