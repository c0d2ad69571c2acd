// The server side of portforward.k8s.io over a SPDY session, as upstream's kubelet
// (cri/streaming/portforward/httpstream.go) and client-go tools/portforward speak it: per
// forwarded connection the client opens an error stream and a data stream (headers
// `streamtype`, `port`, `requestid`); once both are there the server connects to the port
// in the pod and pipes the data stream to it. A failed connect is written to the error
// stream. Half-close: the client's FIN shuts the pod socket's write side; the pod's FIN
// ends the data stream, then the error stream (kubectl waits for both).
import type { Duplex } from 'node:stream'
import { RstStatus } from './spdy-frames.ts'
import { headerValue } from './spdy-headers.ts'
import type { SpdyStream } from './spdy-session.ts'

export const PORT_FORWARD_PROTOCOL = 'portforward.k8s.io'

/** Connects to a port of the pod; rejects with an Error whose message the error stream shows. */
export type PortDialer = (port: number) => Promise<Duplex>

export interface PortForwardHandlerOptions {
  dial: PortDialer
  /** How the pod is named in error messages (upstream: the sandbox id). */
  podRef: string
  uid?: string
  /** How long a request may wait for its second stream (the kubelet's default is 30 s). */
  streamCreationTimeoutMs?: number
}

interface Pair {
  requestId: string
  error?: SpdyStream
  data?: SpdyStream
  timer: NodeJS.Timeout
}

/** The stream's port, or why it is refused (upstream's httpStreamReceived checks). */
export function streamPort(stream: SpdyStream): number | string {
  const raw = headerValue(stream.headers, 'port')
  if (!raw) return '"port" header is required'
  if (!/^\d{1,5}$/.test(raw) || Number(raw) > 65535) return `unable to parse ${JSON.stringify(raw.slice(0, 32))} as a port`
  if (Number(raw) < 1) return `port ${JSON.stringify(raw)} must be > 0`
  return Number(raw)
}

export class PortForwardHandler {
  readonly #opts: Required<Omit<PortForwardHandlerOptions, 'uid'>> & { uid: string }
  readonly #pairs = new Map<string, Pair>()
  /** Forwarded connections open now. */
  active = 0

  constructor(opts: PortForwardHandlerOptions) {
    this.#opts = { streamCreationTimeoutMs: 30_000, uid: '', ...opts }
  }

  /** For SpdySession's onStream. */
  readonly onStream = (stream: SpdyStream): void => {
    stream.on('error', () => undefined)
    const port = streamPort(stream)
    const type = headerValue(stream.headers, 'streamtype')
    if (typeof port === 'string' || (type !== 'error' && type !== 'data')) {
      stream.reset(RstStatus.CANCEL)
      return
    }
    stream.reply()
    const requestId = headerValue(stream.headers, 'requestid') || String(type === 'error' ? stream.id : stream.id - 2)
    let pair = this.#pairs.get(requestId)
    if (!pair) {
      const created: Pair = {
        requestId,
        timer: setTimeout(() => {
          this.#pairs.delete(requestId)
          created.error?.end(`timed out waiting for streams of request ${requestId}`)
          created.data?.end()
        }, this.#opts.streamCreationTimeoutMs).unref(),
      }
      pair = created
      this.#pairs.set(requestId, pair)
    }
    if (pair[type]) {
      pair.error?.write(`error processing stream for request ${requestId}: ${type} stream already assigned`)
      stream.reset(RstStatus.CANCEL)
      return
    }
    pair[type] = stream
    if (pair.error && pair.data) {
      clearTimeout(pair.timer)
      this.#pairs.delete(requestId)
      void this.#forward(pair.error, pair.data, port)
    }
  }

  /** Ends requests still waiting for their second stream (the session is going). */
  close(): void {
    for (const p of this.#pairs.values()) clearTimeout(p.timer)
    this.#pairs.clear()
  }

  #message(port: number, err: unknown): string {
    return `error forwarding port ${port} to pod ${this.#opts.podRef}, uid ${this.#opts.uid}: ${err instanceof Error ? err.message : String(err)}`
  }

  async #forward(errorStream: SpdyStream, data: SpdyStream, port: number): Promise<void> {
    // The client never writes on the error stream; whatever it sends is dropped.
    errorStream.resume()
    let pod: Duplex
    try {
      pod = await this.#opts.dial(port)
    } catch (err) {
      errorStream.end(this.#message(port, err))
      data.end()
      return
    }
    if (data.destroyed) {
      pod.destroy()
      errorStream.end()
      return
    }
    this.active++
    let finished = false
    const finish = (err?: unknown) => {
      if (finished) return
      finished = true
      this.active--
      if (err) errorStream.end(this.#message(port, err))
      else errorStream.end()
    }
    pod.on('error', (err) => {
      data.end()
      finish(err)
      pod.destroy()
    })
    // The pod's FIN: the data stream's FIN, then the error stream's.
    pod.on('end', () => {
      data.end()
      finish()
    })
    pod.on('close', () => {
      if (!data.writableEnded) data.end()
      finish()
    })
    // The client reset the data stream (or the session went): drop the pod connection.
    data.on('close', () => {
      if (!pod.destroyed) pod.destroy()
      finish()
    })
    data.pipe(pod)
    pod.pipe(data, { end: false })
    pod.resume()
  }
}
