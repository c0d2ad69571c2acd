// A remote-command channel client for tests (what kubectl's WebSocket executor does):
// connects, sends stdin / resizes / v5 close, and collects each channel until the close.
import type { IncomingMessage } from 'node:http'
import { connect } from 'node:tls'
import { WebSocket, type ClientOptions } from 'ws'

export interface ChannelResult {
  protocol: string
  stdout: string
  stderr: string
  /** The error channel's text (a Status JSON, or ''). */
  error: string
  closeCode: number
  /** The first message's channel (the server's "ready" signal) and its length. */
  first?: { channel: number; length: number }
}

export interface ChannelClient {
  ws: WebSocket
  stdin(data: string | Buffer): void
  closeStdin(): void
  resize(width: number, height: number): void
  /** Resolves once output arrives that matches. */
  waitFor(re: RegExp): Promise<string>
  done: Promise<ChannelResult>
}

export class UpgradeRefused extends Error {
  readonly status: number
  readonly body: string
  constructor(status: number, body: string) {
    super(`${status} ${body}`)
    this.status = status
    this.body = body
  }
}

/** Opens the stream (over TLS on `socketPath` when given); rejects with UpgradeRefused for a non-101 answer. */
export function openChannels(url: string, options: ClientOptions & { socketPath?: string }, protocols: string[] = ['v5.channel.k8s.io', 'v4.channel.k8s.io']): Promise<ChannelClient> {
  const { socketPath, ...rest } = options
  const viaSocket = socketPath === undefined ? {} : { createConnection: () => connect({ path: socketPath, ca: rest.ca, cert: rest.cert, key: rest.key, servername: rest.servername }) }
  const ws = new WebSocket(url, protocols, { perMessageDeflate: false, ...rest, ...viaSocket })
  const chunks: Record<number, Buffer[]> = { 1: [], 2: [], 3: [] }
  let first: ChannelResult['first']
  const waiters: Array<{ re: RegExp; resolve: (s: string) => void }> = []
  const text = (ch: number) => Buffer.concat(chunks[ch] ?? []).toString()
  ws.on('message', (data) => {
    const b = data as Buffer
    if (first === undefined) first = { channel: b[0]!, length: b.length - 1 }
    ;(chunks[b[0]!] ??= []).push(b.subarray(1))
    for (const w of [...waiters]) {
      if (w.re.test(text(1) + text(2))) {
        waiters.splice(waiters.indexOf(w), 1)
        w.resolve(text(1) + text(2))
      }
    }
  })
  const done = new Promise<ChannelResult>((resolve) => ws.on('close', (closeCode) => resolve({ protocol: ws.protocol, stdout: text(1), stderr: text(2), error: text(3), closeCode, first })))
  return new Promise((resolve, reject) => {
    ws.once('unexpected-response', (_req, res: IncomingMessage) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => (body += c))
      res.on('end', () => reject(new UpgradeRefused(res.statusCode ?? 0, body)))
    })
    ws.once('error', reject)
    ws.once('open', () =>
      resolve({
        ws,
        stdin: (data) => ws.send(Buffer.concat([Buffer.from([0]), Buffer.from(data)])),
        closeStdin: () => ws.send(Buffer.from([255, 0])),
        resize: (width, height) => ws.send(Buffer.concat([Buffer.from([4]), Buffer.from(JSON.stringify({ Width: width, Height: height }))])),
        waitFor: (re) => new Promise((r) => (re.test(text(1) + text(2)) ? r(text(1) + text(2)) : waiters.push({ re, resolve: r }))),
        done,
      }),
    )
  })
}
