// The kubelet's token manager: bound service-account tokens for pods' projected volumes,
// obtained through TokenRequest and kept until 80 % of their life has passed (or a day,
// whichever comes first), as upstream's kubelet token manager does.
import type { V1Pod } from '@kubernetes/client-node'
import type { RestClient } from '../client/index.ts'

interface Held {
  token: string
  issuedAt: number
  expiresAt: number
  podUid: string
}

const MAX_HOLD_MS = 24 * 3600_000

export class TokenManager {
  readonly #client: RestClient
  readonly #now: () => number
  readonly #held = new Map<string, Held>()

  constructor(client: RestClient, now: () => number = Date.now) {
    this.#client = client
    this.#now = now
  }

  /** A token for the pod's service account, bound to the pod, for `audience` (the API server's when absent). */
  async token(pod: V1Pod, serviceAccount: string, audience: string | undefined, expirationSeconds: number): Promise<string> {
    const ns = pod.metadata?.namespace ?? 'default'
    const uid = pod.metadata?.uid ?? ''
    const key = JSON.stringify([ns, serviceAccount, audience ?? '', expirationSeconds, uid])
    const held = this.#held.get(key)
    const now = this.#now()
    if (held && !this.#due(held, now)) return held.token
    const path = `/api/v1/namespaces/${encodeURIComponent(ns)}/serviceaccounts/${encodeURIComponent(serviceAccount)}/token`
    const request = {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenRequest',
      spec: { audiences: audience ? [audience] : [], expirationSeconds, boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: pod.metadata?.name, uid } },
    }
    const answer = await this.#client.request<{ status?: { token?: string; expirationTimestamp?: string } }>('POST', path, request)
    const token = answer?.status?.token
    const expiresAt = Date.parse(answer?.status?.expirationTimestamp ?? '')
    if (!token || !Number.isFinite(expiresAt)) throw new Error(`TokenRequest for ${ns}/${serviceAccount} answered without a token`)
    this.#held.set(key, { token, issuedAt: now, expiresAt, podUid: uid })
    return token
  }

  #due(held: Held, now: number): boolean {
    const life = held.expiresAt - held.issuedAt
    return now >= held.issuedAt + life * 0.8 || now - held.issuedAt >= MAX_HOLD_MS
  }

  /** When the soonest held token of the pod is due for renewal (ms since the epoch), if it holds any. */
  renewalDue(podUid: string): number | undefined {
    let due: number | undefined
    for (const h of this.#held.values()) {
      if (h.podUid !== podUid) continue
      const at = Math.min(h.issuedAt + (h.expiresAt - h.issuedAt) * 0.8, h.issuedAt + MAX_HOLD_MS)
      due = due === undefined ? at : Math.min(due, at)
    }
    return due
  }

  /** Drops the tokens of a pod that is gone. */
  forgetPod(podUid: string): void {
    for (const [key, h] of this.#held) if (h.podUid === podUid) this.#held.delete(key)
  }
}
