// Claims: who holds an allocated value (a pod CIDR, a load-balancer address), as a Lease in
// kube-system created only if absent. The store's create-if-absent is the compare-and-swap:
// two controllers that both think they lead can never hand one value to two holders.
import type { V1Lease } from '@kubernetes/client-node'
import { resources, type ResourceInfo } from '../api/registry.ts'
import type { Action } from './actions.ts'

const leaseInfo = resources.find((r) => r.kind === 'Lease') as ResourceInfo

export const CLAIM_LABEL = 'weft.dev/claim'
export const CLAIM_VALUE_ANNOTATION = 'weft.dev/claimed'
export const CLAIM_NAMESPACE = 'kube-system'

export type ClaimKind = 'pod-cidr' | 'lb-ip'

export interface Claim {
  holder: string
  uid?: string
  name: string
}

/** The Lease name for a value: a DNS subdomain (`pod-cidr-10.244.3.0-24`, `lb-ip-fd00--1`). */
export function claimName(kind: ClaimKind, value: string): string {
  return `${kind}-${value.toLowerCase().replaceAll(':', '-').replace('/', '-')}`
}

/** The claim action: goes first, and stops the actions after it if another holder has the value. */
export function claimAction(kind: ClaimKind, value: string, holder: string): Action {
  return {
    verb: 'create',
    info: leaseInfo,
    claim: true,
    object: {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: claimName(kind, value), namespace: CLAIM_NAMESPACE, labels: { [CLAIM_LABEL]: kind }, annotations: { [CLAIM_VALUE_ANNOTATION]: value } },
      spec: { holderIdentity: holder },
    },
  }
}

export function releaseAction(claim: Claim): Action {
  return { verb: 'delete', info: leaseInfo, namespace: CLAIM_NAMESPACE, name: claim.name, uid: claim.uid }
}

/** The claims of one kind among kube-system's Leases: value → claim. */
export function claimsOf(kind: ClaimKind, leases: Iterable<V1Lease>): Map<string, Claim> {
  const out = new Map<string, Claim>()
  for (const l of leases) {
    const value = l.metadata?.annotations?.[CLAIM_VALUE_ANNOTATION]
    if (l.metadata?.labels?.[CLAIM_LABEL] === kind && value && l.spec?.holderIdentity) out.set(value, { holder: l.spec.holderIdentity, uid: l.metadata.uid, name: l.metadata.name! })
  }
  return out
}
