// k8s.io/api certificates/v1 (generated.proto; JSON names from types.go).
import { bytes, int32, map, msg, msgs, pointer, str, strs, type MessageSpec } from '../types.ts'

export const certificatesMessages: Record<string, MessageSpec> = {
  'certificates.v1.CertificateSigningRequest': {
    fields: {
      1: msg('metadata', 'meta.v1.ObjectMeta'),
      2: msg('spec', 'certificates.v1.CertificateSigningRequestSpec'),
      3: msg('status', 'certificates.v1.CertificateSigningRequestStatus'),
    },
  },
  'certificates.v1.CertificateSigningRequestSpec': {
    fields: {
      1: bytes('request'),
      7: str('signerName'),
      8: pointer(int32('expirationSeconds')),
      5: strs('usages'),
      2: str('username'),
      3: str('uid'),
      4: strs('groups'),
      6: map('extra', 'certificates.v1.ExtraValue'),
    },
  },
  'certificates.v1.CertificateSigningRequestStatus': {
    fields: { 1: msgs('conditions', 'certificates.v1.CertificateSigningRequestCondition'), 2: bytes('certificate') },
  },
  'certificates.v1.CertificateSigningRequestCondition': {
    fields: {
      1: str('type'),
      6: str('status'),
      2: str('reason'),
      3: str('message'),
      4: msg('lastUpdateTime', 'meta.v1.Time'),
      5: msg('lastTransitionTime', 'meta.v1.Time'),
    },
  },
  'certificates.v1.ExtraValue': { fields: { 1: strs('items') }, as: 'stringList' },
}
