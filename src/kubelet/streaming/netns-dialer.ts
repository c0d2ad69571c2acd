// Connections to localhost:PORT inside a pod's network namespace. Node cannot setns, so one
// helper per namespace (netns-dialer-main.ts, started with `nsenter --net=PATH`) connects
// there and passes each connected socket back over IPC: the kubelet then holds the pod
// socket itself and no byte is copied through the helper. A helper starts on first use,
// stops after `idleMs` without a dial, on `stop(netnsPath)` (the pod went) and with the
// kubelet (its IPC channel closes). It is signalled by its pid (ChildProcess.kill) only.
import { spawn, type ChildProcess } from 'node:child_process'
import { connect, Socket } from 'node:net'
import { fileURLToPath } from 'node:url'
import { goDialError, type DialReply } from './netns-dialer-protocol.ts'

const MAIN = fileURLToPath(new URL('./netns-dialer-main.ts', import.meta.url))

/** A dial that failed; `message` is what the error stream shows. */
export class PortForwardDialError extends Error {
  readonly code: 'PORT_FORWARD_DIAL' = 'PORT_FORWARD_DIAL'
}

export interface NetnsDialerOptions {
  /** Stop a namespace's helper after this long without a dial (default 60 s). */
  idleMs?: number
  /** How long a helper may take to start (default 10 s). */
  startTimeoutMs?: number
}

interface Helper {
  child: ChildProcess
  ready: Promise<void>
  pending: Map<number, { resolve: (s: Socket) => void; reject: (e: Error) => void }>
  idle: NodeJS.Timeout | undefined
  exited: Promise<void>
  stderr: string
}

export class NetnsDialer {
  readonly #helpers = new Map<string, Helper>()
  readonly #idleMs: number
  readonly #startTimeoutMs: number
  #nextId = 1

  constructor(opts: NetnsDialerOptions = {}) {
    this.#idleMs = opts.idleMs ?? 60_000
    this.#startTimeoutMs = opts.startTimeoutMs ?? 10_000
  }

  /** Helpers running now (one per namespace). */
  get running(): string[] {
    return [...this.#helpers.keys()]
  }

  /** The pid of the namespace's helper, if one runs. */
  pid(netnsPath: string): number | undefined {
    return this.#helpers.get(netnsPath)?.child.pid
  }

  /** A socket connected to localhost:port in the namespace (the kubelet's own when `netnsPath` is undefined: host-network pods). */
  async dial(netnsPath: string | undefined, port: number): Promise<Socket> {
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new PortForwardDialError(`port ${port} is not a TCP port (1-65535)`)
    if (netnsPath === undefined) return dialHere(port)
    if (!netnsPath.startsWith('/') || netnsPath.includes('\0')) throw new PortForwardDialError(`the namespace path ${JSON.stringify(netnsPath)} is not absolute`)
    const helper = this.#helper(netnsPath)
    await helper.ready
    if (helper.idle) clearTimeout(helper.idle)
    helper.idle = undefined
    const id = this.#nextId++
    const socket = await new Promise<Socket>((resolve, reject) => {
      helper.pending.set(id, { resolve, reject })
      helper.child.send({ id, port }, (err) => {
        if (!err) return
        helper.pending.delete(id)
        reject(new PortForwardDialError(`the dialer in ${netnsPath} is gone: ${err.message}`))
      })
    }).finally(() => this.#maybeIdle(netnsPath, helper))
    return socket
  }

  /** Stops the namespace's helper (the pod is gone); dials in flight fail. */
  async stop(netnsPath: string): Promise<void> {
    const helper = this.#helpers.get(netnsPath)
    if (!helper) return
    this.#helpers.delete(netnsPath)
    if (helper.idle) clearTimeout(helper.idle)
    if (helper.child.exitCode === null && helper.child.signalCode === null) helper.child.kill('SIGTERM')
    await helper.exited
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.#helpers.keys()].map((p) => this.stop(p)))
  }

  #maybeIdle(netnsPath: string, helper: Helper): void {
    if (helper.pending.size > 0 || this.#helpers.get(netnsPath) !== helper) return
    if (helper.idle) clearTimeout(helper.idle)
    helper.idle = setTimeout(() => void this.stop(netnsPath), this.#idleMs)
    helper.idle.unref()
  }

  #helper(netnsPath: string): Helper {
    const existing = this.#helpers.get(netnsPath)
    if (existing) return existing
    const child = spawn('nsenter', [`--net=${netnsPath}`, '--', process.execPath, '--disable-warning=ExperimentalWarning', MAIN], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] })
    const helper: Helper = { child, pending: new Map(), idle: undefined, stderr: '', ready: undefined!, exited: undefined! }
    child.stderr!.setEncoding('utf8').on('data', (s: string) => {
      if (helper.stderr.length < 4096) helper.stderr += s
    })
    const gone = (why: string) => {
      const err = new PortForwardDialError(`the dialer in ${netnsPath} ${why}${helper.stderr.trim() ? `: ${helper.stderr.trim().slice(0, 500)}` : ''}`)
      for (const p of helper.pending.values()) p.reject(err)
      helper.pending.clear()
      if (this.#helpers.get(netnsPath) === helper) this.#helpers.delete(netnsPath)
      if (helper.idle) clearTimeout(helper.idle)
      return err
    }
    helper.exited = new Promise<void>((resolve) => child.once('close', () => resolve()))
    helper.ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(gone(`did not start within ${this.#startTimeoutMs} ms`))
        child.kill('SIGKILL')
      }, this.#startTimeoutMs)
      child.on('message', (msg: unknown, handle: unknown) => {
        const m = msg as (DialReply & { ready?: undefined }) | { ready: true }
        if ('ready' in m && m.ready) {
          clearTimeout(timer)
          resolve()
          return
        }
        const reply = m as DialReply
        const waiter = helper.pending.get(reply.id)
        if (!waiter) {
          if (handle instanceof Socket) handle.destroy()
          return
        }
        helper.pending.delete(reply.id)
        if (reply.ok && handle instanceof Socket) {
          // Half-close both ways: a peer that shuts its side down still reads the answer.
          handle.allowHalfOpen = true
          handle.setNoDelay(true)
          waiter.resolve(handle)
        } else waiter.reject(new PortForwardDialError(reply.ok ? 'the dialer answered without a socket' : reply.error))
      })
      child.once('error', (err) => {
        clearTimeout(timer)
        reject(gone(`could not start (${err.message})`))
      })
      child.once('exit', (code, signal) => {
        clearTimeout(timer)
        reject(gone(`exited (${signal ? `signal ${signal}` : `code ${code}`})`))
      })
    })
    helper.ready.catch(() => undefined)
    this.#helpers.set(netnsPath, helper)
    return helper
  }
}

function dialHere(port: number): Promise<Socket> {
  const attempt = (host: string) =>
    new Promise<Socket>((resolve, reject) => {
      const s = connect({ host, port, noDelay: true, allowHalfOpen: true })
      s.pause()
      s.once('connect', () => {
        s.removeAllListeners('error')
        resolve(s)
      })
      s.once('error', reject)
    })
  return attempt('127.0.0.1').catch((v4: unknown) =>
    attempt('::1').catch((v6: unknown) => {
      throw new PortForwardDialError(`IPv4: ${goDialError('tcp4', `127.0.0.1:${port}`, v4)} IPv6 ${goDialError('tcp6', `[::1]:${port}`, v6)}`)
    }),
  )
}
