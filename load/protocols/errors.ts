// Socket and TLS errors as weft load's error classes.
import type { ErrorClass } from '../types.ts'

const byCode: Record<string, ErrorClass> = {
  ECONNREFUSED: 'refused',
  ECONNRESET: 'reset',
  EPIPE: 'reset',
  ECONNABORTED: 'reset',
  ETIMEDOUT: 'timeout',
  EHOSTUNREACH: 'connect',
  ENETUNREACH: 'connect',
  EHOSTDOWN: 'connect',
  ENETDOWN: 'connect',
  EADDRNOTAVAIL: 'connect',
  EADDRINUSE: 'connect',
  ENOTFOUND: 'name-resolution',
  EAI_AGAIN: 'name-resolution',
  EAI_FAIL: 'name-resolution',
  EAI_NONAME: 'name-resolution',
  EAI_NODATA: 'name-resolution',
  EPROTO: 'tls',
  // Certificate verification (OpenSSL's X509_V_ERR_* names as Node reports them).
  DEPTH_ZERO_SELF_SIGNED_CERT: 'tls',
  SELF_SIGNED_CERT_IN_CHAIN: 'tls',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'tls',
  UNABLE_TO_GET_ISSUER_CERT: 'tls',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'tls',
  CERT_HAS_EXPIRED: 'tls',
  CERT_NOT_YET_VALID: 'tls',
  CERT_REVOKED: 'tls',
  CERT_UNTRUSTED: 'tls',
  CERT_REJECTED: 'tls',
  CERT_SIGNATURE_FAILURE: 'tls',
  HOSTNAME_MISMATCH: 'tls',
}

/** The class of a socket, DNS or TLS error; unknown errors are 'other'. */
export function classifyError(err: unknown): ErrorClass {
  const code = (err as { code?: unknown } | null)?.code
  if (typeof code === 'string') {
    const known = byCode[code]
    if (known) return known
    if (code.startsWith('ERR_TLS_') || code.startsWith('ERR_SSL_') || code.startsWith('ERR_OSSL_')) return 'tls'
  }
  // OpenSSL errors carry the library that raised them.
  const library = (err as { library?: unknown } | null)?.library
  if (typeof library === 'string' && /SSL|X509/i.test(library)) return 'tls'
  return 'other'
}
