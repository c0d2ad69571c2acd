// Who is a node: upstream's default NodeIdentifier (pkg/auth/nodeidentifier). A caller is a node
// when its name starts with `system:node:` and it is in group system:nodes; the rest of the name
// is the node's, possibly empty (then no request of it can be tied to a node).
import type { UserInfo } from '../types.ts'

export const NODE_USER_PREFIX = 'system:node:'
export const NODES_GROUP = 'system:nodes'

export function nodeIdentity(user: UserInfo): { isNode: boolean; nodeName: string } {
  if (typeof user?.username !== 'string' || !user.username.startsWith(NODE_USER_PREFIX)) return { isNode: false, nodeName: '' }
  if (!Array.isArray(user.groups) || !user.groups.includes(NODES_GROUP)) return { isNode: false, nodeName: '' }
  return { isNode: true, nodeName: user.username.slice(NODE_USER_PREFIX.length) }
}
