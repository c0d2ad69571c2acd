// The error class (load/types.ts) of a socket, TLS or name-resolution error, from its code.
import type { ErrorClass } from '../types.ts'

const byCode: Record<string, ErrorClass> = {
  ECONNREFUSED: 'refused',
  ECONNRESET: 'reset',
  EPIPE: 'reset',
  ECONNABORTED: 'reset',
  ERR_STREAM_PREMATURE_CLOSE: 'reset',
  ETIMEDOUT: 'timeout',
  EHOSTUNREACH: 'connect',
  ENETUNREACH: 'connect',
  EHOSTDOWN: 'connect',
  ENETDOWN: 'connect',
  EADDRNOTAVAIL: 'connect',
  EADDRINUSE: 'connect',
  EAFNOSUPPORT: 'connect',
  ENOTFOUND: 'name-resolution',
  EAI_AGAIN: 'name-resolution',
  EAI_FAIL: 'name-resolution',
  EAI_NONAME: 'name-resolution',
  EAI_NODATA: 'name-resolution',
  EPROTO: 'tls',
  ERR_TLS_CERT_ALTNAME_INVALID: 'tls',
  ERR_TLS_HANDSHAKE_TIMEOUT: 'tls',
  ERR_TLS_INVALID_PROTOCOL_VERSION: 'tls',
  ERR_TLS_PROTOCOL_VERSION_CONFLICT: 'tls',
  // OpenSSL's certificate verification results, as node names them.
  UNABLE_TO_GET_ISSUER_CERT: 'tls',
  UNABLE_TO_GET_CRL: 'tls',
  UNABLE_TO_DECRYPT_CERT_SIGNATURE: 'tls',
  UNABLE_TO_DECRYPT_CRL_SIGNATURE: 'tls',
  UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY: 'tls',
  CERT_SIGNATURE_FAILURE: 'tls',
  CRL_SIGNATURE_FAILURE: 'tls',
  CERT_NOT_YET_VALID: 'tls',
  CERT_HAS_EXPIRED: 'tls',
  CRL_NOT_YET_VALID: 'tls',
  CRL_HAS_EXPIRED: 'tls',
  ERROR_IN_CERT_NOT_BEFORE_FIELD: 'tls',
  ERROR_IN_CERT_NOT_AFTER_FIELD: 'tls',
  ERROR_IN_CRL_LAST_UPDATE_FIELD: 'tls',
  ERROR_IN_CRL_NEXT_UPDATE_FIELD: 'tls',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'tls',
  SELF_SIGNED_CERT_IN_CHAIN: 'tls',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'tls',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'tls',
  CERT_CHAIN_TOO_LONG: 'tls',
  CERT_REVOKED: 'tls',
  INVALID_CA: 'tls',
  PATH_LENGTH_EXCEEDED: 'tls',
  INVALID_PURPOSE: 'tls',
  CERT_UNTRUSTED: 'tls',
  CERT_REJECTED: 'tls',
  HOSTNAME_MISMATCH: 'tls',
}

/** The class of an error from node:net, node:tls, node:dgram or node:dns; 'other' when unknown. */
export function errnoClass(err: unknown): ErrorClass {
  const code = (err as { code?: unknown } | null)?.code
  if (typeof code === 'string') {
    if (Object.hasOwn(byCode, code)) return byCode[code]
    if (code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_') || code.startsWith('ERR_OSSL_')) return 'tls'
  }
  // OpenSSL's errors name the library that raised them.
  const library = (err as { library?: unknown } | null)?.library
  if (typeof library === 'string' && /SSL|X509/i.test(library)) return 'tls'
  return 'other'
}
