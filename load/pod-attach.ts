// Writing to a running container's stdin through the API: pods/NAME/attach over a WebSocket
// (v5.channel.k8s.io, else v4; channel 0 is stdin), with the same credentials and TLS as the
// REST client. Only stdin is asked for: what the pod prints is read from its log.
import { connect as netConnect } from 'node:net'
import { connect as tlsConnect } from 'node:tls'
import { WebSocket, type ClientOptions } from 'ws'
import { TokenSource } from '../src/client/credentials.ts'
import type { ServerAddress } from '../src/client/rest-client.ts'

const channelProtocols = ['v5.channel.k8s.io', 'v4.channel.k8s.io']
const stdinChannel = 0
const handshakeTimeoutMs = 15_000
/** The kubelet's first (empty) message says the streams are wired. */
const readyTimeoutMs = 15_000
const maxRefusalBody = 4096

export interface PodStdin {
  /** Sends text to the container's stdin; resolves once it is handed to the socket. */
  write(text: string): Promise<void>
  /** Ends the session (the container keeps running). */
  close(): void
  /** Settles when the session has ended, for whatever reason. */
  readonly closed: Promise<void>
}

function streamUrl(address: ServerAddress, path: string): string {
  if ('socketPath' in address) return `${address.credentials ? 'wss' : 'ws'}://localhost${path}`
  const base = address.server.replace(/\/+$/, '')
  return `${base.replace(/^http/, 'ws')}${path}`
}

function socketOptions(address: ServerAddress): ClientOptions {
  const c = address.credentials ?? {}
  const token = new TokenSource(c).token()
  const tls = { ca: c.caPem, cert: c.certPem, key: c.keyPem, ...(c.serverName ? { servername: c.serverName } : {}), rejectUnauthorized: !c.insecureSkipTlsVerify }
  const options: ClientOptions = { perMessageDeflate: false, handshakeTimeout: handshakeTimeoutMs, maxPayload: 1024 * 1024, headers: { 'user-agent': 'weft-load', ...(token ? { authorization: `Bearer ${token}` } : {}) }, ...tls }
  if ('socketPath' in address) {
    const path = address.socketPath
    options.createConnection = address.credentials ? () => tlsConnect({ path, ...tls, servername: c.serverName ?? 'localhost' }) : () => netConnect({ path })
  }
  return options
}

/** Attaches to `container` of pod `namespace/name` for its stdin. */
export function attachStdin(address: ServerAddress, namespace: string, name: string, container: string): Promise<PodStdin> {
  const query = new URLSearchParams({ container, stdin: 'true', stdout: 'false', stderr: 'false' })
  const path = `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(name)}/attach?${query}`
  const ws = new WebSocket(streamUrl(address, path), channelProtocols, socketOptions(address))
  const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()))
  return new Promise((resolve, reject) => {
    let settled = false
    const fail = (err: Error): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      ws.terminate()
      reject(err)
    }
    const timer = setTimeout(() => fail(new Error(`attach to pod ${namespace}/${name}: no answer from its kubelet within ${readyTimeoutMs / 1000} s`)), handshakeTimeoutMs + readyTimeoutMs)
    ws.once('unexpected-response', (_req, res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => {
        if (body.length < maxRefusalBody) body += chunk
      })
      res.on('end', () => fail(new Error(`attach to pod ${namespace}/${name}: the API answered ${res.statusCode}: ${refusalMessage(body)}`)))
      res.on('error', () => fail(new Error(`attach to pod ${namespace}/${name}: the API answered ${res.statusCode}`)))
    })
    ws.on('error', (err) => fail(new Error(`attach to pod ${namespace}/${name}: ${err.message}`)))
    ws.once('close', () => fail(new Error(`attach to pod ${namespace}/${name}: the stream closed before it was ready`)))
    // The kubelet's first (empty) message says the streams are wired.
    ws.on('message', () => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      resolve({
        write: (text) =>
          new Promise((done, failWrite) => {
            if (ws.readyState !== WebSocket.OPEN) return failWrite(new Error(`attach to pod ${namespace}/${name}: the stream is closed`))
            ws.send(Buffer.concat([Buffer.from([stdinChannel]), Buffer.from(text)]), { binary: true }, (err) => (err ? failWrite(err) : done()))
          }),
        close: () => {
          if (ws.readyState === WebSocket.OPEN) ws.close(1000)
          else ws.terminate()
          setTimeout(() => ws.terminate(), 2000).unref()
        },
        closed,
      })
    })
  })
}

function refusalMessage(body: string): string {
  try {
    const status = JSON.parse(body) as { message?: unknown }
    if (typeof status.message === 'string') return status.message.slice(0, 500)
  } catch {}
  return body.trim().slice(0, 500) || '(no message)'
}
