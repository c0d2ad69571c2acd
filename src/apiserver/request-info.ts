// Turns a request path into what it addresses, the way Kubernetes' RequestInfoResolver does.
import { findByPlural, type ResourceInfo } from '../api/registry.ts'
import { ApiError, notFound } from '../util/errors.ts'

export type Verb = 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete' | 'deletecollection'

export interface ResourceRequest {
  kind: 'resource'
  info: ResourceInfo
  namespace: string | undefined
  name: string | undefined
  subresource: string | undefined
  verb: Verb
}

export interface NonResourceRequest {
  kind: 'nonResource'
  path: string
}

export type RequestInfo = ResourceRequest | NonResourceRequest

const verbs: Record<string, { item: Verb; collection: Verb }> = {
  GET: { item: 'get', collection: 'list' },
  POST: { item: 'create', collection: 'create' },
  PUT: { item: 'update', collection: 'update' },
  PATCH: { item: 'patch', collection: 'patch' },
  DELETE: { item: 'delete', collection: 'deletecollection' },
}

/** `find` names the resources served beside the registry's (the metrics API). */
export function resolveRequest(method: string, pathname: string, query: URLSearchParams, find: typeof findByPlural = findByPlural): RequestInfo {
  const parts = pathname.split('/').filter(Boolean)
  let rest: string[]
  let group: string
  let version: string
  if (parts[0] === 'api' && parts.length >= 3) {
    group = ''
    version = parts[1]
    rest = parts.slice(2)
  } else if (parts[0] === 'apis' && parts.length >= 4) {
    group = parts[1]
    version = parts[2]
    rest = parts.slice(3)
  } else {
    return { kind: 'nonResource', path: pathname }
  }
  let watchPath = false
  if (rest[0] === 'watch') {
    watchPath = true
    rest = rest.slice(1)
  }
  let namespace: string | undefined
  // /namespaces/{ns}/{resource}... addresses a namespaced resource; /namespaces/{name}[/status|/finalize] the Namespace itself.
  const namespaceSubresource = rest[0] === 'namespaces' && rest.length === 3 && (rest[2] === 'status' || rest[2] === 'finalize')
  if (rest[0] === 'namespaces' && rest.length >= 3 && !namespaceSubresource) {
    namespace = rest[1]
    rest = rest.slice(2)
  }
  const [plural, name, subresource, ...extra] = rest
  const info = find(group, version, plural)
  if (!info || extra.length > 0) {
    throw new ApiError(404, 'NotFound', `the server could not find the requested resource`, {})
  }
  if (!info.namespaced && namespace !== undefined) {
    throw new ApiError(404, 'NotFound', `the server could not find the requested resource`, {})
  }
  if (subresource !== undefined && !info.subresources.includes(subresource as never)) {
    throw notFound({ group: info.group, resource: `${info.plural}/${subresource}` }, name ?? '')
  }
  const table = verbs[method]
  if (!table) throw new ApiError(405, 'MethodNotAllowed', `the server does not allow this method on the requested resource`)
  let verb: Verb = name === undefined ? table.collection : table.item
  const watchQuery = query.get('watch')
  if (method === 'GET' && (watchPath || watchQuery === 'true' || watchQuery === '1')) verb = 'watch'
  return { kind: 'resource', info, namespace, name, subresource, verb }
}
