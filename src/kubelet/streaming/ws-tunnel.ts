// A byte stream carried in WebSocket binary messages (RFC 6455), as kubectl tunnels SPDY
// (subprotocol `SPDY/3.1+portforward.k8s.io`): every binary message's payload is the next
// piece of the stream, whatever the message boundaries; text messages are refused.
// The port-forward code only needs `acceptWebSocketTunnel` (the WebSocketTunnelAccept
// shape): a shared WebSocket layer can stand in for this file by providing it.
import { createHash, randomBytes } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import { Duplex } from 'node:stream'
import { ChunkQueue } from './chunks.ts'

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11'

export const WsOpcode = { CONTINUATION: 0, TEXT: 1, BINARY: 2, CLOSE: 8, PING: 9, PONG: 10 } as const

/** Largest frame payload accepted. */
const MAX_FRAME = 16 * 1024 * 1024

/** A request that is not an acceptable WebSocket upgrade; `status` is the HTTP answer. */
export class WebSocketHandshakeError extends Error {
  readonly code: 'WS_HANDSHAKE' = 'WS_HANDSHAKE'
  readonly status: 400 | 403 | 426
  constructor(status: 400 | 403 | 426, message: string) {
    super(message)
    this.status = status
  }
}

/** What the port-forward upgrade needs of a WebSocket layer. */
export type WebSocketTunnelAccept = (req: IncomingMessage, socket: Duplex, head: Buffer, protocols: readonly string[]) => { stream: Duplex; protocol: string }

function headerList(v: string | string[] | undefined): string[] {
  const all = Array.isArray(v) ? v.join(',') : (v ?? '')
  return all
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
}

/** Does the request ask for a WebSocket (Upgrade: websocket)? */
export function isWebSocketRequest(req: IncomingMessage): boolean {
  return headerList(req.headers.upgrade).some((u) => u.toLowerCase() === 'websocket')
}

export function acceptKey(key: string): string {
  return createHash('sha1').update(key + GUID).digest('base64')
}

/** Checks the handshake, writes the 101 (choosing the first of `protocols` the client offers) and returns the tunnel. */
export const acceptWebSocketTunnel: WebSocketTunnelAccept = (req, socket, head, protocols) => {
  if (req.method !== 'GET') throw new WebSocketHandshakeError(400, `a WebSocket upgrade must be a GET, not ${req.method}`)
  if (!headerList(req.headers.connection).some((c) => c.toLowerCase() === 'upgrade')) throw new WebSocketHandshakeError(400, 'a WebSocket upgrade needs "Connection: Upgrade"')
  if (req.headers['sec-websocket-version'] !== '13') throw new WebSocketHandshakeError(426, 'only WebSocket version 13 is supported (Sec-WebSocket-Version: 13)')
  const key = req.headers['sec-websocket-key']
  if (typeof key !== 'string' || !/^[A-Za-z0-9+/]{22}==$/.test(key)) throw new WebSocketHandshakeError(400, 'Sec-WebSocket-Key must be 16 bytes in base64')
  const offered = headerList(req.headers['sec-websocket-protocol'])
  const protocol = offered.find((p) => protocols.includes(p))
  if (!protocol) throw new WebSocketHandshakeError(400, `none of the offered subprotocols (${offered.join(', ') || 'none'}) is supported; offer one of ${protocols.join(', ')}`)
  socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptKey(key)}\r\nSec-WebSocket-Protocol: ${protocol}\r\n\r\n`)
  const stream = new WebSocketByteStream(socket, 'server')
  if (head.length > 0) stream.feed(head)
  return { stream, protocol }
}

/** A frame header (and the mask key when masking); the client side masks `payload` in place. */
export function encodeFrameHead(opcode: number, length: number, fin: boolean, mask: Buffer | undefined): Buffer {
  const ext = length < 126 ? 0 : length < 65536 ? 2 : 8
  const head = Buffer.allocUnsafe(2 + ext + (mask ? 4 : 0))
  head[0] = (fin ? 0x80 : 0) | opcode
  const m = mask ? 0x80 : 0
  if (ext === 0) head[1] = m | length
  else if (ext === 2) {
    head[1] = m | 126
    head.writeUInt16BE(length, 2)
  } else {
    head[1] = m | 127
    head.writeBigUInt64BE(BigInt(length), 2)
  }
  if (mask) mask.copy(head, 2 + ext)
  return head
}

/** XORs `data` with the 4-byte `mask`, the mask's phase starting at `offset` (4 bytes at a time where aligned). */
export function applyMask(data: Buffer, mask: Buffer, offset = 0): void {
  const n = data.length
  let i = 0
  for (; i < n && ((data.byteOffset + i) & 3) !== 0; i++) data[i]! ^= mask[(offset + i) & 3]!
  const words = (n - i) >>> 2
  if (words > 0) {
    const p = (offset + i) & 3
    // Little-endian: the byte at the lowest address is the word's low byte.
    const m = (mask[p]! | (mask[(p + 1) & 3]! << 8) | (mask[(p + 2) & 3]! << 16) | (mask[(p + 3) & 3]! << 24)) >>> 0
    const view = new Uint32Array(data.buffer, data.byteOffset + i, words)
    for (let w = 0; w < words; w++) view[w]! ^= m
    i += words * 4
  }
  for (; i < n; i++) data[i]! ^= mask[(offset + i) & 3]!
}

class ProtocolError extends Error {
  readonly closeCode: number
  constructor(closeCode: number, message: string) {
    super(message)
    this.closeCode = closeCode
  }
}

/** The payload bytes of binary messages, both ways; `role` decides who masks. */
export class WebSocketByteStream extends Duplex {
  readonly #socket: Duplex
  readonly #role: 'server' | 'client'
  readonly #queue = new ChunkQueue()
  #inMessage = false
  #closeSent = false
  #ended = false

  constructor(socket: Duplex, role: 'server' | 'client') {
    super({ allowHalfOpen: false, readableHighWaterMark: 256 * 1024, writableHighWaterMark: 256 * 1024 })
    this.#socket = socket
    this.#role = role
    socket.on('data', (chunk: Buffer) => this.feed(chunk))
    socket.on('end', () => this.#remoteEnd())
    socket.on('error', (err) => this.destroy(err))
    socket.on('close', () => {
      this.#remoteEnd()
      this.destroy()
    })
    socket.on('drain', () => this.#onDrain?.())
  }

  #onDrain: (() => void) | undefined

  /** @internal Bytes read from the socket (also the bytes that came with the upgrade request). */
  feed(chunk: Buffer): void {
    this.#queue.push(chunk)
    try {
      this.#parse()
    } catch (err) {
      if (err instanceof ProtocolError) this.#sendClose(err.closeCode, err.message.slice(0, 120))
      this.#socket.end()
      this.destroy(err instanceof Error ? err : new Error(String(err)))
    }
  }

  #parse(): void {
    for (;;) {
      if (this.#queue.length < 2) return
      const b = this.#queue.peek(Math.min(this.#queue.length, 14))
      const fin = (b[0]! & 0x80) !== 0
      if (b[0]! & 0x70) throw new ProtocolError(1002, 'a WebSocket frame sets reserved bits (no extension was agreed)')
      const opcode = b[0]! & 0x0f
      const masked = (b[1]! & 0x80) !== 0
      if (masked !== (this.#role === 'server')) throw new ProtocolError(1002, this.#role === 'server' ? 'a client frame must be masked' : 'a server frame must not be masked')
      let len = b[1]! & 0x7f
      let at = 2
      if (len === 126) {
        if (b.length < 4) return
        len = b.readUInt16BE(2)
        at = 4
      } else if (len === 127) {
        if (b.length < 10) return
        const big = b.readBigUInt64BE(2)
        if (big > BigInt(MAX_FRAME)) throw new ProtocolError(1009, `a WebSocket frame of ${big} bytes is over the limit of ${MAX_FRAME}`)
        len = Number(big)
        at = 10
      }
      if (len > MAX_FRAME) throw new ProtocolError(1009, `a WebSocket frame of ${len} bytes is over the limit of ${MAX_FRAME}`)
      const maskAt = at
      if (masked) at += 4
      if (this.#queue.length < at + len) return
      const frame = this.#queue.take(at + len)
      // The frame's bytes are this reader's own: unmasked in place, not copied.
      const payload = frame.subarray(at)
      if (masked) applyMask(payload, frame.subarray(maskAt, maskAt + 4))
      this.#frame(opcode, fin, payload)
      if (this.destroyed) return
    }
  }

  #frame(opcode: number, fin: boolean, payload: Buffer): void {
    if (opcode >= 8) {
      if (!fin || payload.length > 125) throw new ProtocolError(1002, 'a WebSocket control frame must be whole and at most 125 bytes')
      if (opcode === WsOpcode.CLOSE) {
        const code = payload.length >= 2 ? payload.readUInt16BE(0) : 1000
        this.#sendClose(code === 1005 || code === 1006 ? 1000 : code, '')
        this.#remoteEnd()
        this.#socket.end()
      } else if (opcode === WsOpcode.PING) this.#writeFrame(WsOpcode.PONG, payload)
      else if (opcode !== WsOpcode.PONG) throw new ProtocolError(1002, `unknown WebSocket opcode ${opcode}`)
      return
    }
    if (opcode === WsOpcode.TEXT) throw new ProtocolError(1003, 'this tunnel carries binary messages only')
    if (opcode === WsOpcode.CONTINUATION ? !this.#inMessage : this.#inMessage) throw new ProtocolError(1002, 'WebSocket message fragments are out of order')
    if (opcode !== WsOpcode.CONTINUATION && opcode !== WsOpcode.BINARY) throw new ProtocolError(1002, `unknown WebSocket opcode ${opcode}`)
    this.#inMessage = !fin
    if (payload.length > 0 && !this.#ended && !this.push(payload)) this.#socket.pause()
  }


  #remoteEnd(): void {
    if (this.#ended) return
    this.#ended = true
    this.push(null)
  }

  #writeFrame(opcode: number, payload: Buffer | readonly Buffer[]): boolean {
    if (this.#socket.destroyed || this.#socket.writableEnded) return true
    const parts = Buffer.isBuffer(payload) ? [payload] : payload
    const length = parts.reduce((n, p) => n + p.length, 0)
    const mask = this.#role === 'client' ? randomBytes(4) : undefined
    this.#socket.cork()
    this.#socket.write(encodeFrameHead(opcode, length, true, mask))
    let ok = true
    let offset = 0
    for (const p of parts) {
      let out = p
      if (mask) {
        out = Buffer.from(p)
        applyMask(out, mask, offset)
      }
      offset += p.length
      ok = this.#socket.write(out)
    }
    this.#socket.uncork()
    return ok && !this.#socket.writableNeedDrain
  }

  #sendClose(code: number, reason: string): void {
    if (this.#closeSent) return
    this.#closeSent = true
    const body = Buffer.alloc(2 + Buffer.byteLength(reason))
    body.writeUInt16BE(code)
    body.write(reason, 2)
    this.#writeFrame(WsOpcode.CLOSE, body)
  }

  #afterWrite(ok: boolean, cb: (err?: Error | null) => void): void {
    if (ok) return cb()
    this.#onDrain = () => {
      this.#onDrain = undefined
      cb()
    }
  }

  override _read(): void {
    this.#socket.resume()
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.#afterWrite(this.#writeFrame(WsOpcode.BINARY, chunk), cb)
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, cb: (err?: Error | null) => void): void {
    this.#afterWrite(
      this.#writeFrame(
        WsOpcode.BINARY,
        chunks.map((c) => c.chunk),
      ),
      cb,
    )
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.#sendClose(1000, '')
    this.#socket.end()
    cb()
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.#socket.destroy()
    cb(err)
  }
}

/** The client half of the handshake (tests, benchmarks): the request headers to send and the answer to expect. */
export function clientHandshake(protocols: readonly string[]): { headers: Record<string, string>; expectedAccept: string } {
  const key = randomBytes(16).toString('base64')
  return {
    headers: { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': key, 'Sec-WebSocket-Protocol': protocols.join(', ') },
    expectedAccept: acceptKey(key),
  }
}
