// On-disk reservations in host-local's layout, so both can share one dataDir:
//   <dataDir>/<network>/<ip>                  "<containerID>\r\n<ifname>"
//   <dataDir>/<network>/last_reserved_ip.<n>  "<ip>"
// Mutual exclusion between weft processes: <dataDir>/<network>.weft-lock (see lock.ts).
import { closeSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, unlinkSync, writeFileSync, writeSync } from 'node:fs'
import { isIP } from 'node:net'
import { join } from 'node:path'
import { FileLock, type LockOptions } from './lock.ts'

const LINE_BREAK = '\r\n'
const LAST_RESERVED_PREFIX = 'last_reserved_ip.'

export interface Reservation {
  ip: string
  containerID: string
  /** Empty for files written by old host-local versions (ID only). */
  ifname: string
}

export type { LockOptions }

const isErrno = (err: unknown, code: string): boolean => (err as NodeJS.ErrnoException | null)?.code === code

/**
 * Callers in one process (the warm CNI service runs many ADDs at once) queue here for the
 * file lock in turn, instead of all polling it with sleeps.
 */
const localQueues = new Map<string, Promise<void>>()

async function inTurn<T>(key: string, fn: () => Promise<T>): Promise<T> {
  const before = localQueues.get(key) ?? Promise.resolve()
  let release!: () => void
  const mine = new Promise<void>((r) => (release = r))
  const tail = before.then(() => mine)
  localQueues.set(key, tail)
  await before
  try {
    return await fn()
  } finally {
    release()
    if (localQueues.get(key) === tail) localQueues.delete(key)
  }
}

export class ReservationStore {
  readonly dir: string
  readonly lockPath: string

  /**
   * The lock sits beside the network directory, not in it: host-local keeps a permanent
   * flock(2)'d `lock` file inside, which an exclusive-create lock cannot share.
   */
  constructor(dataDir: string, network: string) {
    this.dir = join(dataDir, network)
    this.lockPath = join(dataDir, `${network}.weft-lock`)
  }

  /** Run `fn` holding the network's lock; creates the directories on first use. */
  async withLock<T>(fn: () => Promise<T>, options: LockOptions = {}): Promise<T> {
    return inTurn(this.lockPath, async () => {
      mkdirSync(this.dir, { recursive: true, mode: 0o755 })
      const lock = new FileLock(this.lockPath)
      await lock.acquire(options)
      try {
        return await fn()
      } finally {
        await lock.release()
      }
    })
  }

  // The store's file operations are synchronous: small files in the page cache, a few
  // microseconds each, where the async API's thread-pool round trips, one after another
  // under the lock, made a burst of 100 ADDs in the warm service queue for seconds.

  /** Exclusive-create the IP's file (so no two writers ever both succeed). False if taken. */
  async reserve(containerID: string, ifname: string, ip: string, rangeSetIndex: number): Promise<boolean> {
    const path = join(this.dir, ip)
    let fd: number
    try {
      fd = openSync(path, 'wx', 0o644)
    } catch (err) {
      if (isErrno(err, 'EEXIST')) return false
      throw err
    }
    try {
      writeSync(fd, containerID.trim() + LINE_BREAK + ifname)
    } catch (err) {
      closeSync(fd)
      try {
        unlinkSync(path)
      } catch {
        // nothing to undo
      }
      throw err
    }
    closeSync(fd)
    writeFileSync(join(this.dir, LAST_RESERVED_PREFIX + rangeSetIndex), ip, { mode: 0o644 })
    return true
  }

  async lastReservedIP(rangeSetIndex: number): Promise<string | undefined> {
    try {
      const text = readFileSync(join(this.dir, LAST_RESERVED_PREFIX + rangeSetIndex), 'utf8').trim()
      return isIP(text) ? text : undefined
    } catch {
      return undefined
    }
  }

  /** Every reservation file (names that are IPs), sorted by name. */
  async list(): Promise<Reservation[]> {
    let names: string[]
    try {
      names = readdirSync(this.dir)
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return []
      throw err
    }
    const out: Reservation[] = []
    for (const name of names.sort()) {
      if (!isIP(name)) continue
      let text: string
      try {
        text = readFileSync(join(this.dir, name), 'utf8')
      } catch {
        continue
      }
      const [containerID, ifname = ''] = text.trim().split(LINE_BREAK)
      out.push({ ip: name, containerID: containerID.trim(), ifname: ifname.trim() })
    }
    return out
  }

  async release(ip: string): Promise<void> {
    rmSync(join(this.dir, ip), { force: true })
  }

  /** IPs held by this container/interface; files from old versions match on the ID alone. */
  async findByID(containerID: string, ifname: string, all?: Reservation[]): Promise<string[]> {
    all ??= await this.list()
    const id = containerID.trim()
    const exact = all.filter((r) => r.containerID === id && r.ifname === ifname)
    if (exact.length > 0) return exact.map((r) => r.ip)
    return all.filter((r) => r.containerID === id && r.ifname === '').map((r) => r.ip)
  }

  async releaseByID(containerID: string, ifname: string): Promise<string[]> {
    const ips = await this.findByID(containerID, ifname)
    for (const ip of ips) await this.release(ip)
    return ips
  }
}
