// PEM text from untrusted sources: read in one linear pass, every block's label checked,
// base64 strict. Text between blocks is allowed (openssl writes explanatory text there).

export interface PemBlock {
  label: string
  der: Buffer
}

/** Larger than any certificate bundle weft reads; refusing early keeps parsing cheap. */
const MAX_PEM_CHARS = 1 << 20
const BEGIN = '-----BEGIN '
const END = '-----END '
const DASHES = '-----'

/** Every PEM block in `text`, in order. `what` names the input in errors ("ca.crt", "the CSR"). */
export function decodePemBlocks(text: string, what: string): PemBlock[] {
  if (typeof text !== 'string') throw new Error(`${what}: expected PEM text`)
  if (text.length > MAX_PEM_CHARS) throw new Error(`${what}: PEM text is larger than ${MAX_PEM_CHARS} characters`)
  const blocks: PemBlock[] = []
  let at = 0
  for (;;) {
    const begin = text.indexOf(BEGIN, at)
    if (begin < 0) break
    const labelEnd = text.indexOf(DASHES, begin + BEGIN.length)
    const lineEnd = text.indexOf('\n', begin)
    if (labelEnd < 0 || (lineEnd >= 0 && labelEnd > lineEnd)) throw new Error(`${what}: malformed PEM BEGIN line`)
    const label = text.slice(begin + BEGIN.length, labelEnd)
    if (!/^[A-Z0-9 ]{1,64}$/.test(label)) throw new Error(`${what}: malformed PEM label`)
    const endMarker = `${END}${label}${DASHES}`
    const end = text.indexOf(END, labelEnd + DASHES.length)
    if (end < 0 || !text.startsWith(endMarker, end)) throw new Error(`${what}: PEM block "${label}" has no matching END line`)
    const body = text.slice(labelEnd + DASHES.length, end).replace(/[ \t\r\n]+/g, '')
    if (body.length === 0 || body.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(body)) {
      throw new Error(`${what}: PEM block "${label}" is not valid base64`)
    }
    blocks.push({ label, der: Buffer.from(body, 'base64') })
    at = end + endMarker.length
  }
  return blocks
}

/** The one block in `text`, which must carry one of `labels`. */
export function decodePem(text: string, labels: readonly string[], what: string): PemBlock {
  const blocks = decodePemBlocks(text, what)
  if (blocks.length === 0) throw new Error(`${what}: no PEM block found (expected ${labels.join(' or ')})`)
  if (blocks.length > 1) throw new Error(`${what}: expected one PEM block, found ${blocks.length}`)
  const block = blocks[0]!
  if (!labels.includes(block.label)) throw new Error(`${what}: PEM label is "${block.label}", expected ${labels.map((l) => `"${l}"`).join(' or ')}`)
  return block
}

export function encodePem(label: string, der: Uint8Array): string {
  const b64 = Buffer.from(der).toString('base64')
  const lines: string[] = []
  for (let i = 0; i < b64.length; i += 64) lines.push(b64.slice(i, i + 64))
  return `${BEGIN}${label}${DASHES}\n${lines.join('\n')}\n${END}${label}${DASHES}\n`
}
