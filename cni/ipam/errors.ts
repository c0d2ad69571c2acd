// CNI spec error result: the plugin prints `{ cniVersion, code, msg, details }` and exits non-zero.

/** Well-known codes from the CNI spec (0-99) and libcni (999). */
export const CNI_ERR = {
  incompatibleVersion: 1,
  unsupportedField: 2,
  unknownContainer: 3,
  invalidEnvironment: 4,
  ioFailure: 5,
  decodingFailure: 6,
  invalidNetworkConfig: 7,
  tryAgainLater: 11,
  /** libcni `types.ErrInternal`: what skel wraps a plain Go error in. */
  internal: 999,
} as const

export class CniError extends Error {
  code: number
  msg: string
  details: string

  constructor(code: number, msg: string, details = '') {
    super(details ? `${msg}: ${details}` : msg)
    this.name = 'CniError'
    this.code = code
    this.msg = msg
    this.details = details
  }

  toJSON(): { code: number; msg: string; details?: string } {
    return this.details ? { code: this.code, msg: this.msg, details: this.details } : { code: this.code, msg: this.msg }
  }
}

export function invalidConfig(msg: string): CniError {
  return new CniError(CNI_ERR.invalidNetworkConfig, msg)
}
