// Turns what the server answered with (a `Status` body, or anything else) back into an ApiError.
import { ApiError } from '../util/errors.ts'
import type { StatusDetails, StatusReason } from '../util/errors.ts'

const reasons: ReadonlySet<string> = new Set<StatusReason>([
  'BadRequest', 'Unauthorized', 'Forbidden', 'NotFound', 'AlreadyExists', 'Conflict', 'Gone', 'Expired',
  'Invalid', 'MethodNotAllowed', 'NotAcceptable', 'RequestEntityTooLarge', 'UnsupportedMediaType',
  'TooManyRequests', 'InternalError', 'ServiceUnavailable', 'Timeout',
])

const byCode: Record<number, StatusReason> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  405: 'MethodNotAllowed',
  406: 'NotAcceptable',
  409: 'Conflict',
  410: 'Expired',
  413: 'RequestEntityTooLarge',
  415: 'UnsupportedMediaType',
  422: 'Invalid',
  429: 'TooManyRequests',
  503: 'ServiceUnavailable',
  504: 'Timeout',
}

export function reasonForCode(code: number): StatusReason {
  return byCode[code] ?? 'InternalError'
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

export function isStatus(value: unknown): value is Record<string, unknown> & { kind: 'Status' } {
  return isRecord(value) && value.kind === 'Status'
}

/** An ApiError from a `Status` object; `httpCode` fills in what the body leaves out. */
export function errorFromStatus(status: unknown, httpCode: number): ApiError {
  if (!isStatus(status)) return new ApiError(httpCode, reasonForCode(httpCode), `the server responded with HTTP ${httpCode}`)
  const code = typeof status.code === 'number' && status.code > 0 ? status.code : httpCode
  const reason = typeof status.reason === 'string' && reasons.has(status.reason) ? (status.reason as StatusReason) : reasonForCode(code)
  const message = typeof status.message === 'string' && status.message ? status.message : `the server responded with HTTP ${code} ${reason}`
  const details = isRecord(status.details) ? (status.details as StatusDetails) : undefined
  return new ApiError(code, reason, message, details)
}

/** An ApiError for a failed response body: a Status when it parses as one, else its text. */
export function errorFromResponse(httpCode: number, text: string): ApiError {
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    parsed = undefined
  }
  if (isStatus(parsed)) return errorFromStatus(parsed, httpCode)
  const snippet = text.trim().slice(0, 500)
  return new ApiError(httpCode, reasonForCode(httpCode), snippet || `the server responded with HTTP ${httpCode}`)
}
