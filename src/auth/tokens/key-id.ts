import { createHash, type KeyObject } from 'node:crypto'

/**
 * The key id kube-apiserver puts in a service-account token's `kid` header
 * (keyIDFromPublicKey upstream): unpadded base64url of the SHA-256 of the DER SPKI.
 */
export function keyIdFromPublicKey(publicKey: KeyObject): string {
  const der = publicKey.export({ type: 'spki', format: 'der' })
  return createHash('sha256').update(der).digest('base64url')
}
