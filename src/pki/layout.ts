// Where each part of the cluster PKI lives under DATA_DIR/pki (kubeadm's file names) and
// what each certificate is for.
import { join } from 'node:path'
import type { CertUsage } from './certificates.ts'

export const PKI_SUBDIR = 'pki'
export const CA_NAME = 'ca'
export const CA_COMMON_NAME = 'kubernetes'
export const CA_VALIDITY_DAYS = 3650
/** The service mesh's own CA (signer weft.dev/mesh): separate from the cluster CA, so a mesh identity is never an API credential. */
export const MESH_CA_NAME = 'mesh-ca'
export const MESH_CA_COMMON_NAME = 'weft mesh CA'
export const LEAF_VALIDITY_DAYS = 365

export type LeafName = 'apiserver' | 'apiserver-kubelet-client' | 'admin'

export interface LeafProfile {
  name: LeafName
  /** What the certificate is, for messages. */
  purpose: string
  commonName: string
  organizations: string[]
  usages: CertUsage[]
}

/** In the order kubeadm's check-expiration lists them (alphabetical). */
export const LEAVES: readonly LeafProfile[] = [
  { name: 'admin', purpose: 'certificate of the cluster admin (kubeconfig)', commonName: 'kubernetes-admin', organizations: ['system:masters'], usages: ['client'] },
  { name: 'apiserver', purpose: 'certificate for serving the Kubernetes API', commonName: 'kube-apiserver', organizations: [], usages: ['server'] },
  // No organization: weft's RBAC binds system:kubelet-api-admin to this user; it must not be system:masters.
  {
    name: 'apiserver-kubelet-client',
    purpose: 'certificate the API server uses to reach kubelets',
    commonName: 'apiserver-kubelet-client',
    organizations: [],
    usages: ['client'],
  },
]

export function leafProfile(name: string): LeafProfile | undefined {
  return LEAVES.find((l) => l.name === name)
}

export function pkiDir(dataDir: string): string {
  return join(dataDir, PKI_SUBDIR)
}

export interface PairPaths {
  cert: string
  key: string
}

export function pairPaths(dataDir: string, name: string): PairPaths {
  return { cert: join(pkiDir(dataDir), `${name}.crt`), key: join(pkiDir(dataDir), `${name}.key`) }
}

export function serviceAccountPaths(dataDir: string): { key: string; pub: string } {
  return { key: join(pkiDir(dataDir), 'sa.key'), pub: join(pkiDir(dataDir), 'sa.pub') }
}

/** Files the operator brings (kube-apiserver's flags of the same names). */
export interface UserPkiFiles {
  /** Replaces the serving certificate apiserver.crt (may hold its chain after it). */
  tlsCertFile?: string
  tlsPrivateKeyFile?: string
  /** Client CAs trusted in addition to weft's own ca.crt. */
  clientCaFile?: string
}
