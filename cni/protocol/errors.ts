export const ERR_INCOMPATIBLE_VERSION = 1
export const ERR_UNSUPPORTED_FIELD = 2
export const ERR_UNKNOWN_CONTAINER = 3
export const ERR_INVALID_ENVIRONMENT = 4
export const ERR_IO_FAILURE = 5
export const ERR_DECODING_FAILURE = 6
export const ERR_INVALID_NETWORK_CONFIG = 7
export const ERR_TRY_AGAIN_LATER = 11
export const ERR_PLUGIN_NOT_AVAILABLE = 50
export const ERR_LIMITED_CONNECTIVITY = 51
/** What libcni's skel reports for errors a plugin did not classify. */
export const ERR_INTERNAL = 999

export interface CniErrorJson {
  cniVersion: string
  code: number
  msg: string
  details?: string
}

export class CniError extends Error {
  readonly code: number
  readonly msg: string
  readonly details: string

  constructor(code: number, msg: string, details = '') {
    super(details ? `${msg}: ${details}` : msg)
    this.name = 'CniError'
    this.code = code
    this.msg = msg
    this.details = details
  }

  toJSON(cniVersion: string): CniErrorJson {
    const out: CniErrorJson = { cniVersion, code: this.code, msg: this.msg }
    if (this.details) out.details = this.details
    return out
  }
}

/** Wraps anything thrown by a handler; CniErrors pass through unchanged. */
export function toCniError(err: unknown): CniError {
  if (err instanceof CniError) return err
  if (err instanceof Error) return new CniError(ERR_INTERNAL, err.message)
  return new CniError(ERR_INTERNAL, String(err))
}
