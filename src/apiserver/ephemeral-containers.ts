// The `pods/ephemeralcontainers` subresource's strategy (upstream's
// podEphemeralContainersStrategy): a write there changes spec.ephemeralContainers and
// nothing else; the rest of the body is ignored and kept from the stored pod.
import { modelFields } from '../api/models.ts'
import type { KObject } from './objects.ts'

export const ephemeralContainersSubresource = 'ephemeralcontainers'

/**
 * The pod to store: `old` with the ephemeral containers of `next` (and the
 * managedFields the request's field tracking produced).
 */
export function dropNonEphemeralContainerUpdates(next: KObject, old: KObject): KObject {
  const obj = structuredClone(old)
  const spec = (obj.spec ??= {})
  const wanted = next.spec?.ephemeralContainers
  if (wanted === undefined || wanted === null) delete spec.ephemeralContainers
  else spec.ephemeralContainers = structuredClone(wanted)
  if (next.metadata.managedFields !== undefined) obj.metadata.managedFields = next.metadata.managedFields
  return obj
}

/**
 * Field paths (managed-fields form) a write to the subresource cannot own: everything of
 * the pod but spec.ephemeralContainers (upstream's reset-fields filter for the strategy).
 */
export function ephemeralContainersResetPaths(): string[][] {
  const specFields = (modelFields('V1PodSpec') ?? []).map((f) => f.name).filter((n) => n !== 'ephemeralContainers')
  const metaFields = ['labels', 'annotations', 'finalizers', 'ownerReferences', 'deletionTimestamp', 'deletionGracePeriodSeconds']
  return [['f:status'], ...specFields.map((n) => ['f:spec', `f:${n}`]), ...metaFields.map((n) => ['f:metadata', `f:${n}`])]
}
