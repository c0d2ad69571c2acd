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
  // A first record that does not start a ClientHello, or announces one over the limit, is not waited for.
  if (bytes.length >= 9 && bytes[0] === RECORD_HANDSHAKE && bytes.readUInt16BE(3) >= 4) {
    if (bytes[5] !== HANDSHAKE_CLIENT_HELLO || 4 + bytes.readUIntBE(6, 3) > MAX_CLIENT_HELLO_BYTES) return NONE
  }
  // The ClientHello may be split over several handshake records: gather its bytes.
  const parts: Buffer[] = []
  let gathered = 0
  let need = -1
  let at = 0
  while (need < 0 || gathered < need) {
    if (bytes.length < at + 5) return bytes.length >= MAX_CLIENT_HELLO_BYTES ? NONE : MORE
    if (bytes[at] !== RECORD_HANDSHAKE || bytes[at + 1] !== 3) return NONE
    const length = bytes.readUInt16BE(at + 3)
    if (length === 0 || length > MAX_RECORD) return NONE
    if (bytes.length < at + 5 + length) return bytes.length >= MAX_CLIENT_HELLO_BYTES ? NONE : MORE
    parts.push(bytes.subarray(at + 5, at + 5 + length))
    gathered += length
    at += 5 + length
    if (need < 0 && gathered >= 4) {
      const head = parts.length === 1 ? parts[0]! : Buffer.concat(parts)
      if (head[0] !== HANDSHAKE_CLIENT_HELLO) return NONE
      need = 4 + head.readUIntBE(1, 3)
      if (need > MAX_CLIENT_HELLO_BYTES) return NONE
    }
  }
  const message = parts.length === 1 ? parts[0]! : Buffer.concat(parts)
  return { complete: true, servername: serverName(message.subarray(4, need)) }
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
