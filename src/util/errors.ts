// One error type for everything the API answers with: it renders as a Kubernetes `Status`.

export interface StatusCause {
  reason?: string
  message?: string
  field?: string
}

export interface StatusDetails {
  name?: string
  group?: string
  kind?: string
  uid?: string
  causes?: StatusCause[]
  retryAfterSeconds?: number
}

export interface Status {
  kind: 'Status'
  apiVersion: 'v1'
  metadata: Record<string, unknown>
  status: 'Success' | 'Failure'
  message?: string
  reason?: string
  details?: StatusDetails
  code: number
}

/** Stable reason strings, exactly Kubernetes' `metav1.StatusReason` values. */
export type StatusReason =
  | 'BadRequest'
  | 'Unauthorized'
  | 'Forbidden'
  | 'NotFound'
  | 'AlreadyExists'
  | 'Conflict'
  | 'Gone'
  | 'Expired'
  | 'Invalid'
  | 'MethodNotAllowed'
  | 'NotAcceptable'
  | 'RequestEntityTooLarge'
  | 'UnsupportedMediaType'
  | 'TooManyRequests'
  | 'InternalError'
  | 'ServiceUnavailable'
  | 'Timeout'

export class ApiError extends Error {
  readonly code: number
  readonly reason: StatusReason
  readonly details: StatusDetails | undefined

  constructor(code: number, reason: StatusReason, message: string, details?: StatusDetails) {
    super(message)
    this.name = 'ApiError'
    this.code = code
    this.reason = reason
    this.details = details
  }

  toStatus(): Status {
    const status: Status = {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: this.message,
      reason: this.reason,
      code: this.code,
    }
    if (this.details) status.details = this.details
    return status
  }
}

/** Identifies a resource in error messages the way Kubernetes does: `pods`, `deployments.apps`. */
export interface ResourceRef {
  group: string
  resource: string
  kind?: string
}

function qualified(ref: ResourceRef): string {
  return ref.group ? `${ref.resource}.${ref.group}` : ref.resource
}

export function notFound(ref: ResourceRef, name: string): ApiError {
  return new ApiError(404, 'NotFound', `${qualified(ref)} "${name}" not found`, {
    name,
    group: ref.group,
    kind: ref.resource,
  })
}

/** upstream NewForbidden: `<resource>.<group> "<name>" is forbidden: <why>` (no name: none quoted). */
export function forbidden(ref: ResourceRef, name: string, why: string): ApiError {
  const subject = name ? `${qualified(ref)} "${name}"` : qualified(ref)
  return new ApiError(403, 'Forbidden', `${subject} is forbidden: ${why}`, { ...(name ? { name } : {}), group: ref.group, kind: ref.resource })
}

export function alreadyExists(ref: ResourceRef, name: string): ApiError {
  return new ApiError(409, 'AlreadyExists', `${qualified(ref)} "${name}" already exists`, {
    name,
    group: ref.group,
    kind: ref.resource,
  })
}

export function conflict(ref: ResourceRef, name: string, why: string): ApiError {
  return new ApiError(
    409,
    'Conflict',
    `Operation cannot be fulfilled on ${qualified(ref)} "${name}": ${why}`,
    { name, group: ref.group, kind: ref.resource },
  )
}

/** HTTP 422 with one cause per bad field, as `kubectl` prints them. */
export function invalid(kind: string, group: string, name: string, causes: StatusCause[]): ApiError {
  const list = causes.map((c) => (c.field ? `${c.field}: ${c.message}` : `${c.message}`))
  const summary = list.length === 1 ? list[0] : `[${list.join(', ')}]`
  return new ApiError(422, 'Invalid', `${kind}${group ? '.' + group : ''} "${name}" is invalid: ${summary}`, {
    name,
    group,
    kind,
    causes,
  })
}

export function badRequest(message: string, causes?: StatusCause[]): ApiError {
  return new ApiError(400, 'BadRequest', message, causes ? { causes } : undefined)
}

export function expired(message: string): ApiError {
  return new ApiError(410, 'Expired', message)
}

export function methodNotAllowed(message: string): ApiError {
  return new ApiError(405, 'MethodNotAllowed', message)
}

export function unsupportedMediaType(contentType: string): ApiError {
  return new ApiError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf (got ${contentType})`)
}

export function tooLarge(limit: number): ApiError {
  return new ApiError(413, 'RequestEntityTooLarge', `the request body is larger than the limit of ${limit} bytes`)
}

export function internal(message: string): ApiError {
  return new ApiError(500, 'InternalError', `Internal error occurred: ${message}`)
}

export function isApiError(err: unknown): err is ApiError {
  return err instanceof ApiError
}

export function isNotFound(err: unknown): boolean {
  return err instanceof ApiError && err.code === 404
}

export function isConflict(err: unknown): boolean {
  return err instanceof ApiError && err.reason === 'Conflict'
}

export function isAlreadyExists(err: unknown): boolean {
  return err instanceof ApiError && err.reason === 'AlreadyExists'
}

export function isExpired(err: unknown): boolean {
  return err instanceof ApiError && (err.code === 410)
}
