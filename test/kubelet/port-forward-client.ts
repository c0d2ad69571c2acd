// A minimal portforward.k8s.io client (what client-go's tools/portforward does), for tests
// and the benchmark: upgrade to plain SPDY/3.1 or to SPDY in a WebSocket, then per
// forwarded connection an error stream (closed for writing at once) and a data stream.
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls'
import type { Duplex } from 'node:stream'
import { SpdySession, type SpdyStream } from '../../src/kubelet/streaming/spdy-session.ts'
import { clientHandshake, WebSocketByteStream } from '../../src/kubelet/streaming/ws-tunnel.ts'

export interface PortForwardClientOptions {
  tls: ConnectionOptions
  path: string
  mode: 'spdy' | 'websocket'
  headers?: Record<string, string>
}

export interface ForwardedConnection {
  data: SpdyStream
  /** Everything the server wrote on the error stream ('' when all went well), once it ends. */
  error: Promise<string>
}

/** The status line and headers of an upgrade answer, and the bytes after them. */
export function readResponseHead(socket: Duplex): Promise<{ status: number; headers: Record<string, string>; body: string; rest: Buffer }> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0)
    const onData = (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk])
      const end = buf.indexOf('\r\n\r\n')
      if (end < 0) return
      socket.off('data', onData)
      socket.pause()
      const lines = buf.subarray(0, end).toString('latin1').split('\r\n')
      const status = Number(lines[0]!.split(' ')[1])
      const headers: Record<string, string> = {}
      for (const l of lines.slice(1)) {
        const i = l.indexOf(':')
        headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim()
      }
      const rest = buf.subarray(end + 4)
      if (status === 101) return resolve({ status, headers, body: '', rest })
      let body = rest.toString('utf8')
      socket.on('data', (c: Buffer) => (body += c.toString('utf8')))
      socket.on('end', () => resolve({ status, headers, body, rest: Buffer.alloc(0) }))
      socket.on('close', () => resolve({ status, headers, body, rest: Buffer.alloc(0) }))
      socket.resume()
    }
    socket.on('data', onData)
    socket.once('error', reject)
  })
}

export class UpgradeRefused extends Error {
  readonly status: number
  readonly body: string
  constructor(status: number, body: string) {
    super(`upgrade refused: ${status} ${body.trim()}`)
    this.status = status
    this.body = body
  }
}

export class PortForwardClient {
  readonly session: SpdySession
  readonly protocol: string
  #requestId = 0

  constructor(session: SpdySession, protocol: string) {
    this.session = session
    this.protocol = protocol
  }

  static async open(opts: PortForwardClientOptions): Promise<PortForwardClient> {
    const socket = tlsConnect(opts.tls)
    await new Promise<void>((resolve, reject) => socket.once('secureConnect', resolve).once('error', reject))
    const ws = opts.mode === 'websocket' ? clientHandshake(['SPDY/3.1+portforward.k8s.io']) : undefined
    const headers = ws ? ws.headers : { Connection: 'Upgrade', Upgrade: 'SPDY/3.1', 'X-Stream-Protocol-Version': 'portforward.k8s.io' }
    const all = { Host: 'kubelet', ...headers, ...opts.headers }
    socket.write(`${ws ? 'GET' : 'POST'} ${opts.path} HTTP/1.1\r\n${Object.entries(all).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`)
    const head = await readResponseHead(socket)
    if (head.status !== 101) {
      socket.destroy()
      throw new UpgradeRefused(head.status, head.body)
    }
    let io: Duplex = socket
    if (ws) {
      if (head.headers['sec-websocket-accept'] !== ws.expectedAccept) throw new Error('the server answered the wrong Sec-WebSocket-Accept')
      const stream = new WebSocketByteStream(socket, 'client')
      if (head.rest.length) stream.feed(head.rest)
      io = stream
    } else if (head.rest.length) socket.unshift(head.rest)
    socket.resume()
    return new PortForwardClient(new SpdySession(io, { role: 'client' }), ws ? head.headers['sec-websocket-protocol']! : head.headers['x-stream-protocol-version']!)
  }

  /** Opens the error then the data stream for one forwarded connection to `port`. */
  async connect(port: number, requestId = String(this.#requestId++)): Promise<ForwardedConnection> {
    const base = { port: String(port), requestid: requestId }
    const errorStream = this.session.openStream({ ...base, streamtype: 'error' })
    errorStream.on('error', () => undefined)
    errorStream.end()
    let text = ''
    errorStream.setEncoding('utf8').on('data', (s: string) => (text += s))
    const error = new Promise<string>((resolve) => {
      errorStream.once('end', () => resolve(text))
      errorStream.once('close', () => resolve(text))
    })
    await replied(errorStream)
    const data = this.session.openStream({ ...base, streamtype: 'data' })
    data.on('error', () => undefined)
    await replied(data)
    return { data, error }
  }

  close(): void {
    this.session.close()
  }
}

function replied(stream: SpdyStream): Promise<void> {
  return new Promise((resolve, reject) => {
    stream.once('reply', () => resolve())
    stream.once('reset', (status: number) => reject(new Error(`stream ${stream.id} was refused (RST_STREAM ${status})`)))
    stream.once('close', () => reject(new Error(`stream ${stream.id} closed before its reply`)))
  })
}
