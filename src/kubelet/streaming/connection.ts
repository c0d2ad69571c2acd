// One channel-protocol session over an accepted WebSocket: demultiplexes the client's
// messages (stdin with backpressure, resizes, v5 close), multiplexes output with
// backpressure, ends with the error channel's Status and a normal close, and closes an
// idle session (no data either way for idleTimeoutMs; pings do not count, as upstream).
import type { Readable, Writable } from 'node:stream'
import type { WebSocket } from 'ws'
import { ChannelProtocolError, decodeClientMessage, encodeFrame, ERROR, STDIN, type ChannelProtocol, type TerminalSize } from './channels.ts'

export interface ChannelHandlers {
  /** Where stdin goes; absent: stdin messages are dropped. Ended at the client's v5 close of channel 0 or when the connection ends. */
  stdin?: Writable
  resize?(size: TerminalSize): void
  idleTimeoutMs: number
}

/** Output waits once this much is queued on the socket. */
const HIGH_WATER = 1024 * 1024

export class ChannelConnection {
  readonly protocol: ChannelProtocol
  /** Settles when the WebSocket has closed, for whatever reason. */
  readonly closed: Promise<void>
  readonly #ws: WebSocket
  readonly #h: ChannelHandlers
  #idle: NodeJS.Timeout | undefined
  #open = true
  #stdinEnded = false
  #paused = false

  constructor(ws: WebSocket, protocol: ChannelProtocol, handlers: ChannelHandlers) {
    this.#ws = ws
    this.protocol = protocol
    this.#h = handlers
    this.closed = new Promise((resolve) => ws.once('close', () => resolve()))
    this.closed.then(() => {
      this.#open = false
      clearTimeout(this.#idle)
      this.#endStdin()
    })
    // A socket error is followed by 'close'; the listener keeps it from being thrown.
    ws.on('error', () => undefined)
    ws.on('message', (data, isBinary) => this.#receive(data, isBinary))
    handlers.stdin?.on('error', () => undefined)
    this.#touch()
  }

  get open(): boolean {
    return this.#open
  }

  #touch(): void {
    clearTimeout(this.#idle)
    if (this.#h.idleTimeoutMs > 0) this.#idle = setTimeout(() => this.abort(1000, 'idle timeout'), this.#h.idleTimeoutMs)
  }

  #endStdin(): void {
    if (this.#stdinEnded) return
    this.#stdinEnded = true
    this.#h.stdin?.end()
    // An ended stream never emits 'drain': reading must not wait for it.
    this.#resume()
  }

  #resume(): void {
    if (!this.#paused) return
    this.#paused = false
    this.#ws.resume()
  }

  #receive(data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean): void {
    if (!this.#open) return
    this.#touch()
    if (!isBinary) return this.abort(1003, 'the channel protocols take binary messages only')
    const message = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data)
    let decoded
    try {
      decoded = decodeClientMessage(this.protocol, message)
    } catch (err) {
      if (err instanceof ChannelProtocolError) return this.abort(1002, err.message.slice(0, 120))
      throw err
    }
    switch (decoded.kind) {
      case 'stdin': {
        const stdin = this.#h.stdin
        if (!stdin || this.#stdinEnded || decoded.data.length === 0) return
        if (!stdin.write(decoded.data) && !this.#paused) {
          this.#paused = true
          this.#ws.pause()
          stdin.once('drain', () => this.#resume())
        }
        return
      }
      case 'close':
        if (decoded.channel === STDIN) this.#endStdin()
        return
      case 'resize':
        this.#h.resize?.(decoded.size)
        return
      case 'ignored':
        return
    }
  }

  /** Sends one message on a channel; resolves once the socket's queue is short enough. */
  send(channel: number, data?: Uint8Array): Promise<void> {
    if (!this.#open) return Promise.resolve()
    this.#touch()
    return new Promise((resolve) => {
      this.#ws.send(encodeFrame(channel, data), { binary: true }, () => resolve())
      if (this.#ws.bufferedAmount < HIGH_WATER) resolve()
    })
  }

  /** Copies a stream onto a channel until it ends or the connection closes. */
  async pipe(channel: number, source: Readable): Promise<void> {
    const stop = (): void => void source.destroy()
    this.closed.then(stop)
    try {
      for await (const chunk of source) {
        if (!this.#open) break
        await this.send(channel, chunk as Buffer)
      }
    } catch {
      // The source failed or was destroyed: its channel just ends.
    }
  }

  /** Sends the error channel's Status, then closes normally (the client reads its streams to EOF). */
  async finish(status: Record<string, unknown>): Promise<void> {
    if (!this.#open) return
    await this.send(ERROR, Buffer.from(JSON.stringify(status)))
    this.abort(1000, '')
  }

  /** Closes the connection (with a close handshake; the socket is dropped if the peer does not answer in 5 s). */
  abort(code: number, reason: string): void {
    if (!this.#open) return
    this.#open = false
    clearTimeout(this.#idle)
    this.#endStdin()
    this.#ws.close(code, reason)
    const ws = this.#ws
    const timer = setTimeout(() => ws.terminate(), 5000)
    timer.unref()
    this.closed.then(() => clearTimeout(timer))
  }
}
