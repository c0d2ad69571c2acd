// The request side of the create-only review kinds (TokenReview, SubjectAccessReview, …): the
// checks upstream's REST Create makes before answering. Whoever answers (server.ts) calls
// decodeReview, fills in `status`, and replies 201 with the object.
import { apiVersionOf } from '../api/registry.ts'
import { checkSchema } from '../api/schema.ts'
import { isReviewKind, validateReview } from '../api/validation/index.ts'
import { ApiError, badRequest, invalid, methodNotAllowed } from '../util/errors.ts'
import type { ResourceRequest } from './request-info.ts'

export type ReviewObject = Record<string, any> & { apiVersion: string; kind: string; metadata: Record<string, any> }

function isObject(value: unknown): value is Record<string, any> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/**
 * Checks a POST body for a create-only kind and returns it with apiVersion and kind filled
 * in. Throws 405 (not a create of such a kind), 400 (wrong shape, unknown fields under
 * `fieldValidation=Strict`, the request checks upstream answers with BadRequest) or 422
 * (field rules). Unknown fields under the default `Warn` land in `warnings`.
 */
export function decodeReview(r: ResourceRequest, body: unknown, query: URLSearchParams, warnings: string[] = []): ReviewObject {
  const info = r.info
  const kind = info.kind
  if (!info.createOnly || !isReviewKind(kind) || r.verb !== 'create' || r.name !== undefined || r.subresource !== undefined) {
    throw methodNotAllowed(`the server does not allow this method on the requested resource: only POST to the ${info.plural} collection`)
  }
  const apiVersion = apiVersionOf(info)
  if (!isObject(body)) throw badRequest(`the request body must be a JSON object describing a ${kind}`)
  if (body.apiVersion !== undefined && body.apiVersion !== apiVersion) {
    throw badRequest(`the API version in the data (${body.apiVersion}) does not match the expected API version (${apiVersion})`)
  }
  if (body.kind !== undefined && body.kind !== kind) throw badRequest(`the kind in the data (${body.kind}) does not match the expected kind (${kind})`)
  if (body.metadata === undefined || body.metadata === null) body.metadata = {}
  if (!isObject(body.metadata)) throw badRequest('metadata must be an object')
  body.apiVersion = apiVersion
  body.kind = kind
  const mode = query.get('fieldValidation') ?? 'Warn'
  if (!['Strict', 'Warn', 'Ignore'].includes(mode)) throw badRequest(`fieldValidation must be one of "Ignore", "Warn" or "Strict", got "${mode}"`)
  const schema = checkSchema(info, body)
  if (schema.wrongType.length > 0) {
    const first = schema.wrongType.map((c) => `${c.field}: ${c.message}`).join(', ')
    throw new ApiError(400, 'BadRequest', `${kind} in version "${info.version}" cannot be handled as a ${kind}: ${first}`, { kind, causes: schema.wrongType })
  }
  if (schema.unknown.length > 0 && mode === 'Strict') {
    throw badRequest(`${kind} in version "${info.version}" cannot be handled as a ${kind}: strict decoding error: ${schema.unknown.map((f) => `unknown field "${f}"`).join(', ')}`)
  }
  if (mode === 'Warn') for (const f of schema.unknown) warnings.push(`unknown field "${f}"`)
  const review = body as ReviewObject
  requestChecks(r, review)
  const causes = validateReview(kind, review)
  if (causes.length > 0) throw invalid(kind, info.group, '', causes)
  return review
}

/** What upstream refuses as a bad request before validating (pkg/registry/authentication|authorization/*). */
function requestChecks(r: ResourceRequest, review: ReviewObject): void {
  const spec = isObject(review.spec) ? review.spec : {}
  switch (r.info.kind) {
    case 'TokenReview':
      if (typeof spec.token !== 'string' || spec.token === '') throw badRequest('token is required for TokenReview in authentication')
      return
    case 'LocalSubjectAccessReview': {
      if (!r.namespace) throw badRequest('namespace is required on this type: ')
      const ns = review.metadata.namespace
      if (ns !== undefined && ns !== '' && ns !== r.namespace) {
        throw badRequest('the namespace of the provided object does not match the namespace sent on the request')
      }
      review.metadata.namespace = r.namespace
      return
    }
    case 'SelfSubjectRulesReview':
      if (typeof spec.namespace !== 'string' || spec.namespace === '') throw badRequest('no namespace on request')
      return
  }
}
