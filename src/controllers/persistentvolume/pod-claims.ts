// Which claims a pod uses: the index the storage controllers and the scheduler keep on the
// shared pods informer.
import type { V1Pod } from '@kubernetes/client-node'

/** Pods by `<namespace>/<claim>` for each claim they use. */
export const POD_CLAIMS_INDEX = 'claims'

/** The claims a pod's volumes name (a generic ephemeral volume's claim is `<pod>-<volume>`). */
export function claimNamesOf(pod: V1Pod): string[] {
  const names: string[] = []
  for (const v of pod.spec?.volumes ?? []) {
    if (v.persistentVolumeClaim?.claimName) names.push(v.persistentVolumeClaim.claimName)
    else if (v.ephemeral) names.push(`${pod.metadata?.name}-${v.name}`)
  }
  return names
}

/** The index values of a pod: `<namespace>/<claim>` per claim. */
export function podClaimKeys(pod: V1Pod): string[] {
  return claimNamesOf(pod).map((c) => `${pod.metadata?.namespace}/${c}`)
}
