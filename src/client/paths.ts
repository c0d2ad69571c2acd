// URL paths of the Kubernetes REST API for a served kind.
import type { ResourceInfo } from '../api/registry.ts'

/**
 * `/api/v1/namespaces/{ns}/pods/{name}/{subresource}` for the core group,
 * `/apis/{group}/{version}/...` otherwise; cluster-scoped kinds have no namespace
 * segment, and a namespaced kind without a namespace addresses all namespaces.
 */
export function resourcePath(info: ResourceInfo, namespace?: string, name?: string, subresource?: string): string {
  let path = info.group ? `/apis/${info.group}/${info.version}` : `/api/${info.version}`
  if (info.namespaced && namespace) path += `/namespaces/${encodeURIComponent(namespace)}`
  path += `/${info.plural}`
  if (name !== undefined) {
    if (name === '') throw new TypeError(`${info.plural}: a resource name may not be empty`)
    path += `/${encodeURIComponent(name)}`
    if (subresource) path += `/${subresource}`
  }
  return path
}

/** Appends the defined parameters as a query string. */
export function withQuery(path: string, params: Record<string, string | number | boolean | undefined>): string {
  const q = new URLSearchParams()
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') q.append(k, String(v))
  const s = q.toString()
  return s ? `${path}${path.includes('?') ? '&' : '?'}${s}` : path
}
