// serviceaccounts/token: TokenRequest, issuing a bound service-account token as
// kube-apiserver does: for an existing account, bound to an existing Pod, Secret or Node
// (the pod's node is named in the token too), for the requested audiences and lifetime.
import type { ResourceInfo } from '../api/registry.ts'
import { DEFAULT_EXPIRATION_SECONDS, MIN_EXPIRATION_SECONDS, MAX_EXPIRATION_SECONDS, type ServiceAccountTokens } from '../auth/tokens/index.ts'
import { ApiError, invalid, notFound } from '../util/errors.ts'
import type { KObject, ObjectStore } from './objects.ts'

type Obj = Record<string, any>

export interface TokenRequestKinds {
  serviceAccount: ResourceInfo
  pod: ResourceInfo
  secret: ResourceInfo
  node: ResourceInfo
}

function field(name: string, message: string, reason = 'FieldValueInvalid') {
  return { reason, field: name, message }
}

export async function issueTokenRequest(body: Obj, namespace: string, accountName: string, objects: ObjectStore, kinds: TokenRequestKinds, tokens: ServiceAccountTokens, now = new Date()): Promise<Obj> {
  if (body?.kind !== undefined && body.kind !== 'TokenRequest') throw new ApiError(400, 'BadRequest', `the body must be a TokenRequest, not ${JSON.stringify(body.kind)}`)
  const spec: Obj = typeof body?.spec === 'object' && body.spec !== null ? body.spec : {}
  const causes = []
  const audiences = spec.audiences ?? []
  if (!Array.isArray(audiences) || audiences.some((a) => typeof a !== 'string' || a === '')) causes.push(field('spec.audiences', 'Invalid value: audiences must be non-empty strings'))
  const seconds = spec.expirationSeconds ?? DEFAULT_EXPIRATION_SECONDS
  if (!Number.isInteger(seconds)) causes.push(field('spec.expirationSeconds', `Invalid value: ${JSON.stringify(seconds)}: must be a whole number of seconds`))
  else if (seconds < MIN_EXPIRATION_SECONDS) causes.push(field('spec.expirationSeconds', `Invalid value: ${seconds}: may not specify a duration less than 10 minutes`))
  else if (seconds > MAX_EXPIRATION_SECONDS) causes.push(field('spec.expirationSeconds', `Invalid value: ${seconds}: may not specify a duration larger than 2^32 seconds`))
  const ref: Obj | undefined = spec.boundObjectRef ?? undefined
  if (ref !== undefined && !['Pod', 'Secret', 'Node'].includes(ref?.kind)) causes.push(field('spec.boundObjectRef.kind', `Unsupported value: ${JSON.stringify(ref?.kind)}: supported values: "Pod", "Secret", "Node"`, 'FieldValueNotSupported'))
  if (ref !== undefined && (typeof ref.name !== 'string' || ref.name === '')) causes.push(field('spec.boundObjectRef.name', 'Required value', 'FieldValueRequired'))
  if (causes.length) throw invalid('TokenRequest', 'authentication.k8s.io', accountName, causes)

  const account = await objects.get(kinds.serviceAccount, namespace, accountName)
  if (!account) throw notFound({ group: '', resource: 'serviceaccounts' }, accountName)
  const refs: Parameters<ServiceAccountTokens['issue']>[0] = { namespace, serviceAccount: { name: accountName, uid: account.metadata.uid! }, audiences: audiences.length ? audiences : undefined, expirationSeconds: seconds, now }
  if (ref) {
    const info = ref.kind === 'Pod' ? kinds.pod : ref.kind === 'Secret' ? kinds.secret : kinds.node
    const target: KObject | undefined = await objects.get(info, ref.kind === 'Node' ? undefined : namespace, ref.name)
    if (!target) throw notFound({ group: '', resource: info.plural }, ref.name)
    if (ref.uid && ref.uid !== target.metadata.uid) throw new ApiError(409, 'Conflict', `the UID in the bound object reference (${ref.uid}) does not match the UID in record. The object might have been deleted and then recreated`)
    const bound = { name: target.metadata.name, uid: target.metadata.uid! }
    if (ref.kind === 'Pod') {
      const podAccount = target.spec?.serviceAccountName || 'default'
      if (podAccount !== accountName) throw new ApiError(400, 'BadRequest', `cannot bind token for serviceaccount "${accountName}" to pod running with different serviceaccount name.`)
      refs.pod = bound
      const nodeName = target.spec?.nodeName
      const node = nodeName ? await objects.get(kinds.node, undefined, nodeName) : undefined
      if (node) refs.node = { name: node.metadata.name, uid: node.metadata.uid! }
    } else if (ref.kind === 'Secret') refs.secret = bound
    else refs.node = bound
  }
  const issued = await tokens.issue(refs)
  return {
    kind: 'TokenRequest',
    apiVersion: 'authentication.k8s.io/v1',
    metadata: { name: accountName, namespace, creationTimestamp: null },
    spec: { audiences: audiences.length ? audiences : tokens.apiAudiences, expirationSeconds: seconds, boundObjectRef: ref ?? null },
    status: { token: issued.token, expirationTimestamp: issued.expirationTimestamp.toISOString().replace(/\.\d{3}Z$/, 'Z') },
  }
}
