// Reads the server name (SNI) from the first bytes of a TLS connection, before any TLS
// library sees them, so the connection's TLS session can be made from the one SecureContext
// that serves that name. (Node's SNICallback cannot do this: it copies only one certificate
// of the chosen context into a session that still holds the default context's certificates,
// so an ECDSA default shadows an RSA or Ed25519 certificate, and a context holding an RSA and
// an ECDSA certificate serves only one of them.)
//
// Pure and strict: every length is checked against what contains it. Anything that is not a
// well-formed ClientHello yields `servername: undefined` (the default certificate; the TLS
// library then refuses what it must); a name that is not printable ASCII is ignored.

/** Bytes read at most while looking for the end of a ClientHello (one is rarely over 2 KiB). */
export const MAX_CLIENT_HELLO_BYTES = 64 * 1024

export type HelloScan = { complete: false } | { complete: true; servername: string | undefined }

const MORE: HelloScan = { complete: false }
const NONE: HelloScan = { complete: true, servername: undefined }

const RECORD_HANDSHAKE = 22
const HANDSHAKE_CLIENT_HELLO = 1
const EXTENSION_SERVER_NAME = 0
const NAME_TYPE_HOST = 0
const MAX_RECORD = 16384 + 2048

/** What `bytes` (the start of a connection) say: more is needed, or the ClientHello's server name. */
export function scanClientHello(bytes: Buffer): HelloScan {
  return new ClientHelloReader().push(bytes)
}

/**
 * Reads the first bytes of a connection as they arrive, chunk by chunk, in time linear in their
 * number: each record is parsed once, and the bytes are kept in one buffer that doubles as it
 * fills. (Scanning everything again from the start for every chunk cost a trickled 60 KiB
 * ClientHello, a byte or a one-byte record at a time, a quarter of a second of CPU.)
 */
export class ClientHelloReader {
  /** The bytes so far are #buffer[0, #length); the rest is room to grow. */
  #buffer: Buffer = Buffer.alloc(0)
  #length = 0
  /** Where the next record starts. */
  #at = 0
  /** The handshake bytes of the records read: [start, end) in #buffer. */
  #parts: [number, number][] = []
  #gathered = 0
  /** The ClientHello's length with its 4-byte header, once known. */
  #need = -1
  #headChecked = false
  #answer: HelloScan | undefined

  /** Every byte pushed so far. */
  get bytes(): Buffer {
    return this.#buffer.subarray(0, this.#length)
  }

  /** Adds the next bytes; what they all say now (once complete, the answer stays). */
  push(chunk: Buffer): HelloScan {
    if (this.#answer) return this.#answer
    this.#append(chunk)
    const answer = this.#read()
    if (answer.complete) this.#answer = answer
    return answer
  }

  #append(chunk: Buffer): void {
    if (this.#length === 0) {
      this.#buffer = chunk
      this.#length = chunk.length
      return
    }
    const length = this.#length + chunk.length
    if (length > this.#buffer.length) {
      const grown = Buffer.allocUnsafe(Math.max(length, 2 * this.#buffer.length, 1024))
      this.#buffer.copy(grown, 0, 0, this.#length)
      this.#buffer = grown
    }
    chunk.copy(this.#buffer, this.#length)
    this.#length = length
  }

  #read(): HelloScan {
    const bytes = this.#buffer
    const length = this.#length
    // A first record that does not start a ClientHello, or announces one over the limit, is not waited for.
    if (!this.#headChecked && length >= 9) {
      this.#headChecked = true
      if (bytes[0] === RECORD_HANDSHAKE && bytes.readUInt16BE(3) >= 4) {
        if (bytes[5] !== HANDSHAKE_CLIENT_HELLO || 4 + bytes.readUIntBE(6, 3) > MAX_CLIENT_HELLO_BYTES) return NONE
      }
    }
    const more = length >= MAX_CLIENT_HELLO_BYTES ? NONE : MORE
    // The ClientHello may be split over several handshake records: gather its bytes.
    while (this.#need < 0 || this.#gathered < this.#need) {
      const at = this.#at
      if (length < at + 5) return more
      if (bytes[at] !== RECORD_HANDSHAKE || bytes[at + 1] !== 3) return NONE
      const record = bytes.readUInt16BE(at + 3)
      if (record === 0 || record > MAX_RECORD) return NONE
      if (length < at + 5 + record) return more
      this.#parts.push([at + 5, at + 5 + record])
      this.#gathered += record
      this.#at = at + 5 + record
      if (this.#need < 0 && this.#gathered >= 4) {
        const head = this.#message(4)
        if (head[0] !== HANDSHAKE_CLIENT_HELLO) return NONE
        this.#need = 4 + head.readUIntBE(1, 3)
        if (this.#need > MAX_CLIENT_HELLO_BYTES) return NONE
      }
    }
    return { complete: true, servername: serverName(this.#message(this.#need).subarray(4)) }
  }

  /** The first `n` handshake bytes (n <= #gathered). */
  #message(n: number): Buffer {
    const [start, end] = this.#parts[0]!
    if (end - start >= n) return this.#buffer.subarray(start, start + n)
    const out = Buffer.allocUnsafe(n)
    let filled = 0
    for (const [from, to] of this.#parts) {
      if (filled === n) break
      filled += this.#buffer.copy(out, filled, from, Math.min(to, from + n - filled))
    }
    return out
  }
}

/** The host_name of the server_name extension of a ClientHello body, if well-formed. */
function serverName(body: Buffer): string | undefined {
  let at = 2 + 32 // legacy_version, random
  const skip = (lengthBytes: 1 | 2): boolean => {
    if (body.length < at + lengthBytes) return false
    const n = lengthBytes === 1 ? body[at]! : body.readUInt16BE(at)
    at += lengthBytes + n
    return at <= body.length
  }
  if (!skip(1) || !skip(2) || !skip(1)) return undefined // session id, cipher suites, compression methods
  if (body.length < at + 2) return undefined // no extensions
  const end = at + 2 + body.readUInt16BE(at)
  if (end > body.length) return undefined
  at += 2
  while (at + 4 <= end) {
    const type = body.readUInt16BE(at)
    const length = body.readUInt16BE(at + 2)
    at += 4
    if (at + length > end) return undefined
    if (type === EXTENSION_SERVER_NAME) return hostName(body.subarray(at, at + length))
    at += length
  }
  return undefined
}

function hostName(ext: Buffer): string | undefined {
  if (ext.length < 2 || ext.readUInt16BE(0) !== ext.length - 2) return undefined
  let at = 2
  while (at + 3 <= ext.length) {
    const type = ext[at]!
    const length = ext.readUInt16BE(at + 1)
    at += 3
    if (at + length > ext.length) return undefined
    if (type === NAME_TYPE_HOST) {
      if (length === 0 || length > 255) return undefined
      const name = ext.subarray(at, at + length)
      for (const c of name) if (c <= 0x20 || c >= 0x7f) return undefined
      return name.toString('latin1')
    }
    at += length
  }
  return undefined
}
