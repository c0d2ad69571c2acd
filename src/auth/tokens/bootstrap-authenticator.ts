// kube-apiserver's bootstrap token authenticator (plugin/pkg/auth/authenticator/token/bootstrap):
// `<id>.<secret>` names the Secret kube-system/bootstrap-token-<id>; its secret is compared in
// constant time. Unlike upstream, no message ever carries the expected or the offered secret.
import { createHash, timingSafeEqual } from 'node:crypto'
import type { UserInfo } from '../types.ts'
import {
  BOOTSTRAP_DEFAULT_GROUP,
  BOOTSTRAP_TOKEN_EXPIRATION_KEY,
  BOOTSTRAP_TOKEN_EXTRA_GROUPS_KEY,
  BOOTSTRAP_TOKEN_ID_KEY,
  BOOTSTRAP_TOKEN_NAMESPACE,
  BOOTSTRAP_TOKEN_SECRET_KEY,
  BOOTSTRAP_TOKEN_SECRET_TYPE,
  BOOTSTRAP_TOKEN_USAGE_AUTHENTICATION,
  BOOTSTRAP_USER_PREFIX,
  bootstrapGroupError,
  bootstrapTokenSecretName,
  parseBootstrapToken,
  parseRfc3339,
} from './bootstrap-token.ts'

/** The parts of a v1 Secret this reads (a V1Secret from @kubernetes/client-node fits). */
export interface BootstrapSecretLike {
  type?: string
  metadata?: { name?: string; namespace?: string; deletionTimestamp?: string | Date | null }
  data?: Record<string, string> | null
}

export interface BootstrapSecretLookup {
  getSecret(namespace: string, name: string): Promise<BootstrapSecretLike | undefined>
}

export type BootstrapResult = { user: UserInfo; expiresAt?: Date } | { error: string }

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/

/** A `data` value as text; undefined when absent or not base64. */
function dataValue(secret: BootstrapSecretLike, key: string): string | undefined {
  const value = secret.data?.[key]
  if (typeof value !== 'string' || !BASE64.test(value)) return undefined
  return Buffer.from(value, 'base64').toString('utf8')
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest()
}

export class BootstrapTokenAuthenticator {
  readonly #lookup: BootstrapSecretLookup

  constructor(lookup: BootstrapSecretLookup) {
    this.#lookup = lookup
  }

  /** Why the token is refused, or whom it names. Only a throwing lookup (or an invalid `now`) makes it reject. */
  async authenticate(token: string, now: Date = new Date()): Promise<BootstrapResult> {
    if (!Number.isFinite(now.getTime())) throw new Error('authenticate was given an invalid date as now')
    const parsed = parseBootstrapToken(token)
    if (!parsed) return { error: 'token is not a bootstrap token' }
    const name = bootstrapTokenSecretName(parsed.id)
    const where = `bootstrap secret ${BOOTSTRAP_TOKEN_NAMESPACE}/${name}`
    const secret = await this.#lookup.getSecret(BOOTSTRAP_TOKEN_NAMESPACE, name)
    if (!secret) return { error: `no secret ${BOOTSTRAP_TOKEN_NAMESPACE}/${name} to match bootstrap bearer token` }
    if (secret.metadata?.deletionTimestamp) return { error: `${where} is deleted and awaiting removal` }
    if (secret.type !== BOOTSTRAP_TOKEN_SECRET_TYPE || !secret.data) return { error: `${where} has invalid type, expected ${BOOTSTRAP_TOKEN_SECRET_TYPE}` }

    const expected = dataValue(secret, BOOTSTRAP_TOKEN_SECRET_KEY) ?? ''
    // Digests have one length, so neither the compare nor its length check leaks the secret.
    if (!timingSafeEqual(digest(expected), digest(parsed.secret))) return { error: `${where} does not match the token's secret` }
    if (dataValue(secret, BOOTSTRAP_TOKEN_ID_KEY) !== parsed.id) return { error: `${where} has invalid value for key ${BOOTSTRAP_TOKEN_ID_KEY}` }

    let expiresAt: Date | undefined
    const expiration = dataValue(secret, BOOTSTRAP_TOKEN_EXPIRATION_KEY)
    if (expiration !== undefined && expiration !== '') {
      const at = parseRfc3339(expiration)
      if (at === undefined) return { error: `${where} has an unparseable expiration; treated as expired` }
      if (at - now.getTime() <= 0) return { error: `${where} has expired` }
      expiresAt = new Date(at)
    } else if (secret.data[BOOTSTRAP_TOKEN_EXPIRATION_KEY] !== undefined && expiration === undefined) {
      return { error: `${where} has an unparseable expiration; treated as expired` }
    }

    if (dataValue(secret, BOOTSTRAP_TOKEN_USAGE_AUTHENTICATION) !== 'true') return { error: `${where} not marked ${BOOTSTRAP_TOKEN_USAGE_AUTHENTICATION}=true` }

    const groups = new Set([BOOTSTRAP_DEFAULT_GROUP])
    const extra = dataValue(secret, BOOTSTRAP_TOKEN_EXTRA_GROUPS_KEY)
    if (secret.data[BOOTSTRAP_TOKEN_EXTRA_GROUPS_KEY] !== undefined && extra === undefined) {
      return { error: `${where} has invalid value for key ${BOOTSTRAP_TOKEN_EXTRA_GROUPS_KEY}: not base64` }
    }
    if (extra) {
      for (const group of extra.split(',')) {
        const error = bootstrapGroupError(group)
        if (error) return { error: `${where} has invalid value for key ${BOOTSTRAP_TOKEN_EXTRA_GROUPS_KEY}: ${error}` }
        groups.add(group)
      }
    }
    const user: UserInfo = { username: BOOTSTRAP_USER_PREFIX + parsed.id, groups: [...groups].sort() }
    return expiresAt ? { user, expiresAt } : { user }
  }
}
