// The node proxy's workload identities: one X.509-SVID per service account its meshed pods
// run as, obtained through a CertificateSigningRequest to the weft.dev/mesh signer (ECDSA
// P-256, the signer's lifetime, 24 h by default) and renewed at half-life: half-way from when
// it arrived to when it expires, so a short-lived certificate is not renewed at once for the
// signer's clock-skew backdating. A renewal that fails is retried (1 s doubling to a minute)
// while the held certificate is still valid; an expired one is dropped.
//
// Kept under DATA_DIR/mesh/identities/<namespace>/<service account>.{crt,key} (directories
// 0700, files 0600), so a restarted agent keeps serving with what it had; a kept certificate
// is used only if it still verifies against the published mesh root. An identity no meshed
// pod needs any more is forgotten and its files removed. Established connections are not
// touched by any of this: TLS sessions keep the certificate they were made with.
import { X509Certificate } from 'node:crypto'
import { mkdir, readdir, readFile, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import type { RestClient } from '../src/client/index.ts'
import { MESH_SIGNER, MESH_USAGES } from '../src/controllers/certificates/mesh.ts'
import { exchangeCertificate, writePrivate } from '../src/kubelet/join.ts'
import { certificateMatchesKey } from '../src/pki/certificates.ts'
import type { Logger } from '../src/util/log.ts'
import { spiffeId, verifySvid, type WorkloadIdentity } from './identity.ts'

export interface HeldIdentity {
  identity: WorkloadIdentity
  spiffeId: string
  certPem: string
  keyPem: string
  notBefore: Date
  notAfter: Date
  /** When the next one is asked for. */
  renewAt: Date
}

export interface NodeIdentitiesOptions {
  client: RestClient
  /** DATA_DIR/mesh/identities. */
  dir: string
  trustDomain: string
  log: Logger
  /** An identity was obtained, renewed or dropped (undefined `held`). */
  onChange?: (key: string, held: HeldIdentity | undefined) => void
  /** Waits between failed requests (default 1 s doubling to 60 s). */
  retry?: { initialMs: number; maxMs: number }
  /** How long one request may wait to be signed (default 60 s). */
  requestTimeoutMs?: number
}

export function identityKey(id: Pick<WorkloadIdentity, 'namespace' | 'serviceAccount'>): string {
  return `${id.namespace}/${id.serviceAccount}`
}

function pathsOf(dir: string, id: WorkloadIdentity): { dir: string; cert: string; key: string } {
  const nsDir = join(dir, id.namespace)
  return { dir: nsDir, cert: join(nsDir, `${id.serviceAccount}.crt`), key: join(nsDir, `${id.serviceAccount}.key`) }
}

/** Half-way from `obtained` (no earlier than notBefore) to notAfter. */
export function renewalTime(notBefore: Date, notAfter: Date, obtained: Date): Date {
  const from = Math.max(notBefore.getTime(), Math.min(obtained.getTime(), notAfter.getTime()))
  return new Date(from + (notAfter.getTime() - from) / 2)
}

/** A certificate and key as held, once they verify against `rootPem` as `id`; else undefined with the reason. */
async function check(id: WorkloadIdentity, certPem: string, keyPem: string, rootPem: string, obtained: Date, now = new Date()): Promise<HeldIdentity | { reason: string }> {
  try {
    const proven = await verifySvid(certPem, { trustDomain: id.trustDomain, rootPem, now })
    if (identityKey(proven) !== identityKey(id)) return { reason: `it is the identity of ${identityKey(proven)}` }
    if (!certificateMatchesKey(certPem, keyPem)) return { reason: 'the key does not match the certificate' }
  } catch (err) {
    return { reason: (err as Error).message }
  }
  return heldFrom(id, certPem, keyPem, obtained)
}

function heldFrom(id: WorkloadIdentity, certPem: string, keyPem: string, obtained: Date): HeldIdentity {
  const cert = new X509Certificate(certPem)
  const notBefore = new Date(cert.validFrom)
  const notAfter = new Date(cert.validTo)
  return { identity: id, spiffeId: spiffeId(id), certPem, keyPem, notBefore, notAfter, renewAt: renewalTime(notBefore, notAfter, obtained) }
}

/** A kept certificate and key, and when the certificate arrived (its file's mtime). */
async function readKept(dir: string, id: WorkloadIdentity): Promise<{ certPem: string; keyPem: string; obtained: Date }> {
  const paths = pathsOf(dir, id)
  const [certPem, keyPem, info] = await Promise.all([readFile(paths.cert, 'utf8'), readFile(paths.key, 'utf8'), stat(paths.cert)])
  return { certPem, keyPem, obtained: info.mtime }
}

/** The identities kept under `dir`, as `weft mesh certs` shows them: each read back, verified when the root is given. */
export async function readKeptIdentities(dir: string, trustDomain: string, rootPem?: string): Promise<Array<HeldIdentity | { key: string; problem: string }>> {
  const out: Array<HeldIdentity | { key: string; problem: string }> = []
  const namespaces = await readdir(dir).catch(() => [] as string[])
  for (const namespace of namespaces.sort()) {
    const files = await readdir(join(dir, namespace)).catch(() => [] as string[])
    for (const file of files.filter((f) => f.endsWith('.crt')).sort()) {
      const id = { trustDomain, namespace, serviceAccount: file.slice(0, -'.crt'.length) }
      try {
        const { certPem, keyPem, obtained } = await readKept(dir, id)
        const held = rootPem ? await check(id, certPem, keyPem, rootPem, obtained) : heldFrom(id, certPem, keyPem, obtained)
        out.push('reason' in held ? { key: identityKey(id), problem: held.reason } : held)
      } catch (err) {
        out.push({ key: identityKey(id), problem: (err as Error).message })
      }
    }
  }
  return out
}

export class NodeIdentities {
  readonly #o: NodeIdentitiesOptions
  readonly #held = new Map<string, HeldIdentity>()
  readonly #wanted = new Map<string, WorkloadIdentity>()
  readonly #timers = new Map<string, NodeJS.Timeout>()
  readonly #busy = new Set<string>()
  readonly #abort = new AbortController()
  #rootPem: string | undefined
  #pruned = false

  constructor(options: NodeIdentitiesOptions) {
    this.#o = options
  }

  get(id: Pick<WorkloadIdentity, 'namespace' | 'serviceAccount'>): HeldIdentity | undefined {
    return this.#held.get(identityKey(id))
  }

  list(): HeldIdentity[] {
    return [...this.#held.values()]
  }

  get rootPem(): string | undefined {
    return this.#rootPem
  }

  /** The mesh root changed (or arrived): identities that no longer verify are obtained again. */
  setRoot(rootPem: string | undefined): void {
    if (rootPem === this.#rootPem) return
    this.#rootPem = rootPem
    for (const [key, held] of this.#held) {
      if (!rootPem || !leafSignedBy(held.certPem, rootPem)) this.#drop(key, 'the mesh root changed')
    }
    this.#converge()
  }

  /** The identities to hold from now on. */
  want(ids: readonly WorkloadIdentity[]): void {
    const next = new Map(ids.map((id) => [identityKey(id), id]))
    for (const key of this.#wanted.keys()) {
      if (next.has(key)) continue
      const id = this.#wanted.get(key)!
      this.#wanted.delete(key)
      this.#drop(key, 'no meshed pod on this node runs as it any more')
      void this.#remove(id)
    }
    for (const [key, id] of next) this.#wanted.set(key, id)
    this.#converge()
  }

  stop(): void {
    this.#abort.abort()
    for (const t of this.#timers.values()) clearTimeout(t)
    this.#timers.clear()
  }

  #converge(): void {
    if (!this.#rootPem || this.#abort.signal.aborted) return
    if (!this.#pruned) {
      this.#pruned = true
      void this.#prune()
    }
    for (const [key, id] of this.#wanted) if (!this.#held.has(key) && !this.#busy.has(key) && !this.#timers.has(key)) void this.#obtain(key, id, 0)
  }

  #drop(key: string, why: string): void {
    const timer = this.#timers.get(key)
    if (timer) clearTimeout(timer)
    this.#timers.delete(key)
    if (!this.#held.delete(key)) return
    this.#o.log.info({ identity: key, why }, 'mesh identity dropped')
    this.#o.onChange?.(key, undefined)
  }

  #schedule(key: string, id: WorkloadIdentity, at: number, failures: number): void {
    const old = this.#timers.get(key)
    if (old) clearTimeout(old)
    const timer = setTimeout(() => {
      this.#timers.delete(key)
      void this.#obtain(key, id, failures)
    }, Math.max(0, at - Date.now()))
    timer.unref()
    this.#timers.set(key, timer)
  }

  /** The kept files if they still serve (first time only), else a new certificate. */
  async #obtain(key: string, id: WorkloadIdentity, failures: number): Promise<void> {
    const rootPem = this.#rootPem
    if (!rootPem || this.#busy.has(key)) return
    this.#busy.add(key)
    try {
      let held = failures === 0 && !this.#held.has(key) ? await this.#kept(id, rootPem) : undefined
      if (!held) {
        const pair = await exchangeCertificate(this.#o.client, {
          signerName: MESH_SIGNER,
          usages: [...MESH_USAGES],
          subject: { commonName: id.serviceAccount, organizations: [id.namespace] },
          uris: [spiffeId(id)],
          namePrefix: 'mesh-',
          signal: this.#abort.signal,
          timeoutMs: this.#o.requestTimeoutMs ?? 60_000,
        })
        const checked = await check(id, pair.certPem, pair.keyPem, rootPem, new Date())
        if ('reason' in checked) throw new Error(`the signed certificate does not serve as ${spiffeId(id)}: ${checked.reason}`)
        if (!this.#wanted.has(key) || this.#abort.signal.aborted) return
        const paths = pathsOf(this.#o.dir, id)
        await mkdir(paths.dir, { recursive: true, mode: 0o700 })
        await writePrivate(paths.key, pair.keyPem)
        await writePrivate(paths.cert, pair.certPem)
        held = checked
        this.#o.log.info({ identity: key, notAfter: held.notAfter.toISOString(), renewAt: held.renewAt.toISOString() }, 'mesh identity obtained')
      }
      if (!this.#wanted.has(key) || this.#abort.signal.aborted || rootPem !== this.#rootPem) return
      this.#held.set(key, held)
      this.#o.onChange?.(key, held)
      this.#schedule(key, id, held.renewAt.getTime(), 0)
    } catch (err) {
      if (this.#abort.signal.aborted || !this.#wanted.has(key)) return
      const retry = this.#o.retry ?? { initialMs: 1000, maxMs: 60_000 }
      const wait = Math.min(retry.maxMs, retry.initialMs * 2 ** failures)
      const held = this.#held.get(key)
      this.#o.log.warn({ identity: key, err: (err as Error).message, retryInMs: wait }, held ? 'cannot renew a mesh identity; the current one serves until it expires' : 'cannot obtain a mesh identity')
      if (held && Date.now() + wait >= held.notAfter.getTime()) this.#drop(key, 'it expired before it could be renewed')
      this.#schedule(key, id, Date.now() + wait, failures + 1)
    } finally {
      this.#busy.delete(key)
    }
  }

  async #kept(id: WorkloadIdentity, rootPem: string): Promise<HeldIdentity | undefined> {
    try {
      const { certPem, keyPem, obtained } = await readKept(this.#o.dir, id)
      const held = await check(id, certPem, keyPem, rootPem, obtained)
      if ('reason' in held) {
        this.#o.log.info({ identity: identityKey(id), why: held.reason }, 'kept mesh identity not used; asking for a new one')
        return undefined
      }
      return held.renewAt.getTime() > Date.now() ? held : undefined
    } catch {
      return undefined
    }
  }

  async #remove(id: WorkloadIdentity): Promise<void> {
    const paths = pathsOf(this.#o.dir, id)
    await Promise.all([rm(paths.cert, { force: true }), rm(paths.key, { force: true })])
  }

  /** Files of identities not wanted when the proxy first converges: left from an earlier run. */
  async #prune(): Promise<void> {
    for (const kept of await readKeptIdentities(this.#o.dir, this.#o.trustDomain)) {
      const key = 'key' in kept ? kept.key : identityKey(kept.identity)
      if (this.#wanted.has(key)) continue
      const [namespace, serviceAccount] = key.split('/') as [string, string]
      await this.#remove({ trustDomain: this.#o.trustDomain, namespace, serviceAccount })
    }
  }
}

function leafSignedBy(certPem: string, rootPem: string): boolean {
  try {
    return new X509Certificate(certPem).verify(new X509Certificate(rootPem).publicKey)
  } catch {
    return false
  }
}
