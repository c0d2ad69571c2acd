// Keeps one of the node's certificates fresh, as the kubelet's certificate manager does:
// a new one at 70–90 % of the current one's life, retried each minute until it comes.
import { X509Certificate } from 'node:crypto'
import type { Logger } from '../util/log.ts'
import { MAX_TIMER_MS } from '../util/timers.ts'

export interface Validity {
  notBefore: number
  notAfter: number
}

/** When to renew: at 70–90 % of the certificate's life (jittered, as the kubelet does). */
export function renewalTime(notBefore: number, notAfter: number, random = Math.random()): number {
  return notBefore + (notAfter - notBefore) * (0.7 + 0.2 * random)
}

export function validityOf(certPem: string): Validity {
  const cert = new X509Certificate(certPem)
  return { notBefore: Date.parse(cert.validFrom), notAfter: Date.parse(cert.validTo) }
}

export interface CertificateRotationOptions {
  /** For the logs: "node client certificate". */
  what: string
  /** Gets and installs a new certificate; answers its PEM. */
  renew: (signal: AbortSignal) => Promise<string>
  log: Logger
  retryMs?: number
}

export class CertificateRotation {
  readonly #o: CertificateRotationOptions
  #timer: NodeJS.Timeout | undefined
  readonly #abort = new AbortController()

  constructor(options: CertificateRotationOptions) {
    this.#o = options
  }

  start(validity: Validity): void {
    this.#schedule(validity, renewalTime(validity.notBefore, validity.notAfter))
  }

  stop(): void {
    clearTimeout(this.#timer)
    this.#abort.abort()
  }

  #schedule(validity: Validity, at: number): void {
    clearTimeout(this.#timer)
    if (this.#abort.signal.aborted) return
    this.#timer = setTimeout(() => {
      // Timers cap at ~24.8 days: a renewal further out is waited for in steps.
      if (Date.now() < at) return this.#schedule(validity, at)
      this.#o
        .renew(this.#abort.signal)
        .then((certPem) => {
          const next = validityOf(certPem)
          this.#o.log.info({ notAfter: new Date(next.notAfter).toISOString() }, `renewed the ${this.#o.what}`)
          this.start(next)
        })
        .catch((err: unknown) => {
          if (this.#abort.signal.aborted) return
          this.#o.log.warn({ err }, `cannot renew the ${this.#o.what}; trying again in a minute`)
          this.#schedule(validity, Date.now() + (this.#o.retryMs ?? 60_000))
        })
    }, Math.min(Math.max(0, at - Date.now()), MAX_TIMER_MS)).unref()
  }
}
