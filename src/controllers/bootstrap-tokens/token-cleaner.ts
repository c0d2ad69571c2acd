// The tokencleaner controller: a bootstrap token's Secret is deleted once its expiration
// has passed, so an expired token is gone rather than merely refused.
import type { V1Secret } from '@kubernetes/client-node'
import type { ResourceInfo } from '../../api/registry.ts'
import { BOOTSTRAP_TOKEN_EXPIRATION_KEY, BOOTSTRAP_TOKEN_SECRET_TYPE, parseRfc3339 } from '../../auth/tokens/bootstrap-token.ts'
import type { Action } from '../actions.ts'

export function reconcileExpiredBootstrapTokens(secrets: readonly V1Secret[], info: ResourceInfo, now: Date): { actions: Action[]; requeueAfterMs?: number } {
  const actions: Action[] = []
  let next: number | undefined
  for (const s of secrets) {
    if (s.type !== BOOTSTRAP_TOKEN_SECRET_TYPE || s.metadata?.deletionTimestamp) continue
    const raw = s.data?.[BOOTSTRAP_TOKEN_EXPIRATION_KEY]
    if (!raw) continue
    const expires = parseRfc3339(Buffer.from(raw, 'base64').toString('utf8'))
    if (expires === undefined) continue
    if (expires <= now.getTime()) actions.push({ verb: 'delete', info, namespace: s.metadata!.namespace, name: s.metadata!.name!, uid: s.metadata!.uid })
    else next = next === undefined ? expires : Math.min(next, expires)
  }
  return { actions, requeueAfterMs: next === undefined ? undefined : next - now.getTime() }
}
