// Strict base64url (RFC 7515 §2: no padding, no whitespace). Node's decoder ignores stray
// characters and the spare low bits of the last character, so several strings decode to the
// same bytes; a token is accepted only in its one canonical spelling.

const BASE64URL = /^[A-Za-z0-9_-]*$/

/** The bytes `text` encodes, or undefined when it is not canonical unpadded base64url. */
export function decodeBase64Url(text: string): Buffer | undefined {
  if (!BASE64URL.test(text) || text.length % 4 === 1) return undefined
  const bytes = Buffer.from(text, 'base64url')
  return bytes.toString('base64url') === text ? bytes : undefined
}
