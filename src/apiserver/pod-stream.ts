// `pods/exec`, `pods/attach` and `pods/portforward`: the API server checks the request
// against the pod (upstream's streamLocation: the container, defaulted to the only one or
// the kubectl.kubernetes.io/default-container one; a node assigned), then tunnels the
// upgrade to the pod's kubelet (`/exec/NS/POD/CONTAINER?…`, `/attach/…`,
// `/portForward/NS/POD?port=…`) over the kubelet client TLS and pipes the two sockets. The
// kubelet's answer passes through as it is: a 101 with its Sec-WebSocket-Protocol choice,
// or its refusal (401, 403, 404, …) with its body, as kube-apiserver's upgrade-aware proxy
// passes them.
import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import { connect, type TLSSocket } from 'node:tls'
import type { V1Pod } from '@kubernetes/client-node'
import { parseGoBool } from '../util/go-bool.ts'
import { ApiError } from '../util/errors.ts'
import { kubeletAddress, kubeletConnectOptions, type KubeletClientTls } from './kubelet-client.ts'
import type { V1Node } from '@kubernetes/client-node'

export type StreamSubresource = 'exec' | 'attach' | 'portforward'

export function isStreamSubresource(sub: string | undefined): sub is StreamSubresource {
  return sub === 'exec' || sub === 'attach' || sub === 'portforward'
}

const DEFAULT_CONTAINER_ANNOTATION = 'kubectl.kubernetes.io/default-container'

function badRequest(message: string): ApiError {
  return new ApiError(400, 'BadRequest', message)
}

/** A boolean option as the parameter codec reads it (Go's ParseBool; absent is false). */
function boolOption(query: URLSearchParams, name: string): boolean {
  const v = query.get(name)
  if (v === null || v === '') return false
  const parsed = parseGoBool(v)
  if (parsed === undefined) throw badRequest(`${name}: Invalid value: ${JSON.stringify(v.slice(0, 64))}: must be a boolean`)
  return parsed
}

/** The container a stream is for (upstream's validateContainer, plus kubectl's default-container annotation). */
export function streamContainer(pod: V1Pod, requested: string): string {
  const name = pod.metadata?.name ?? ''
  const containers = pod.spec?.containers ?? []
  const all = [...containers, ...(pod.spec?.initContainers ?? []), ...(pod.spec?.ephemeralContainers ?? [])].map((c) => c.name)
  if (requested) {
    if (!all.includes(requested)) throw badRequest(`container ${requested} is not valid for pod ${name}`)
    return requested
  }
  const annotated = pod.metadata?.annotations?.[DEFAULT_CONTAINER_ANNOTATION]
  if (annotated && all.includes(annotated)) return annotated
  if (containers.length === 1) return containers[0]!.name
  if (containers.length === 0) throw badRequest(`a container name must be specified for pod ${name}`)
  const inits = (pod.spec?.initContainers ?? []).map((c) => c.name)
  throw badRequest(`a container name must be specified for pod ${name}, choose one of: [${containers.map((c) => c.name).join(' ')}]${inits.length ? ` or one of the init containers: [${inits.join(' ')}]` : ''}`)
}

/** The kubelet path and query of a stream request (upstream's ExecLocation, AttachLocation, PortForwardLocation). */
export function kubeletStreamPath(pod: V1Pod, sub: StreamSubresource, query: URLSearchParams): string {
  const name = pod.metadata?.name ?? ''
  const ns = encodeURIComponent(pod.metadata?.namespace ?? '')
  const phase = pod.status?.phase
  if (sub !== 'portforward' && (phase === 'Succeeded' || phase === 'Failed')) {
    throw badRequest(`cannot ${sub === 'exec' ? 'exec into' : 'attach to'} a container in a completed pod; current phase is ${phase}`)
  }
  const params = new URLSearchParams()
  let path: string
  if (sub === 'portforward') {
    for (const p of query.getAll('ports')) {
      if (!/^\d{1,5}$/.test(p) || Number(p) < 1 || Number(p) > 65535) throw badRequest(`ports: Invalid value: ${JSON.stringify(p.slice(0, 20))}: must be a port number from 1 to 65535`)
      params.append('port', p)
    }
    path = `/portForward/${ns}/${encodeURIComponent(name)}`
  } else {
    const container = streamContainer(pod, query.get('container') ?? '')
    for (const flag of ['stdin', 'stdout', 'stderr', 'tty']) if (boolOption(query, flag)) params.set(flag, '1')
    if (sub === 'exec') {
      const command = query.getAll('command')
      if (command.length === 0) throw badRequest('you must specify at least one command for the container')
      for (const c of command) params.append('command', c)
    }
    path = `/${sub}/${ns}/${encodeURIComponent(name)}/${encodeURIComponent(container)}`
  }
  if (!pod.spec?.nodeName) throw badRequest(`pod ${name} does not have a host assigned`)
  const q = params.toString()
  return q ? `${path}?${q}` : path
}

/** Request headers the kubelet gets: the upgrade's own, never the caller's credentials. */
const passedHeaders = ['upgrade', 'sec-websocket-key', 'sec-websocket-version', 'sec-websocket-protocol', 'sec-websocket-extensions', 'x-stream-protocol-version', 'user-agent']

const MAX_HEAD = 16 * 1024
const MAX_REFUSAL_BODY = 64 * 1024
const CONNECT_TIMEOUT_MS = 30_000

export interface StreamProxyOptions {
  socketDir: string | undefined
  tls: KubeletClientTls
}

function kubeletSocket(node: V1Node | undefined, nodeName: string, o: StreamProxyOptions): TLSSocket {
  // A node not (yet) registered still has its socket under its name.
  const address = kubeletAddress(node ?? { metadata: { name: nodeName } }, o.socketDir)
  const tls = kubeletConnectOptions(o.tls)
  if ('socketPath' in address) return connect({ ...tls, path: address.socketPath, servername: nodeName })
  const u = new URL(address.url)
  const host = u.hostname.replace(/^\[|\]$/g, '')
  return connect({ ...tls, host, port: Number(u.port) })
}

/** Reads the kubelet's response head; resolves with it and the bytes after it. */
function readHead(upstream: TLSSocket): Promise<{ status: number; head: Buffer; rest: Buffer; headers: Map<string, string> }> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0)
    const onData = (chunk: Buffer): void => {
      buf = Buffer.concat([buf, chunk])
      const end = buf.indexOf('\r\n\r\n')
      if (end < 0) {
        if (buf.length > MAX_HEAD) fail(new Error(`the kubelet's response head is longer than ${MAX_HEAD} bytes`))
        return
      }
      upstream.off('data', onData).off('error', fail).off('close', closed)
      upstream.pause()
      const text = buf.subarray(0, end).toString('latin1')
      const lines = text.split('\r\n')
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0]!)
      if (!m) return reject(new Error(`the kubelet answered ${JSON.stringify(lines[0]!.slice(0, 80))}`))
      const headers = new Map<string, string>()
      for (const line of lines.slice(1)) {
        const i = line.indexOf(':')
        if (i > 0) headers.set(line.slice(0, i).trim().toLowerCase(), line.slice(i + 1).trim())
      }
      resolve({ status: Number(m[1]), head: buf.subarray(0, end + 4), rest: buf.subarray(end + 4), headers })
    }
    const fail = (err: Error): void => {
      upstream.off('data', onData)
      reject(err)
    }
    const closed = (): void => fail(new Error('the kubelet closed the connection without answering'))
    upstream.on('data', onData).once('error', fail).once('close', closed)
  })
}

/** The body of a refusal: by Content-Length, else until the kubelet closes (bounded). */
function readRefusalBody(upstream: TLSSocket, rest: Buffer, length: number | undefined): Promise<Buffer> {
  return new Promise((resolve) => {
    let body = rest
    const limit = Math.min(length ?? MAX_REFUSAL_BODY, MAX_REFUSAL_BODY)
    const done = (): void => {
      upstream.destroy()
      resolve(body.subarray(0, limit))
    }
    if (body.length >= limit) return done()
    upstream.on('data', (c: Buffer) => {
      body = Buffer.concat([body, c])
      if (body.length >= limit) done()
    })
    upstream.once('end', done).once('close', done).once('error', done)
    upstream.resume()
    setTimeout(done, 10_000).unref()
  })
}

function refusal(status: number, contentType: string, body: Buffer): string {
  return `HTTP/1.1 ${status} ${status === 400 ? 'Bad Request' : status === 401 ? 'Unauthorized' : status === 403 ? 'Forbidden' : status === 404 ? 'Not Found' : 'Error'}\r\ncontent-type: ${contentType}\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n`
}

/**
 * Tunnels an authorized upgrade request to the kubelet. Errors before the kubelet answers
 * are thrown (as ApiError, for the caller to answer); after that, this function answers.
 */
export async function proxyPodStream(req: IncomingMessage, socket: Duplex, head: Buffer, pod: V1Pod, node: V1Node | undefined, sub: StreamSubresource, query: URLSearchParams, o: StreamProxyOptions): Promise<void> {
  const path = kubeletStreamPath(pod, sub, query)
  const nodeName = pod.spec!.nodeName!
  const upstream = kubeletSocket(node, nodeName, o)
  upstream.setTimeout(CONNECT_TIMEOUT_MS, () => upstream.destroy(new Error(`no answer within ${CONNECT_TIMEOUT_MS / 1000} s`)))
  const lines = [`${req.method} ${path} HTTP/1.1`, `host: ${nodeName}`, 'connection: Upgrade']
  for (const h of passedHeaders) {
    const v = req.headers[h]
    if (v !== undefined) lines.push(`${h}: ${Array.isArray(v) ? v.join(', ') : v}`)
  }
  upstream.write(`${lines.join('\r\n')}\r\n\r\n`)
  if (head.length) upstream.write(head)
  const closeUpstream = (): void => void upstream.destroy()
  socket.once('close', closeUpstream)
  let answer: Awaited<ReturnType<typeof readHead>>
  try {
    answer = await readHead(upstream)
  } catch (err) {
    upstream.destroy()
    socket.off('close', closeUpstream)
    throw new ApiError(500, 'InternalError', `error dialing backend: ${(err as Error).message}`)
  }
  upstream.setTimeout(0)
  if (answer.status !== 101) {
    const length = Number(answer.headers.get('content-length'))
    const body = await readRefusalBody(upstream, answer.rest, Number.isFinite(length) ? length : undefined)
    socket.end(refusal(answer.status, answer.headers.get('content-type') ?? 'text/plain; charset=utf-8', body) + body.toString('latin1'), 'latin1')
    return
  }
  // Switched: the kubelet's head (its Sec-WebSocket-Accept and protocol) goes back as it is.
  socket.write(answer.head)
  if (answer.rest.length) socket.write(answer.rest)
  upstream.on('error', () => socket.destroy())
  socket.on('error', () => upstream.destroy())
  upstream.pipe(socket)
  socket.pipe(upstream)
  upstream.resume()
  await new Promise<void>((resolve) => {
    if (socket.destroyed) return resolve()
    socket.once('close', () => resolve())
  })
}
