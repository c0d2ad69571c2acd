// The compact JWS form (`header.payload.signature`), read before any signature check: only
// what picks the key and the algorithm comes out of here, never a claim.
import { decodeBase64Url } from './base64url.ts'

/** Longer bearer tokens are refused before they are hashed, decoded or looked up. */
export const MAX_TOKEN_LENGTH = 16 * 1024

export interface JwsHeader {
  alg: string
  kid?: string
  typ?: string
}

export type ParsedJws = { header: JwsHeader } | { error: string }

/** Quotes a value taken from a token for an error message: escaped, and short. */
export function quoteUntrusted(value: unknown): string {
  const text = JSON.stringify(typeof value === 'string' ? value : String(value))
  return text.length > 66 ? text.slice(0, 64) + '…"' : text
}

export function parseCompactJws(token: string): ParsedJws {
  if (token.length > MAX_TOKEN_LENGTH) return { error: `token is longer than ${MAX_TOKEN_LENGTH} bytes` }
  const parts = token.split('.')
  if (parts.length !== 3) return { error: 'token is not a compact JWS (three base64url parts joined by dots)' }
  const [headerText, payloadText, signatureText] = parts as [string, string, string]
  const headerBytes = decodeBase64Url(headerText)
  if (!headerBytes || !decodeBase64Url(payloadText) || !decodeBase64Url(signatureText) || signatureText === '') {
    return { error: 'token is not a compact JWS (a part is not canonical base64url)' }
  }
  let header: unknown
  try {
    header = JSON.parse(headerBytes.toString('utf8'))
  } catch {
    return { error: 'token header is not JSON' }
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) return { error: 'token header is not a JSON object' }
  const { alg, kid, typ } = header as Record<string, unknown>
  if (typeof alg !== 'string') return { error: 'token header has no alg' }
  if (kid !== undefined && typeof kid !== 'string') return { error: 'token header kid is not a string' }
  if (typ !== undefined && typeof typ !== 'string') return { error: 'token header typ is not a string' }
  const parsed: JwsHeader = { alg }
  if (kid !== undefined && kid !== '') parsed.kid = kid
  if (typ !== undefined) parsed.typ = typ
  return { header: parsed }
}
