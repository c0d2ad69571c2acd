// The kubelet's exec and attach streams: an authorized upgrade request is checked (path and
// flags, the container, WebSocket with a channel protocol, the stream limit), upgraded, and
// served as one session: exec runs the command and reports its exit code on the error
// channel; attach joins the container's stdio until it ends or the caller leaves.
import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import { WebSocketServer, type WebSocket } from 'ws'
import { rejectUpgrade } from '../../util/http-upgrade.ts'
import { negotiateProtocol, STDERR, STDOUT, SUPPORTED_PROTOCOLS, exitCodeStatus, failureStatus, successStatus, type ChannelProtocol } from './channels.ts'
import { ChannelConnection } from './connection.ts'
import { shellQuote } from '../runtime/launcher.ts'
import { startExec } from './exec.ts'
import { parseStreamRequest, type StreamRequest } from './request.ts'
import { StreamRequestError, type AttachSession, type StreamingRuntime } from './types.ts'

export interface StreamingLimits {
  /** A session with no data either way for this long is closed (the kubelet's streamingConnectionIdleTimeout, 4 h). */
  idleTimeoutMs: number
  /** Sessions open at once on this kubelet; more are answered 429. */
  maxStreams: number
  /** The largest WebSocket message a client may send. */
  maxMessageBytes: number
}

export const defaultStreamingLimits: StreamingLimits = { idleTimeoutMs: 4 * 60 * 60 * 1000, maxStreams: 64, maxMessageBytes: 1024 * 1024 }

/** Writes a plain-text HTTP answer on a socket whose request was not upgraded, and closes it. */
function isWebSocketUpgrade(req: IncomingMessage): boolean {
  return String(req.headers.upgrade ?? '').toLowerCase() === 'websocket' && /(^|,)\s*upgrade\s*(,|$)/i.test(String(req.headers.connection ?? ''))
}

type Prepared = { kind: 'exec'; file: string; args: string[] } | { kind: 'attach'; session: AttachSession }

export class StreamingServer {
  readonly #runtime: StreamingRuntime
  readonly #limits: StreamingLimits
  readonly #env: NodeJS.ProcessEnv
  readonly #wss: WebSocketServer
  readonly #sessions = new Set<ChannelConnection>()
  #inUse = 0

  /** env: the environment exec command lines are spawned with (`{ PATH: SYSTEM_PATH }` for the runtime's). */
  constructor(runtime: StreamingRuntime, env: NodeJS.ProcessEnv, limits: Partial<StreamingLimits> = {}) {
    this.#runtime = runtime
    this.#env = env
    this.#limits = { ...defaultStreamingLimits, ...limits }
    this.#wss = new WebSocketServer({ noServer: true, clientTracking: false, perMessageDeflate: false, maxPayload: this.#limits.maxMessageBytes })
  }

  /** Sessions open now. */
  get active(): number {
    return this.#sessions.size
  }

  /** Whether a path is one this server answers. */
  static handles(pathname: string): boolean {
    return pathname.startsWith('/exec/') || pathname.startsWith('/attach/')
  }

  /** Serves an upgrade request the kubelet has authenticated and authorized. */
  async handle(req: IncomingMessage, socket: Duplex, head: Buffer, url: URL): Promise<void> {
    // Counted from the start to the end, so a burst of requests cannot pass the limit while each is being checked.
    this.#inUse++
    try {
      const accepted = await this.#accept(req, socket, head, url)
      if (!accepted) return
      const { ws, protocol, request, prepared } = accepted
      if (prepared.kind === 'exec') await this.#serveExec(ws, protocol, request, prepared.file, prepared.args)
      else await this.#serveAttach(ws, protocol, request, prepared.session)
    } finally {
      this.#inUse--
    }
  }

  /** Checks the request and upgrades it; answers the refusal itself (and returns undefined). */
  async #accept(req: IncomingMessage, socket: Duplex, head: Buffer, url: URL): Promise<{ ws: WebSocket; protocol: ChannelProtocol; request: StreamRequest; prepared: Prepared } | undefined> {
    let prepared: Prepared | undefined
    try {
      const request = parseStreamRequest(url.pathname, url.searchParams)
      if (!request) throw new StreamRequestError(400, `${url.pathname.slice(0, 100)} is not an exec or attach path`)
      if (this.#inUse > this.#limits.maxStreams) throw new StreamRequestError(429, `this kubelet serves at most ${this.#limits.maxStreams} streams at once; try again later`)
      prepared = request.kind === 'exec' ? { kind: 'exec', ...(await this.#execLine(request)) } : { kind: 'attach', session: await this.#runtime.attach(request.target, request.flags) }
      if (!isWebSocketUpgrade(req)) {
        throw new StreamRequestError(400, `weft's kubelet streams ${request.kind} over WebSocket only (${SUPPORTED_PROTOCOLS.join(', ')}); ${req.headers.upgrade ? `${String(req.headers.upgrade).slice(0, 40)} is` : 'a plain request is'} not supported`)
      }
      const protocol = negotiateProtocol(req.headers['sec-websocket-protocol'])
      if (!protocol) throw new StreamRequestError(400, `requested protocol(s) are not supported: [${String(req.headers['sec-websocket-protocol'] ?? '').slice(0, 200)}]; supports [${SUPPORTED_PROTOCOLS.join(' ')}]`)
      if (socket.destroyed) throw new StreamRequestError(400, 'the caller went away')
      const ws = await new Promise<WebSocket | undefined>((resolve) => {
        // ws answers a malformed handshake (version, key) itself and destroys the socket.
        const gone = (): void => resolve(undefined)
        socket.once('close', gone)
        this.#wss.handleUpgrade(req, socket, head, (ws) => {
          socket.off('close', gone)
          resolve(ws)
        })
      })
      if (!ws) {
        if (prepared.kind === 'attach') prepared.session.close()
        return undefined
      }
      return { ws, protocol, request, prepared }
    } catch (err) {
      if (prepared?.kind === 'attach') prepared.session.close()
      if (err instanceof StreamRequestError) rejectUpgrade(socket, err.status, err.message, err.status === 429 ? { 'retry-after': '1' } : {})
      else rejectUpgrade(socket, 500, err instanceof Error ? err.message : String(err))
      return undefined
    }
  }

  async #execLine(request: StreamRequest): Promise<{ file: string; args: string[] }> {
    // A terminal comes from inside the container (script(1) on the container's own devpts),
    // so the command's tty is one its /dev knows.
    const argv = request.flags.tty ? ['script', '-q', '-e', '-E', 'always', '-c', `exec ${shellQuote(request.command)}`, '/dev/null'] : request.command
    const [file, args] = await this.#runtime.execCommand(request.target, argv)
    return { file, args }
  }

  #track(conn: ChannelConnection): void {
    this.#sessions.add(conn)
    conn.closed.then(() => this.#sessions.delete(conn))
  }

  async #serveExec(ws: WebSocket, protocol: ChannelProtocol, request: StreamRequest, file: string, args: string[]): Promise<void> {
    const proc = startExec(file, args, request.flags, this.#env)
    const conn = new ChannelConnection(ws, protocol, { stdin: proc.child.stdin ?? undefined, resize: (size) => proc.resize(size), idleTimeoutMs: this.#limits.idleTimeoutMs })
    this.#track(conn)
    // The client leaving ends the command (as container runtimes end an exec whose stream is gone).
    conn.closed.then(() => proc.kill())
    // An empty message on the first output channel tells the client the streams are ready (upstream does the same).
    await conn.send(request.flags.stdout || request.flags.tty ? STDOUT : request.flags.stderr ? STDERR : 3)
    const copies = [proc.child.stdout && conn.pipe(STDOUT, proc.child.stdout), proc.child.stderr && conn.pipe(STDERR, proc.child.stderr)]
    let status: Record<string, unknown>
    try {
      const code = await proc.exit
      status = code === 0 ? successStatus() : exitCodeStatus(code)
    } catch (err) {
      status = failureStatus(`error executing command in container: ${(err as Error).message}`)
    }
    await Promise.all(copies)
    await conn.finish(status)
    await conn.closed
  }

  async #serveAttach(ws: WebSocket, protocol: ChannelProtocol, request: StreamRequest, session: AttachSession): Promise<void> {
    const conn = new ChannelConnection(ws, protocol, { stdin: session.stdin, resize: (size) => session.resize?.(size.width, size.height), idleTimeoutMs: this.#limits.idleTimeoutMs })
    this.#track(conn)
    conn.closed.then(() => session.close())
    await conn.send(request.flags.stdout || request.flags.tty ? STDOUT : request.flags.stderr ? STDERR : 3)
    const copies = [request.flags.stdout || request.flags.tty ? conn.pipe(STDOUT, session.output) : undefined, session.stderr && request.flags.stderr ? conn.pipe(STDERR, session.stderr) : undefined].filter((c) => c !== undefined)
    // The output ends when the attachment does (the container exited), or when the client leaves.
    // With stdin alone there is nothing to copy out: the session lasts as long as either.
    if (copies.length > 0) await Promise.all(copies)
    else {
      session.output.resume()
      await Promise.race([session.done, conn.closed])
    }
    session.close()
    await conn.finish(successStatus())
    await conn.closed
  }

  /** Ends every open session (the kubelet API is shutting down). */
  close(): void {
    for (const conn of this.#sessions) conn.abort(1001, 'the kubelet is shutting down')
  }
}
