// Is the object a token is bound to still the one it was issued for (the validator in
// pkg/serviceaccount/claims.go upstream)? The messages are upstream's.
import type { ServiceAccountClaims } from './service-account-claims.ts'

export interface BoundPod {
  uid: string
  /** The pod has a deletionTimestamp. */
  deleting: boolean
  nodeName?: string
}

/** Reads the live objects a token names; undefined means there is no such object. */
export interface TokenBindingLookup {
  serviceAccountUid(namespace: string, name: string): Promise<string | undefined>
  pod(namespace: string, name: string): Promise<BoundPod | undefined>
  /** Without it, tokens bound to a Secret are refused. */
  secretUid?(namespace: string, name: string): Promise<string | undefined>
  /** Without it, tokens bound to a Node (and no pod) are refused. */
  nodeUid?(name: string): Promise<string | undefined>
}

const INVALIDATED = 'service account token has been invalidated'

/** Why the token's bindings no longer hold, or undefined when they all do. */
export async function checkTokenBinding(claims: ServiceAccountClaims, lookup: TokenBindingLookup): Promise<string | undefined> {
  const { namespace, serviceaccount, pod, secret, node } = claims['kubernetes.io']
  const saUid = await lookup.serviceAccountUid(namespace, serviceaccount.name)
  if (saUid === undefined) return `service account ${namespace}/${serviceaccount.name} has been deleted`
  if (saUid !== serviceaccount.uid) return `service account UID (${saUid}) does not match claim (${serviceaccount.uid})`

  if (secret) {
    const uid = lookup.secretUid ? await lookup.secretUid(namespace, secret.name) : undefined
    if (uid === undefined) return INVALIDATED
    if (uid !== secret.uid) return `secret UID (${uid}) does not match service account secret ref claim (${secret.uid})`
  }

  if (pod) {
    const live = await lookup.pod(namespace, pod.name)
    if (!live) return INVALIDATED
    if (live.uid !== pod.uid) return `pod UID (${live.uid}) does not match service account pod ref claim (${pod.uid})`
    if (live.deleting) return INVALIDATED
    // Upstream only copies a pod-bound token's node claim; a pod never changes node, so a
    // claim naming another node than the pod's is refused here.
    if (node && live.nodeName !== undefined && live.nodeName !== node.name) return INVALIDATED
  } else if (node) {
    const uid = lookup.nodeUid ? await lookup.nodeUid(node.name) : undefined
    if (uid === undefined) return INVALIDATED
    if (uid !== node.uid) return `node UID (${uid}) does not match service account node ref claim (${node.uid})`
  }
  return undefined
}
