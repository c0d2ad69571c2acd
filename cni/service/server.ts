// The warm CNI service: runs plugin invocations for the bin scripts of its own network
// namespace, so an ADD costs a bash start instead of a Node start.
//
// Rendezvous: <runDir>/<netns inode>/ (mode 0700) holds `req` (a FIFO), `idle` (a FIFO
// nobody writes) and `ns` (a symlink to /proc/<service pid>/ns/net). A client finds the
// directory whose `ns` is its own namespace (`[[ /proc/self/ns/net -ef ns ]]`, no fork),
// opens `idle` on its fd 9, writes "<pid> <plugin> <flags>\n" to `req` and waits on fd 9.
//
// The request line names a pid, and anything that can write the FIFO can name any pid, so
// before the service reads from, writes to or signals that process it checks that the pid
// is a client: in this network namespace and holding this very `idle` FIFO on fd 9. It
// notes the pid's start time (field 22 of /proc/<pid>/stat) then, and signals only while
// pid and start time still match, so a pid recycled meanwhile is never signalled. (Between
// that last check and kill(2) there is no pidfd in Node to close the gap: a pid would have
// to be reused within those microseconds.)
//
// The service reads the CNI_* variables from /proc/<pid>/environ. The config comes from
// /proc/<pid>/fd/6 (the client's stdin, dup'd: a pipe or a file), or with flag `i` from
// the file in.<pid>; the output goes to /proc/<pid>/fd/7 (its stdout, a pipe), or with flag
// `o` to the file out.<pid>, which the client prints. The exit code is a signal: SIGUSR1
// for 0, SIGUSR2 for 1. Every verified client gets an answer, a CNI error object when the
// service cannot run its request; input is bounded in size and time.
import { execFile } from 'node:child_process'
import { closeSync, constants, fstatSync, openSync, promises as fs, readlinkSync, statSync, type Stats } from 'node:fs'
import { Socket } from 'node:net'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { IpSession } from '../../src/netlink/bridge.ts'
import { Spawner } from '../../src/netlink/spawner.ts'
import { isAlive, processStartTime, type ProcessId } from '../../src/util/proc.ts'
import { setHostIp, setHostIpAlone, setPodIp } from '../bridge/links.ts'
import { PLUGINS } from '../plugins.ts'
import { runPlugin, type PluginHandlers } from '../protocol/dispatch.ts'
import { CniError, ERR_INTERNAL, ERR_IO_FAILURE, ERR_TRY_AGAIN_LATER, toCniError } from '../protocol/errors.ts'
import { MAX_STDIN_BYTES, readBounded, tooLarge } from '../protocol/stdin.ts'
import { LATEST_VERSION } from '../protocol/version.ts'
import { DEFAULT_RUN_DIR, serviceDir } from './run-dir.ts'

/** How long the service waits for a client's stdin to end, or its stdout to take the output. */
const DEFAULT_IO_TIMEOUT_MS = 10_000
/** Requests served at once; more are answered "try again later" (code 11). */
const MAX_INFLIGHT = 256
/**
 * How long one link or address change may take. A pod's changes are a few lines; one that
 * hangs fails its ADD well within the runtime's 60 s plugin deadline, so the runtime's next
 * try meets a fresh session instead of waiting behind it.
 */
const COMMAND_TIMEOUT_MS = 20_000
/** A request line is "<pid> <plugin> <flags>": anything longer is not one. */
const MAX_LINE = 128

export interface CniServiceOptions {
  /** Where the rendezvous directory goes; clients read WEFT_CNI_RUN_DIR (same default). */
  runDir?: string
  /** Plugins by the name clients send; default weft's bridge and ipam. */
  plugins?: Record<string, PluginHandlers>
  /** Called for requests the service refuses or cannot answer. */
  onError?: (err: Error) => void
  /** Default DEFAULT_IO_TIMEOUT_MS. */
  ioTimeoutMs?: number
  /** Default MAX_INFLIGHT. */
  maxInflight?: number
}

export interface CniService {
  /** The rendezvous directory of this namespace. */
  dir: string
  close(): Promise<void>
}

const execFileP = promisify(execFile)

function netnsInode(pid: number | 'self'): string {
  const link = readlinkSync(`/proc/${pid}/ns/net`)
  return link.replace(/\D/g, '')
}

function cniEnv(environ: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const entry of environ.split('\0')) {
    if (!entry.startsWith('CNI_')) continue
    const eq = entry.indexOf('=')
    if (eq > 0) env[entry.slice(0, eq)] = entry.slice(eq + 1)
  }
  return env
}

export interface RequestLine {
  pid: number
  plugin: string
  flags: string
}

/** "<pid> [<plugin> [<flags>]]"; undefined for anything else. */
export function parseRequestLine(line: string): RequestLine | undefined {
  const m = /^([1-9]\d{0,9}) ?([A-Za-z0-9_-]{1,32})? ?(-[io]{0,2})?$/.exec(line)
  if (!m) return undefined
  const pid = Number(m[1])
  if (pid > 0x3fffffff) return undefined
  return { pid, plugin: m[2] ?? 'bridge', flags: m[3] ?? '-' }
}

function sameFile(a: Stats, b: Stats): boolean {
  return a.dev === b.dev && a.ino === b.ino
}

/** Whether `pid` holds the FIFO `idle` open on its fd 9. */
function waitsOn(pid: number, idle: Stats): boolean {
  try {
    return sameFile(statSync(`/proc/${pid}/fd/9`), idle)
  } catch {
    return false
  }
}

function errorJson(err: unknown): string {
  return JSON.stringify(toCniError(err).toJSON(LATEST_VERSION)) + '\n'
}

/** Reads a pipe to its end, at most `limit` bytes, within `timeoutMs`. Takes over `fd`. */
function readPipe(fd: number, limit: number, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = new Socket({ fd, readable: true, writable: false })
    const chunks: Buffer[] = []
    let size = 0
    const done = (err: Error | undefined, text?: string): void => {
      clearTimeout(timer)
      socket.destroy()
      if (err) reject(err)
      else resolve(text!)
    }
    const timer = setTimeout(() => done(new CniError(ERR_TRY_AGAIN_LATER, `timed out after ${timeoutMs} ms reading the network configuration from stdin`, 'the caller did not close the plugin\'s stdin')), timeoutMs)
    socket.on('data', (b: Buffer) => {
      size += b.length
      if (size > limit) return done(tooLarge(limit))
      chunks.push(b)
    })
    socket.on('end', () => done(undefined, Buffer.concat(chunks).toString('utf8')))
    socket.on('error', (err) => done(new CniError(ERR_IO_FAILURE, 'failed to read the network configuration from stdin', err.message)))
  })
}

/** The client's stdin through /proc: a pipe (read to its end) or a regular file. */
async function readStdin(path: string, limit: number, timeoutMs: number): Promise<string> {
  let fd: number
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY)
  } catch (err) {
    throw new CniError(ERR_IO_FAILURE, 'failed to open the client\'s stdin', (err as Error).message)
  }
  let st: Stats
  try {
    st = fstatSync(fd)
  } catch (err) {
    closeSync(fd)
    throw new CniError(ERR_IO_FAILURE, 'failed to open the client\'s stdin', (err as Error).message)
  }
  if (st.isFIFO()) return readPipe(fd, limit, timeoutMs)
  try {
    if (!st.isFile()) throw new CniError(ERR_IO_FAILURE, 'the client\'s stdin is neither a pipe nor a file')
    return readBounded(fd, limit)
  } finally {
    closeSync(fd)
  }
}

/** Writes `text` into the client's stdout pipe (never blocking on a reader that does not read). */
function writePipe(path: string, text: string, timeoutMs: number): Promise<void> {
  let fd: number
  try {
    fd = openSync(path, constants.O_WRONLY | constants.O_NONBLOCK | constants.O_NOCTTY)
  } catch (err) {
    return Promise.reject(err)
  }
  try {
    if (!fstatSync(fd).isFIFO()) throw new Error(`${path} is not a pipe`)
  } catch (err) {
    closeSync(fd)
    return Promise.reject(err)
  }
  return new Promise((resolve, reject) => {
    const socket = new Socket({ fd, readable: false, writable: true })
    const timer = setTimeout(() => finish(new Error(`timed out after ${timeoutMs} ms writing to the client's stdout`)), timeoutMs)
    const finish = (err?: Error): void => {
      clearTimeout(timer)
      socket.destroy()
      if (err) reject(err)
      else resolve()
    }
    socket.on('error', (err) => finish(err))
    socket.end(text, () => finish())
  })
}

function readInFile(path: string, limit: number): string {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK)
  try {
    if (!fstatSync(fd).isFile()) throw new CniError(ERR_IO_FAILURE, `${path} is not a regular file`)
    return readBounded(fd, limit)
  } finally {
    closeSync(fd)
  }
}

export async function startCniService(opts: CniServiceOptions = {}): Promise<CniService> {
  const plugins = opts.plugins ?? PLUGINS
  const onError = opts.onError ?? (() => {})
  const ioTimeoutMs = opts.ioTimeoutMs ?? DEFAULT_IO_TIMEOUT_MS
  const maxInflight = opts.maxInflight ?? MAX_INFLIGHT
  const ownNs = netnsInode('self')
  const dir = serviceDir(opts.runDir ?? DEFAULT_RUN_DIR, ownNs)
  await fs.rm(dir, { recursive: true, force: true })
  await fs.mkdir(dir, { recursive: true, mode: 0o700 })
  await fs.chmod(dir, 0o700)
  await execFileP('mkfifo', ['-m', '0600', join(dir, 'req'), join(dir, 'idle')])
  const idle = statSync(join(dir, 'idle'))
  // Read-write, so the FIFO never reports end-of-file when a client closes it.
  const fd = openSync(join(dir, 'req'), constants.O_RDWR | constants.O_NONBLOCK)
  const fifo = new Socket({ fd, readable: true, writable: false })
  const inflight = new Set<Promise<void>>()
  const serving = new Set<number>()
  // Host-side link changes go to one long-lived `ip -batch` (restarted if it dies).
  let session = new IpSession({ timeoutMs: COMMAND_TIMEOUT_MS })
  setHostIp((lines) => {
    if (!session.alive) session = new IpSession({ timeoutMs: COMMAND_TIMEOUT_MS })
    return session.run(lines)
  })
  const jobs = join(dir, 'jobs')
  await fs.mkdir(jobs)
  let spawner = new Spawner(jobs, { jobTimeoutMs: COMMAND_TIMEOUT_MS })
  const liveSpawner = () => {
    if (!spawner.alive) spawner = new Spawner(jobs, { jobTimeoutMs: COMMAND_TIMEOUT_MS })
    return spawner
  }
  setPodIp((lines, netns) => liveSpawner().ipBatch(lines, netns))
  setHostIpAlone((lines) => liveSpawner().ipBatch(lines))

  /**
   * The client behind a request, verified; a string says why it is refused. A client holds
   * `idle` on fd 9 before it writes its request (bin/weft-cni, bin/weft-ipam), so one look
   * is enough: a pid that does not hold it now is not a client.
   */
  function verify(pid: number): ProcessId | string {
    const starttime = processStartTime(pid)
    if (starttime === undefined) return 'there is no such process'
    try {
      if (netnsInode(pid) !== ownNs) return 'it is in another network namespace'
    } catch {
      return 'there is no such process'
    }
    if (!waitsOn(pid, idle)) return `it is not a weft CNI client waiting on ${join(dir, 'idle')}`
    const client = { pid, starttime }
    if (!isAlive(client)) return 'it exited while being checked'
    return client
  }

  /** `busy`: `maxInflight` other requests were in flight when this one came. */
  async function answer(client: ProcessId, plugin: string, flags: string, busy: boolean): Promise<{ code: number; out: string }> {
    if (!Object.hasOwn(plugins, plugin)) {
      return { code: 1, out: errorJson(new CniError(ERR_INTERNAL, `unknown weft CNI plugin "${plugin}"`, `expected one of: ${Object.keys(plugins).join(', ')}`)) }
    }
    if (busy) return { code: 1, out: errorJson(new CniError(ERR_TRY_AGAIN_LATER, `the weft CNI service in ${dir} is busy (${maxInflight} requests)`)) }
    try {
      const env = cniEnv(await fs.readFile(`/proc/${client.pid}/environ`, 'latin1'))
      let stdin = ''
      if (flags.includes('i')) stdin = readInFile(join(dir, `in.${client.pid}`), MAX_STDIN_BYTES)
      else if (env.CNI_COMMAND !== 'VERSION') stdin = await readStdin(`/proc/${client.pid}/fd/6`, MAX_STDIN_BYTES, ioTimeoutMs)
      let out = ''
      const code = await runPlugin(plugins[plugin], { env, stdin, stdout: (s) => (out += s) })
      return { code, out }
    } catch (err) {
      return { code: 1, out: errorJson(err) }
    }
  }

  async function deliver(client: ProcessId, flags: string, out: string): Promise<void> {
    if (flags.includes('o')) {
      const file = join(dir, `out.${client.pid}`)
      await fs.writeFile(file, out, { mode: 0o600 })
      // The client reads it as soon as it is signalled; the file goes a while later.
      setTimeout(() => void fs.rm(file, { force: true }), 60_000).unref()
    } else if (out !== '') {
      await writePipe(`/proc/${client.pid}/fd/7`, out, ioTimeoutMs)
    }
  }

  function signal(client: ProcessId, code: number): void {
    if (!isAlive(client) || !waitsOn(client.pid, idle)) {
      onError(new Error(`did not signal pid ${client.pid}: it is no longer the client that asked`))
      return
    }
    try {
      process.kill(client.pid, code === 0 ? 'SIGUSR1' : 'SIGUSR2')
    } catch (err) {
      onError(err as Error)
    }
  }

  async function serve(req: RequestLine, busy: boolean): Promise<void> {
    const client = verify(req.pid)
    if (typeof client === 'string') {
      if (req.flags.includes('i')) await fs.rm(join(dir, `in.${req.pid}`), { force: true })
      throw new Error(`refused a request from pid ${req.pid}: ${client}`)
    }
    const { code, out } = await answer(client, req.plugin, req.flags, busy)
    await fs.rm(join(dir, `in.${client.pid}`), { force: true })
    try {
      await deliver(client, req.flags, out)
    } catch (err) {
      onError(new Error(`could not hand pid ${client.pid} its output: ${(err as Error).message}`))
    }
    signal(client, code)
  }

  let buffered = ''
  let skipping = false
  fifo.on('data', (chunk: Buffer) => {
    buffered += chunk.toString('latin1')
    for (;;) {
      const nl = buffered.indexOf('\n')
      if (nl < 0) {
        if (buffered.length > MAX_LINE) {
          if (!skipping) onError(new Error(`ignored a malformed request line longer than ${MAX_LINE} bytes`))
          buffered = ''
          skipping = true
        }
        return
      }
      const line = buffered.slice(0, nl)
      buffered = buffered.slice(nl + 1)
      if (skipping) {
        skipping = false
        continue
      }
      const req = parseRequestLine(line)
      if (req === undefined || req.pid === process.pid) {
        onError(new Error(`ignored a malformed request line ${JSON.stringify(line.slice(0, MAX_LINE))}`))
        continue
      }
      if (serving.has(req.pid)) {
        onError(new Error(`ignored a second request from pid ${req.pid} while its first is served`))
        continue
      }
      serving.add(req.pid)
      const p = serve(req, inflight.size >= maxInflight)
        .catch((err: unknown) => onError(err instanceof Error ? err : new Error(String(err))))
        .finally(() => serving.delete(req.pid))
      inflight.add(p)
      void p.finally(() => inflight.delete(p))
    }
  })
  fifo.on('error', (err) => onError(err))

  // The symlink goes last: clients treat it as "the service is listening".
  const tmp = join(dir, `ns.${process.pid}`)
  await fs.symlink(`/proc/${process.pid}/ns/net`, tmp)
  await fs.rename(tmp, join(dir, 'ns'))

  let closed: Promise<void> | undefined
  return {
    dir,
    close() {
      closed ??= (async () => {
        await fs.rm(join(dir, 'ns'), { force: true })
        fifo.destroy()
        await Promise.allSettled([...inflight])
        setHostIp(undefined)
        setHostIpAlone(undefined)
        setPodIp(undefined)
        session.close()
        spawner.close()
        await fs.rm(dir, { recursive: true, force: true })
      })()
      return closed
    },
  }
}
