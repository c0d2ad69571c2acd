// Just enough DER to find the raw SubjectPublicKeyInfo of a certificate, byte for byte as
// signed (kubeadm's pin hashes those bytes; re-encoding a parsed key could differ).

interface Tlv {
  tag: number
  start: number
  contentStart: number
  end: number
}

function readTlv(der: Uint8Array, at: number, limit: number): Tlv {
  if (at + 2 > limit) throw new Error('truncated DER')
  const tag = der[at]!
  let len = der[at + 1]!
  let contentStart = at + 2
  if (len & 0x80) {
    const n = len & 0x7f
    if (n === 0 || n > 4 || contentStart + n > limit) throw new Error('unsupported DER length')
    len = 0
    for (let i = 0; i < n; i++) len = len * 256 + der[contentStart + i]!
    contentStart += n
  }
  const end = contentStart + len
  if (end > limit) throw new Error('truncated DER')
  return { tag, start: at, contentStart, end }
}

const SEQUENCE = 0x30
const VERSION_TAG = 0xa0

/** The DER bytes of the certificate's subjectPublicKeyInfo. */
export function rawSubjectPublicKeyInfo(certDer: Uint8Array): Uint8Array {
  const cert = readTlv(certDer, 0, certDer.length)
  if (cert.tag !== SEQUENCE) throw new Error('not a DER certificate')
  const tbs = readTlv(certDer, cert.contentStart, cert.end)
  if (tbs.tag !== SEQUENCE) throw new Error('not a DER certificate')
  let field = readTlv(certDer, tbs.contentStart, tbs.end)
  if (field.tag === VERSION_TAG) field = readTlv(certDer, field.end, tbs.end)
  // serialNumber, signature, issuer, validity, subject, then subjectPublicKeyInfo.
  for (let i = 0; i < 5; i++) field = readTlv(certDer, field.end, tbs.end)
  if (field.tag !== SEQUENCE) throw new Error('not a DER certificate')
  return certDer.subarray(field.start, field.end)
}
