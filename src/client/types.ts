// The shapes the client reads and writes, as they are on the wire.
import type { V1ObjectMeta } from '@kubernetes/client-node'

/** Any Kubernetes object: every served model (`V1Pod`, ...) fits. */
export interface KubeObject {
  apiVersion?: string
  kind?: string
  metadata?: V1ObjectMeta
}

export interface ListMeta {
  resourceVersion: string
  continue?: string
  remainingItemCount?: number
}

export interface ObjectList<T> {
  apiVersion?: string
  kind?: string
  metadata: ListMeta
  items: T[]
}

/** `namespace/name`, or `name` for cluster-scoped objects (client-go's MetaNamespaceKeyFunc). */
export function objectKey(obj: KubeObject): string {
  const ns = obj.metadata?.namespace
  const name = obj.metadata?.name ?? ''
  return ns ? `${ns}/${name}` : name
}

export function splitKey(key: string): { namespace?: string; name: string } {
  const i = key.indexOf('/')
  return i === -1 ? { name: key } : { namespace: key.slice(0, i), name: key.slice(i + 1) }
}
