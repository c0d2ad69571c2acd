// IPAM errors are the CNI spec's error objects (cni/protocol/errors.ts); these are the codes
// the allocator uses, by name.
import {
  CniError,
  ERR_DECODING_FAILURE,
  ERR_INCOMPATIBLE_VERSION,
  ERR_INTERNAL,
  ERR_INVALID_ENVIRONMENT,
  ERR_INVALID_NETWORK_CONFIG,
  ERR_IO_FAILURE,
  ERR_TRY_AGAIN_LATER,
  ERR_UNKNOWN_CONTAINER,
  ERR_UNSUPPORTED_FIELD,
} from '../protocol/errors.ts'

export { CniError }

export const CNI_ERR = {
  incompatibleVersion: ERR_INCOMPATIBLE_VERSION,
  unsupportedField: ERR_UNSUPPORTED_FIELD,
  unknownContainer: ERR_UNKNOWN_CONTAINER,
  invalidEnvironment: ERR_INVALID_ENVIRONMENT,
  ioFailure: ERR_IO_FAILURE,
  decodingFailure: ERR_DECODING_FAILURE,
  invalidNetworkConfig: ERR_INVALID_NETWORK_CONFIG,
  tryAgainLater: ERR_TRY_AGAIN_LATER,
  /** libcni `types.ErrInternal`: what skel wraps a plain Go error in. */
  internal: ERR_INTERNAL,
} as const

export function invalidConfig(msg: string): CniError {
  return new CniError(CNI_ERR.invalidNetworkConfig, msg)
}
