// The lock weft processes share for one IPAM network: a file created whole with link(2)
// (never seen half-written) holding "<pid> <starttime> <nonce>\n", where starttime is
// field 22 of /proc/<pid>/stat. The pid and start time together name one process for good,
// so a lock is broken only when its owner is verifiably gone (exited, or its pid now
// belongs to a process started at another time). A live owner keeps its lock however long
// it holds it: a waiter gives up with "try again later" instead of stealing it.
//
// Breakers take a second lock (`<lock>.break`, same format) while they remove a stale
// lock, so two waiters that both judged it stale cannot remove a lock taken in between.
// A break lock whose owner died is removed without that protection; two breakers racing
// then (which needs a third process to have died within the few syscalls it holds it)
// could in theory both pass.
import { randomBytes } from 'node:crypto'
import { linkSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs'
import { readFile, stat, unlink } from 'node:fs/promises'
import { setTimeout as sleep } from 'node:timers/promises'
import { isAlive, processStartTime } from '../../src/util/proc.ts'
import { CNI_ERR, CniError } from './errors.ts'

export interface LockOptions {
  /** Give up (CNI code 11, try again later) after this long. Default 30 s. */
  timeoutMs?: number
  /**
   * A lock file that names no owner (empty or unreadable: not written by this code) is
   * removed once it is older than this. Default 10 s. A lock that names its owner is never
   * removed for its age.
   */
  staleMs?: number
}

export interface LockOwner {
  pid: number
  /** Absent in the "<pid>\n" files older weft versions wrote. */
  starttime?: number
}

const isErrno = (err: unknown, code: string): boolean => (err as NodeJS.ErrnoException | null)?.code === code

/** The owner a lock file names, or undefined when it names none. */
export function parseLockOwner(text: string): LockOwner | undefined {
  const m = /^(\d{1,10})(?: (\d{1,20}))?(?: [0-9a-f]+)?\n?$/.exec(text)
  if (!m) return undefined
  const pid = Number(m[1])
  if (pid < 1) return undefined
  return m[2] === undefined ? { pid } : { pid, starttime: Number(m[2]) }
}

/** 'gone' only when the owner has verifiably exited; an old-format owner whose pid runs is 'unknown'. */
function ownerState(owner: LockOwner): 'alive' | 'gone' | 'unknown' {
  if (owner.starttime === undefined) return processStartTime(owner.pid) === undefined ? 'gone' : 'unknown'
  return isAlive({ pid: owner.pid, starttime: owner.starttime }) ? 'alive' : 'gone'
}

function describe(text: string | undefined): string {
  const owner = text === undefined ? undefined : parseLockOwner(text)
  if (!owner) return 'by no named owner'
  return `by pid ${owner.pid}${owner.starttime === undefined ? '' : ` (start time ${owner.starttime})`}`
}

export class FileLock {
  readonly path: string
  #held: string | undefined

  constructor(path: string) {
    this.path = path
  }

  #content(): string {
    return `${process.pid} ${processStartTime(process.pid) ?? 0} ${randomBytes(8).toString('hex')}\n`
  }

  /**
   * Creates `path` holding `content` unless it exists; true when this call created it.
   * Synchronous, as release(): a few system calls on a small local file cost microseconds,
   * where each thread-pool round trip of the async API cost a queue of ADDs in the warm
   * service a fraction of a millisecond, one after another.
   */
  #create(path: string, content: string): boolean {
    const tmp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}`
    writeFileSync(tmp, content, { mode: 0o600, flag: 'wx' })
    try {
      linkSync(tmp, path)
      return true
    } catch (err) {
      if (isErrno(err, 'EEXIST')) return false
      throw err
    } finally {
      try {
        unlinkSync(tmp)
      } catch {
        // gone already
      }
    }
  }

  async acquire({ timeoutMs = 30_000, staleMs = 10_000 }: LockOptions = {}): Promise<void> {
    if (this.#held !== undefined) throw new Error(`${this.path} is already held by this FileLock`)
    const deadline = Date.now() + timeoutMs
    const content = this.#content()
    for (let attempt = 0; ; attempt++) {
      try {
        if (this.#create(this.path, content)) {
          this.#held = content
          return
        }
      } catch (err) {
        throw new CniError(CNI_ERR.ioFailure, `failed to take the IPAM lock ${this.path}`, String(err))
      }
      if (attempt % 4 === 3 && (await this.#breakIfStale(staleMs))) continue
      if (Date.now() > deadline) {
        const text = await readFile(this.path, 'utf8').catch(() => undefined)
        throw new CniError(
          CNI_ERR.tryAgainLater,
          `timed out after ${timeoutMs} ms waiting for the IPAM lock ${this.path}, held ${describe(text)}`,
          'the owner is still running; if it is not a weft process or is stuck, stop it, or remove the file',
        )
      }
      await sleep(Math.min(100, 2 + attempt * 4) * (0.5 + Math.random()))
    }
  }

  /** Removes the lock file if it is still the one this lock created. */
  async release(): Promise<void> {
    const mine = this.#held
    this.#held = undefined
    if (mine === undefined) return
    try {
      if (readFileSync(this.path, 'utf8') === mine) unlinkSync(this.path)
    } catch {
      // gone already: broken as stale by a waiter that judged this process dead
    }
  }

  async #isStale(text: string, staleMs: number): Promise<boolean> {
    const owner = parseLockOwner(text)
    if (owner === undefined) {
      const info = await stat(this.path).catch(() => undefined)
      return info !== undefined && Date.now() - info.mtimeMs > staleMs
    }
    if (owner.pid === process.pid && owner.starttime === processStartTime(process.pid)) return false
    return ownerState(owner) === 'gone'
  }

  /** True when the lock was found stale and removed (or is gone already): try again at once. */
  async #breakIfStale(staleMs: number): Promise<boolean> {
    let judged: string
    try {
      judged = await readFile(this.path, 'utf8')
    } catch (err) {
      return isErrno(err, 'ENOENT')
    }
    if (!(await this.#isStale(judged, staleMs))) return false
    const breakPath = `${this.path}.break`
    const mine = this.#content()
    let created = false
    try {
      created = this.#create(breakPath, mine)
    } catch {
      // as taken by another
    }
    if (!created) {
      // Another waiter is breaking it; unless that waiter died doing so.
      const other = await readFile(breakPath, 'utf8').catch(() => undefined)
      if (other === undefined) return false
      const owner = parseLockOwner(other)
      const info = await stat(breakPath).catch(() => undefined)
      const dead = owner === undefined ? info !== undefined && Date.now() - info.mtimeMs > staleMs : ownerState(owner) === 'gone'
      if (dead) {
        if ((await readFile(breakPath, 'utf8').catch(() => undefined)) === other) await unlink(breakPath).catch(() => {})
      }
      return false
    }
    try {
      // Still the very lock judged stale (the nonce tells two locks of one process apart)?
      const now = await readFile(this.path, 'utf8').catch(() => undefined)
      if (now === undefined) return true
      if (now !== judged) return false
      await unlink(this.path).catch(() => {})
      return true
    } finally {
      await unlink(breakPath).catch(() => {})
    }
  }
}
