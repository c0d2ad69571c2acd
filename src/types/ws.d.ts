// The part of `ws` (8.x) weft uses: the package ships no type declarations.
declare module 'ws' {
  import type { EventEmitter } from 'node:events'
  import type { IncomingMessage } from 'node:http'
  import type { Duplex } from 'node:stream'
  import type { SecureContextOptions } from 'node:tls'

  type RawData = Buffer | ArrayBuffer | Buffer[]

  export interface ClientOptions extends SecureContextOptions {
    protocolVersion?: number
    maxPayload?: number
    perMessageDeflate?: boolean
    headers?: Record<string, string>
    handshakeTimeout?: number
    rejectUnauthorized?: boolean
    servername?: string
    /** Makes the connection (e.g. TLS over a unix socket). */
    createConnection?: (options: object) => Duplex
  }

  export class WebSocket extends EventEmitter {
    static readonly CONNECTING: 0
    static readonly OPEN: 1
    static readonly CLOSING: 2
    static readonly CLOSED: 3
    constructor(address: string, protocols?: string | string[], options?: ClientOptions)
    readonly readyState: 0 | 1 | 2 | 3
    readonly protocol: string
    readonly bufferedAmount: number
    binaryType: 'nodebuffer' | 'arraybuffer' | 'fragments'
    send(data: Buffer | Uint8Array | string, options: { binary?: boolean; mask?: boolean; fin?: boolean }, cb?: (err?: Error) => void): void
    send(data: Buffer | Uint8Array | string, cb?: (err?: Error) => void): void
    ping(data?: Buffer | string, mask?: boolean, cb?: (err?: Error) => void): void
    close(code?: number, reason?: string | Buffer): void
    terminate(): void
    pause(): void
    resume(): void
    on(event: 'message', listener: (data: RawData, isBinary: boolean) => void): this
    on(event: 'close', listener: (code: number, reason: Buffer) => void): this
    on(event: 'error', listener: (err: Error) => void): this
    on(event: 'open' | 'ping' | 'pong', listener: (data?: Buffer) => void): this
    on(event: 'unexpected-response', listener: (req: unknown, res: IncomingMessage) => void): this
    once(event: 'open', listener: () => void): this
    once(event: 'close', listener: (code: number, reason: Buffer) => void): this
    once(event: 'error', listener: (err: Error) => void): this
    once(event: 'unexpected-response', listener: (req: unknown, res: IncomingMessage) => void): this
  }

  export interface ServerOptions {
    noServer?: boolean
    maxPayload?: number
    perMessageDeflate?: boolean
    clientTracking?: boolean
    skipUTF8Validation?: boolean
    autoPong?: boolean
    handleProtocols?: (protocols: Set<string>, req: IncomingMessage) => string | false
  }

  export class WebSocketServer extends EventEmitter {
    constructor(options: ServerOptions)
    handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, cb: (ws: WebSocket, req: IncomingMessage) => void): void
    close(cb?: (err?: Error) => void): void
  }
}
