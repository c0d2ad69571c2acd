// What a request to the kubelet API asks, in the API's terms (upstream's
// nodeAuthorizerAttributesGetter): a verb on nodes/<subresource> named after this node, so
// RBAC grants kubelet access the way it grants any other (system:kubelet-api-admin).
import type { ResourceAttributes, UserInfo } from '../auth/types.ts'

export type KubeletSubresource = 'log' | 'stats' | 'metrics' | 'proxy'

/** Upstream's isSubpath: `path` is `prefix` itself or below it. */
function under(path: string, prefix: string): boolean {
  return path === prefix || path.startsWith(`${prefix}/`)
}

/**
 * The subresource a path is authorized as: /stats → stats, /metrics → metrics, /logs →
 * log, everything else (the pod list, /healthz) → proxy. /containerLogs is log here too:
 * upstream leaves it under proxy, weft lets a nodes/log grant read container logs.
 */
export function kubeletSubresource(path: string): KubeletSubresource {
  if (under(path, '/stats')) return 'stats'
  if (under(path, '/metrics')) return 'metrics'
  if (under(path, '/logs') || under(path, '/containerLogs')) return 'log'
  return 'proxy'
}

/** The API verb of an HTTP method, as upstream maps it; any other method (HEAD too) has none (''), which no rule grants. */
export function kubeletVerb(method: string | undefined): string {
  switch (method) {
    case 'GET':
      return 'get'
    case 'POST':
      return 'create'
    case 'PUT':
      return 'update'
    case 'PATCH':
      return 'patch'
    case 'DELETE':
      return 'delete'
    default:
      return ''
  }
}

/**
 * The streaming paths (exec, attach, port forwarding, run) act on the node whatever the
 * method: a WebSocket upgrade is a GET, yet it runs commands. They are authorized as
 * `create` on nodes/proxy (what SPDY's POST maps to upstream), so `get nodes/proxy` alone
 * cannot open a shell.
 */
export function isStreamingPath(path: string): boolean {
  return ['/exec', '/attach', '/portForward', '/run'].some((p) => under(path, p))
}

export function kubeletRequestAttributes(user: UserInfo, method: string | undefined, path: string, nodeName: string): ResourceAttributes {
  const verb = isStreamingPath(path) ? 'create' : kubeletVerb(method)
  return { resourceRequest: true, user, verb, namespace: '', apiGroup: '', apiVersion: 'v1', resource: 'nodes', subresource: kubeletSubresource(path), name: nodeName }
}

/** The kubelet's 403 body. */
export function kubeletForbidden(a: ResourceAttributes): string {
  return `Forbidden (user=${a.user.username}, verb=${a.verb}, resource=${a.resource}, subresource=${a.subresource})`
}

/** The kubelet's 500 body when the authorizer cannot be asked. */
export function kubeletAuthorizationError(a: ResourceAttributes): string {
  return `Authorization error (user=${a.user.username}, verb=${a.verb}, resource=${a.resource}, subresource=${a.subresource})`
}
