// Workload identities for mesh tests: an X.509-SVID from a test CA, as the weft.dev/mesh
// signer issues them, in the shape a node proxy holds it.
import { X509Certificate } from 'node:crypto'
import { issueCertificate, type CertAndKey } from '../../src/pki/certificates.ts'
import { spiffeId } from '../../mesh/identity.ts'
import type { HeldIdentity } from '../../mesh/node-identities.ts'

export async function issueSvid(ca: CertAndKey, namespace: string, serviceAccount: string, trustDomain = 'cluster.local'): Promise<HeldIdentity> {
  const identity = { trustDomain, namespace, serviceAccount }
  const issued = await issueCertificate(ca, { commonName: serviceAccount, organizations: [namespace], uris: [spiffeId(identity)], usages: ['client', 'server'], validityDays: 1 })
  const cert = new X509Certificate(issued.certPem)
  return { identity, spiffeId: spiffeId(identity), certPem: issued.certPem, keyPem: issued.keyPem!, notBefore: new Date(cert.validFrom), notAfter: new Date(cert.validTo), renewAt: new Date(cert.validTo) }
}
