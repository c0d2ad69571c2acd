// Two per-namespace controllers upstream runs for service accounts: the serviceaccount
// controller (every active namespace has a `default` ServiceAccount) and the
// root-ca-cert-publisher (every namespace has the ConfigMap `kube-root-ca.crt` holding the
// cluster CA, which `kube-api-access-*` volumes project as ca.crt).
import type { V1ConfigMap, V1Namespace, V1ServiceAccount } from '@kubernetes/client-node'
import type { ResourceInfo } from '../../api/registry.ts'
import type { Action } from '../actions.ts'

export const DEFAULT_SERVICE_ACCOUNT = 'default'
export const ROOT_CA_CONFIGMAP = 'kube-root-ca.crt'
/** Upstream's annotation on the ConfigMap, naming where its content comes from. */
const DESCRIPTION = 'kubernetes.io/description'
const CA_DESCRIPTION = 'Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters.'

function active(ns: V1Namespace | undefined): ns is V1Namespace {
  return Boolean(ns?.metadata?.name) && !ns!.metadata!.deletionTimestamp && ns!.status?.phase !== 'Terminating'
}

export function reconcileDefaultServiceAccount(ns: V1Namespace | undefined, existing: V1ServiceAccount | undefined, info: ResourceInfo): Action[] {
  if (!active(ns) || existing) return []
  return [{ verb: 'create', info, object: { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: DEFAULT_SERVICE_ACCOUNT, namespace: ns.metadata!.name } } }]
}

export function reconcileRootCA(ns: V1Namespace | undefined, existing: V1ConfigMap | undefined, caPem: string, info: ResourceInfo): Action[] {
  if (!active(ns)) return []
  const namespace = ns.metadata!.name!
  if (!existing) {
    return [{ verb: 'create', info, object: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: ROOT_CA_CONFIGMAP, namespace, annotations: { [DESCRIPTION]: CA_DESCRIPTION } }, data: { 'ca.crt': caPem } } }]
  }
  if (existing.data?.['ca.crt'] === caPem && existing.metadata?.annotations?.[DESCRIPTION] === CA_DESCRIPTION && Object.keys(existing.data).length === 1) return []
  return [{ verb: 'update', info, object: { ...existing, metadata: { ...existing.metadata, annotations: { ...existing.metadata?.annotations, [DESCRIPTION]: CA_DESCRIPTION } }, data: { 'ca.crt': caPem }, binaryData: undefined } }]
}
