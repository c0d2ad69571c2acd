// Keys, a fake cluster and a hand-rolled JWS signer for the bearer-token tests.
import { createHmac, generateKeyPairSync, sign, type KeyObject } from 'node:crypto'
import type { BoundPod, TokenBindingLookup } from '../../src/auth/tokens/token-binding.ts'
import type { BootstrapSecretLike, BootstrapSecretLookup } from '../../src/auth/tokens/bootstrap-authenticator.ts'

export interface RsaPair {
  privateKey: KeyObject
  publicKey: KeyObject
  pkcs8: string
  spki: string
}

export function rsaPair(bits = 2048): RsaPair {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: bits })
  return {
    privateKey,
    publicKey,
    pkcs8: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    spki: publicKey.export({ type: 'spki', format: 'pem' }) as string,
  }
}

function b64(value: unknown): string {
  return Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url')
}

export type Signer = { rsa: KeyObject } | { hmac: string | Buffer } | { ec: KeyObject } | { none: true }

/** A compact JWS over any header and payload, signed however a forger likes. */
export function forgeJws(header: unknown, payload: unknown, signer: Signer): string {
  const input = `${b64(header)}.${b64(payload)}`
  let signature: Buffer
  if ('rsa' in signer) signature = sign('RSA-SHA256', Buffer.from(input), signer.rsa)
  else if ('hmac' in signer) signature = createHmac('sha256', signer.hmac).update(input).digest()
  else if ('ec' in signer) signature = sign('sha256', Buffer.from(input), { key: signer.ec, dsaEncoding: 'ieee-p1363' })
  else signature = Buffer.alloc(0)
  return `${input}.${signature.toString('base64url')}`
}

/** The payload of a compact JWS, decoded without any check. */
export function jwsPayload(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8'))
}

export function jwsHeader(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString('utf8'))
}

/** ServiceAccounts, Pods, Secrets and Nodes by `namespace/name`, counting every read. */
export class FakeCluster implements TokenBindingLookup {
  serviceAccounts = new Map<string, string>()
  pods = new Map<string, BoundPod>()
  secrets = new Map<string, string>()
  nodes = new Map<string, string>()
  reads = 0

  async serviceAccountUid(namespace: string, name: string): Promise<string | undefined> {
    this.reads++
    return this.serviceAccounts.get(`${namespace}/${name}`)
  }

  async pod(namespace: string, name: string): Promise<BoundPod | undefined> {
    this.reads++
    return this.pods.get(`${namespace}/${name}`)
  }

  async secretUid(namespace: string, name: string): Promise<string | undefined> {
    this.reads++
    return this.secrets.get(`${namespace}/${name}`)
  }

  async nodeUid(name: string): Promise<string | undefined> {
    this.reads++
    return this.nodes.get(name)
  }
}

/** Secrets by `namespace/name`, counting every read. */
export class FakeSecrets implements BootstrapSecretLookup {
  secrets = new Map<string, BootstrapSecretLike>()
  reads = 0

  async getSecret(namespace: string, name: string): Promise<BootstrapSecretLike | undefined> {
    this.reads++
    return this.secrets.get(`${namespace}/${name}`)
  }
}
