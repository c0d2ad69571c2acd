// Just enough PEM and DER to know what a blob claims to be (Go's encoding/pem.Decode and the
// outer shape of an x509 structure). Verifying signatures and contents is the PKI module's job.

export interface PemBlock {
  type: string
  /** Whether the block carries `Key: value` headers before its base64 body. */
  headers: boolean
  bytes: Buffer
  /** The block's text, BEGIN and END lines included. */
  text: string
}

const begin = '-----BEGIN '
const dashes = '-----'
const base64Body = /^[A-Za-z0-9+/=\s]*$/

/** The PEM blocks in `text`, in order, skipping what lies between them (as pem.Decode does). */
export function pemBlocks(text: string): PemBlock[] {
  const blocks: PemBlock[] = []
  let at = 0
  for (;;) {
    const start = text.indexOf(begin, at)
    if (start < 0) return blocks
    const typeEnd = text.indexOf(dashes, start + begin.length)
    const lineEnd = text.indexOf('\n', start)
    if (typeEnd < 0) return blocks
    if (lineEnd >= 0 && lineEnd < typeEnd) {
      at = start + begin.length
      continue
    }
    const type = text.slice(start + begin.length, typeEnd)
    const endLine = `-----END ${type}-----`
    const end = text.indexOf(endLine, typeEnd + dashes.length)
    if (end < 0) return blocks
    const inner = text.slice(typeEnd + dashes.length, end)
    const blank = inner.search(/\r?\n\r?\n/)
    const firstLine = inner.trimStart().split(/\r?\n/, 1)[0] ?? ''
    const headers = firstLine.includes(':')
    const body = headers && blank >= 0 ? inner.slice(blank) : inner
    at = end + endLine.length
    if (!base64Body.test(body)) continue
    blocks.push({ type, headers, bytes: Buffer.from(body.replace(/\s+/g, ''), 'base64'), text: text.slice(start, at) })
  }
}

interface Tlv {
  tag: number
  /** Offset of the value and its end. */
  start: number
  end: number
}

function readTlv(der: Buffer, at: number, limit: number): Tlv | undefined {
  if (at + 2 > limit) return undefined
  const tag = der[at]
  let len = der[at + 1]
  let start = at + 2
  if (len & 0x80) {
    const n = len & 0x7f
    if (n === 0 || n > 4 || start + n > limit) return undefined
    len = 0
    for (let i = 0; i < n; i++) len = len * 256 + der[start + i]
    start += n
  }
  const end = start + len
  return end <= limit ? { tag, start, end } : undefined
}

/**
 * Whether `der` has the outer shape of a signed x509 structure (a certificate or a PKCS#10
 * request): SEQUENCE { SEQUENCE, SEQUENCE, BIT STRING } and nothing after it. Returns a
 * problem, or undefined.
 */
export function signedStructureProblem(der: Buffer, what: string): string | undefined {
  const outer = readTlv(der, 0, der.length)
  if (!outer || outer.tag !== 0x30) return `x509: malformed ${what}`
  if (outer.end !== der.length) return `x509: trailing data after ${what}`
  const tags: number[] = []
  for (let at = outer.start; at < outer.end; ) {
    const part = readTlv(der, at, outer.end)
    if (!part) return `x509: malformed ${what}`
    tags.push(part.tag)
    at = part.end
  }
  if (tags.length !== 3 || tags[0] !== 0x30 || tags[1] !== 0x30 || tags[2] !== 0x03) return `x509: malformed ${what}`
  return undefined
}
