// Refusing an HTTP upgrade on the raw socket the 'upgrade' event hands over: a plain-text
// answer, then the connection closes.
import { STATUS_CODES } from 'node:http'
import type { Duplex } from 'node:stream'

/** Answers `status` with a text body and closes the socket (destroyed after 5 s if the peer does not read). */
export function rejectUpgrade(socket: Duplex, status: number, body: string, headers: Record<string, string> = {}): void {
  if (socket.destroyed) return
  const all: Record<string, string> = { 'content-type': 'text/plain; charset=utf-8', 'x-content-type-options': 'nosniff', 'content-length': String(Buffer.byteLength(body)), connection: 'close', ...headers }
  const head = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n${Object.entries(all).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`
  socket.end(head + body)
  // A peer that does not read must not hold the socket.
  setTimeout(() => socket.destroy(), 5000).unref()
}
