// The protobuf schema weft knows, and which message each apiVersion + kind is encoded as.
import { kubernetesMessages } from './messages/index.ts'
import type { Schema } from './types.ts'

export const kubernetesSchema: Schema = kubernetesMessages

/**
 * The message name for a kind, or undefined when the table has none. A group's messages
 * are named by the group's first label (`rbac.authorization.k8s.io/v1` → `rbac.v1`, the
 * core group → `core.v1`). meta.k8s.io's kinds (Status, DeleteOptions, WatchEvent, …) go
 * with every group version, as upstream registers them in each.
 */
export function messageForKind(apiVersion: string, kind: string): string | undefined {
  const slash = apiVersion.indexOf('/')
  const group = slash < 0 ? '' : apiVersion.slice(0, slash)
  const version = slash < 0 ? apiVersion : apiVersion.slice(slash + 1)
  const own = `${group === '' ? 'core' : group.split('.')[0]}.${version}.${kind}`
  if (Object.hasOwn(kubernetesSchema, own) && !kubernetesSchema[own].as) return own
  const older = olderVersions.get(`${apiVersion} ${kind}`)
  if (older) return older
  const meta = `meta.v1.${kind}`
  if (metaKinds.has(kind)) return meta
  return undefined
}

/**
 * Kinds an older version still carries on the wire with the very message of the served one
 * (the same fields and numbers): upstream's eviction subresource takes a policy/v1beta1
 * Eviction too.
 */
const olderVersions = new Map([['policy/v1beta1 Eviction', 'policy.v1.Eviction']])

const metaKinds = new Set(['Status', 'DeleteOptions', 'CreateOptions', 'UpdateOptions', 'PatchOptions', 'GetOptions', 'ListOptions', 'WatchEvent', 'APIGroup', 'APIGroupList', 'APIResourceList', 'APIVersions', 'PartialObjectMetadata', 'PartialObjectMetadataList'])
