// One error type for encryption at rest. Messages name keys, files and fields, never a
// stored value or a key's secret.

export type EncryptionErrorCode =
  /** The EncryptionConfiguration is malformed or asks for something weft refuses. */
  | 'InvalidConfig'
  /** The config file cannot be read, or others may read or change it. */
  | 'ConfigFile'
  /** A stored value could not be decrypted (or a value could not be encrypted). */
  | 'TransformFailed'

export interface ConfigCause {
  field: string
  message: string
}

export class EncryptionError extends Error {
  readonly code: EncryptionErrorCode
  /** For 'InvalidConfig': one entry per bad field. */
  readonly causes: ConfigCause[]

  constructor(code: EncryptionErrorCode, message: string, causes: ConfigCause[] = []) {
    super(message)
    this.name = 'EncryptionError'
    this.code = code
    this.causes = causes
  }
}

export function isEncryptionError(err: unknown, code?: EncryptionErrorCode): err is EncryptionError {
  return err instanceof EncryptionError && (code === undefined || err.code === code)
}

/** Upstream's wording (etcd3 store): rendered by the API server as "Internal error occurred: unable to transform key …". */
export function transformFailed(key: string, reason: string): EncryptionError {
  return new EncryptionError('TransformFailed', `unable to transform key ${JSON.stringify(key)}: ${reason}`)
}
