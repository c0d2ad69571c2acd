// Bootstrap tokens (`<id>.<secret>`) and the Secrets that hold them, with the names
// k8s.io/cluster-bootstrap gives their keys.
import { randomInt } from 'node:crypto'

export const BOOTSTRAP_TOKEN_NAMESPACE = 'kube-system'
export const BOOTSTRAP_TOKEN_SECRET_PREFIX = 'bootstrap-token-'
export const BOOTSTRAP_TOKEN_SECRET_TYPE = 'bootstrap.kubernetes.io/token'
export const BOOTSTRAP_USER_PREFIX = 'system:bootstrap:'
export const BOOTSTRAP_DEFAULT_GROUP = 'system:bootstrappers'
export const BOOTSTRAP_TOKEN_ID_KEY = 'token-id'
export const BOOTSTRAP_TOKEN_SECRET_KEY = 'token-secret'
export const BOOTSTRAP_TOKEN_EXPIRATION_KEY = 'expiration'
export const BOOTSTRAP_TOKEN_DESCRIPTION_KEY = 'description'
export const BOOTSTRAP_TOKEN_EXTRA_GROUPS_KEY = 'auth-extra-groups'
export const BOOTSTRAP_TOKEN_USAGE_PREFIX = 'usage-bootstrap-'
export const BOOTSTRAP_TOKEN_USAGE_AUTHENTICATION = 'usage-bootstrap-authentication'
export const BOOTSTRAP_GROUP_PATTERN = /^system:bootstrappers:[a-z0-9:-]{0,255}[a-z0-9]$/

const TOKEN_PATTERN = /^([a-z0-9]{6})\.([a-z0-9]{16})$/
const ID_PATTERN = /^[a-z0-9]{6}$/
const SECRET_PATTERN = /^[a-z0-9]{16}$/
const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789'

export type BootstrapTokenUsage = 'authentication' | 'signing'

export interface BootstrapToken {
  id: string
  secret: string
}

export function parseBootstrapToken(token: string): BootstrapToken | undefined {
  const m = typeof token === 'string' ? TOKEN_PATTERN.exec(token) : null
  return m ? { id: m[1]!, secret: m[2]! } : undefined
}

export function bootstrapTokenSecretName(id: string): string {
  return BOOTSTRAP_TOKEN_SECRET_PREFIX + id
}

function randomString(length: number): string {
  let s = ''
  for (let i = 0; i < length; i++) s += ALPHABET[randomInt(ALPHABET.length)]
  return s
}

/** A fresh token from the CSPRNG, every character uniform over [a-z0-9]. */
export function generateBootstrapToken(): BootstrapToken & { token: string } {
  const id = randomString(6)
  const secret = randomString(16)
  return { id, secret, token: `${id}.${secret}` }
}

/** Why `group` may not be an auth-extra-group, or undefined when it may (upstream's words). */
export function bootstrapGroupError(group: string): string | undefined {
  return BOOTSTRAP_GROUP_PATTERN.test(group) ? undefined : `bootstrap group ${JSON.stringify(group)} is invalid (must match ${BOOTSTRAP_GROUP_PATTERN.source})`
}

/** Go's time.RFC3339 layout, as the `expiration` key holds it. */
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})$/

/** Milliseconds since the epoch, or undefined for anything but an RFC 3339 date-time. */
export function parseRfc3339(text: string): number | undefined {
  const m = RFC3339.exec(text)
  if (!m) return undefined
  const [, , mo, d, h, mi, s] = m.map(Number) as number[]
  if (mo! < 1 || mo! > 12 || d! < 1 || d! > 31 || h! > 23 || mi! > 59 || s! > 59) return undefined
  const ms = Date.parse(text)
  if (!Number.isFinite(ms)) return undefined
  // Date.parse rolls 31 February over into March; a real date reads back the same day.
  const offset = m[8] === 'Z' ? 0 : (m[8]![0] === '-' ? -1 : 1) * (Number(m[8]!.slice(1, 3)) * 60 + Number(m[8]!.slice(4, 6)))
  const local = new Date(ms + offset * 60_000)
  return local.getUTCDate() === d ? ms : undefined
}

/** RFC 3339 in UTC to the second, as Go's time.RFC3339 writes it. */
export function formatRfc3339(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z')
}

export interface BootstrapTokenSpec {
  id: string
  secret: string
  /** 0 or absent: the token never expires. */
  ttlSeconds?: number
  description?: string
  groups?: string[]
  usages: BootstrapTokenUsage[]
}

/** The Secret object kubeadm creates for a bootstrap token (values base64 in `data`). */
export interface BootstrapTokenSecretObject {
  apiVersion: 'v1'
  kind: 'Secret'
  metadata: { name: string; namespace: string }
  type: typeof BOOTSTRAP_TOKEN_SECRET_TYPE
  data: Record<string, string>
}

export function bootstrapTokenSecret(spec: BootstrapTokenSpec, now: Date = new Date()): BootstrapTokenSecretObject {
  if (!ID_PATTERN.test(spec.id)) throw new Error('a bootstrap token id is 6 characters of [a-z0-9]')
  if (!SECRET_PATTERN.test(spec.secret)) throw new Error('a bootstrap token secret is 16 characters of [a-z0-9]')
  const ttl = spec.ttlSeconds ?? 0
  if (!Number.isInteger(ttl) || ttl < 0) throw new Error('ttlSeconds must be a whole number of seconds, 0 for no expiry')
  const groups = spec.groups ?? []
  for (const group of groups) {
    const error = bootstrapGroupError(group)
    if (error) throw new Error(error)
  }
  if (!Array.isArray(spec.usages) || spec.usages.length === 0) throw new Error('a bootstrap token needs at least one usage: authentication or signing')
  for (const usage of spec.usages) {
    if (usage !== 'authentication' && usage !== 'signing') throw new Error(`unknown bootstrap token usage ${JSON.stringify(usage)}; use authentication or signing`)
  }
  const values: Record<string, string> = {
    [BOOTSTRAP_TOKEN_ID_KEY]: spec.id,
    [BOOTSTRAP_TOKEN_SECRET_KEY]: spec.secret,
  }
  if (spec.description) values[BOOTSTRAP_TOKEN_DESCRIPTION_KEY] = spec.description
  if (ttl > 0) values[BOOTSTRAP_TOKEN_EXPIRATION_KEY] = formatRfc3339(now.getTime() + ttl * 1000)
  for (const usage of spec.usages) values[BOOTSTRAP_TOKEN_USAGE_PREFIX + usage] = 'true'
  if (groups.length > 0) values[BOOTSTRAP_TOKEN_EXTRA_GROUPS_KEY] = groups.join(',')
  const data: Record<string, string> = {}
  for (const [key, value] of Object.entries(values)) data[key] = Buffer.from(value, 'utf8').toString('base64')
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: bootstrapTokenSecretName(spec.id), namespace: BOOTSTRAP_TOKEN_NAMESPACE },
    type: BOOTSTRAP_TOKEN_SECRET_TYPE,
    data,
  }
}
