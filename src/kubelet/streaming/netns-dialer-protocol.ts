// The messages between a NetnsDialer and its helper, and Go-worded dial errors (the
// error stream shows what upstream's runtimes write: `dial tcp4 127.0.0.1:80: connect: connection refused`).

export interface DialRequest {
  id: number
  port: number
}

/** `ok: true` comes with the connected socket as the message's handle. */
export type DialReply = { id: number; ok: true } | { id: number; ok: false; error: string }

const GO_ERRNO: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset by peer',
  ETIMEDOUT: 'i/o timeout',
  ENETUNREACH: 'network is unreachable',
  EHOSTUNREACH: 'no route to host',
  EADDRNOTAVAIL: 'cannot assign requested address',
  EAFNOSUPPORT: 'address family not supported by protocol',
}

export function goDialError(network: 'tcp4' | 'tcp6', address: string, err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code
  const text = typeof code === 'string' && GO_ERRNO[code] ? GO_ERRNO[code] : err instanceof Error ? err.message : String(err)
  return `dial ${network} ${address}: connect: ${text}`
}
