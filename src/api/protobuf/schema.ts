// The protobuf schema weft knows, and which message each apiVersion + kind is encoded as.
import { authenticationMessages } from './messages/authentication.ts'
import { authorizationMessages } from './messages/authorization.ts'
import { certificatesMessages } from './messages/certificates.ts'
import { coreMessages } from './messages/core.ts'
import { metaMessages } from './messages/meta.ts'
import type { Schema } from './types.ts'

export const kubernetesSchema: Schema = {
  ...metaMessages,
  ...coreMessages,
  ...authenticationMessages,
  ...authorizationMessages,
  ...certificatesMessages,
}

/** `apiVersion/kind` → the message of the object's body. */
const kindMessages: ReadonlyMap<string, string> = new Map([
  ['v1/ServiceAccount', 'core.v1.ServiceAccount'],
  ['authentication.k8s.io/v1/TokenReview', 'authentication.v1.TokenReview'],
  ['authentication.k8s.io/v1/TokenRequest', 'authentication.v1.TokenRequest'],
  ['authentication.k8s.io/v1/SelfSubjectReview', 'authentication.v1.SelfSubjectReview'],
  ['authorization.k8s.io/v1/SubjectAccessReview', 'authorization.v1.SubjectAccessReview'],
  ['authorization.k8s.io/v1/LocalSubjectAccessReview', 'authorization.v1.LocalSubjectAccessReview'],
  ['authorization.k8s.io/v1/SelfSubjectAccessReview', 'authorization.v1.SelfSubjectAccessReview'],
  ['authorization.k8s.io/v1/SelfSubjectRulesReview', 'authorization.v1.SelfSubjectRulesReview'],
  ['certificates.k8s.io/v1/CertificateSigningRequest', 'certificates.v1.CertificateSigningRequest'],
])

/** The message name for a kind, or undefined when weft cannot decode it as protobuf. */
export function messageForKind(apiVersion: string, kind: string): string | undefined {
  return kindMessages.get(`${apiVersion}/${kind}`)
}

/** Every kind in the table, as `{ apiVersion, kind, message }`. */
export function protobufKinds(): { apiVersion: string; kind: string; message: string }[] {
  return [...kindMessages].map(([key, message]) => {
    const cut = key.lastIndexOf('/')
    return { apiVersion: key.slice(0, cut), kind: key.slice(cut + 1), message }
  })
}
