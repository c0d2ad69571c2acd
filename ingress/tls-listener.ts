// The TLS listener: reads each connection's ClientHello itself (client-hello.ts), picks the
// SecureContext for its server name, and only then starts TLS on the connection with exactly
// that context, so every certificate of it (RSA, ECDSA, EdDSA, or an RSA and an ECDSA one from
// one Secret) can be chosen by the TLS library for the client's signature algorithms.
// A connection gets `handshakeTimeoutMs` from accept to a finished handshake, then is passed on.
import { createServer as createNetServer, type Server, type Socket } from 'node:net'
import { TLSSocket, type SecureContext } from 'node:tls'
import { ClientHelloReader } from './client-hello.ts'

export interface TlsListenerOptions {
  /** The context for a server name (undefined: no SNI, or none readable). */
  select(servername: string | undefined): SecureContext
  /** ALPN protocols offered, in order of preference. */
  alpn: readonly string[]
  handshakeTimeoutMs: number
  /** A connection whose handshake finished. */
  secure(socket: TLSSocket): void
  /** A handshake that failed (the connection is closed). */
  clientError?(err: Error): void
}

export function createTlsListener(options: TlsListenerOptions): Server {
  return createNetServer({ noDelay: true }, (raw) => accept(raw, options))
}

function accept(raw: Socket, o: TlsListenerOptions): void {
  const timer = setTimeout(() => raw.destroy(), o.handshakeTimeoutMs)
  // Reads the ClientHello as it arrives, each byte once however it is trickled.
  let hello: ClientHelloReader | undefined = new ClientHelloReader()
  const onError = () => raw.destroy()
  const onClose = () => clearTimeout(timer)
  raw.on('error', onError)
  raw.on('close', onClose)
  const onData = (chunk: Buffer) => {
    if (!hello) return
    const scan = hello.push(chunk)
    if (!scan.complete) return
    raw.off('data', onData)
    raw.pause()
    // TLSSocket reads what is buffered on the socket before the rest.
    raw.unshift(hello.bytes)
    hello = undefined
    let context: SecureContext
    try {
      context = o.select(scan.servername)
    } catch {
      raw.destroy()
      return
    }
    const tls = new TLSSocket(raw, { isServer: true, secureContext: context, ALPNProtocols: [...o.alpn] })
    const onTlsError = (err: Error) => {
      o.clientError?.(err)
      tls.destroy()
    }
    tls.on('error', onTlsError)
    tls.once('close', () => clearTimeout(timer))
    tls.once('secure', () => {
      clearTimeout(timer)
      raw.off('error', onError)
      raw.off('close', onClose)
      tls.off('error', onTlsError)
      tls.on('error', () => tls.destroy())
      // What tls.Server does for its connections once secure (onServerSocketSecure in Node's
      // _tls_wrap.js): later TLS errors become 'error' events, and an http2 session given the
      // socket stops waiting for a 'secureConnect' that a server socket never emits.
      const internal = tls as TLSSocket & { _releaseControl?(): boolean; secureConnecting?: boolean }
      internal._releaseControl?.()
      internal.secureConnecting = false
      o.secure(tls)
    })
  }
  raw.on('data', onData)
}
