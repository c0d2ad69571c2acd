// How a client proves who it is and whom it trusts: TLS material and bearer tokens, from
// a kubeconfig file or from inside a pod, as client-go's rest.Config holds them.
import { readFileSync, statSync } from 'node:fs'

export interface Credentials {
  /** PEM bundle of the CAs trusted to sign the server's certificate. */
  caPem?: string
  /** Client certificate and key (PEM), for x509 authentication. */
  certPem?: string
  keyPem?: string
  /** A bearer token. */
  token?: string
  /** A file holding the bearer token, re-read when it changes (projected service-account tokens rotate). */
  tokenFile?: string
  /** The name to check the server's certificate against, when not the URL's host. */
  serverName?: string
  /** Skip checking the server's certificate (kubeconfig's insecure-skip-tls-verify). */
  insecureSkipTlsVerify?: boolean
}

/** How often a token file is checked for a new token (client-go re-reads it each minute). */
const TOKEN_FILE_RECHECK_MS = 60_000
const MAX_TOKEN_BYTES = 16 * 1024

/** Answers the bearer token to send now: a fixed one, or the current content of a token file. */
export class TokenSource {
  readonly #fixed: string | undefined
  readonly #file: string | undefined
  #cached = ''
  #checkedAt = -Infinity
  #mtimeMs = -1

  constructor(credentials: Credentials) {
    this.#fixed = credentials.token
    this.#file = credentials.tokenFile
    if (this.#fixed === undefined && this.#file !== undefined) this.#read(Date.now())
  }

  get present(): boolean {
    return this.#fixed !== undefined || this.#file !== undefined
  }

  token(now = Date.now()): string | undefined {
    if (this.#fixed !== undefined) return this.#fixed
    if (this.#file === undefined) return undefined
    if (now - this.#checkedAt >= TOKEN_FILE_RECHECK_MS) this.#read(now)
    return this.#cached || undefined
  }

  #read(now: number): void {
    const file = this.#file!
    this.#checkedAt = now
    let mtimeMs: number
    try {
      const st = statSync(file)
      if (st.size > MAX_TOKEN_BYTES) throw new Error(`the token file ${file} is larger than ${MAX_TOKEN_BYTES} bytes`)
      mtimeMs = st.mtimeMs
    } catch (err) {
      // Keep the last token while a projected volume swaps its files; fail only if there never was one.
      if (this.#cached) return
      throw new Error(`cannot read the token file ${file}: ${(err as Error).message}`)
    }
    if (mtimeMs === this.#mtimeMs && this.#cached) return
    const text = readFileSync(file, 'utf8').trim()
    if (!text && !this.#cached) throw new Error(`the token file ${file} is empty`)
    if (text) this.#cached = text
    this.#mtimeMs = mtimeMs
  }
}
