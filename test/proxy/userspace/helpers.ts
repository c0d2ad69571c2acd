// Model builders and small loopback servers/clients for the userspace proxier tests.
import { createSocket, type Socket as UdpSocket } from 'node:dgram'
import { connect, createServer, type Socket } from 'node:net'
import type { ProxyMetrics } from '../../../proxy/metrics.ts'
import { makeServicePort, type Endpoint, type Family, type ProxyState, type ServiceEntry, type ServicePort } from '../../../proxy/model.ts'
import { freePort } from '../../helpers/ports.ts'
export { freePort }

interface Teardown {
  teardown(fn: () => unknown): void
}

export function servicePort(over: Partial<ServicePort> & { clusterIP: string; port: number }): ServicePort {
  return makeServicePort({ namespace: 'default', name: 'svc', portName: '', protocol: 'TCP', ...over })
}

export function endpoint(ip: string, port: number, over: Partial<Endpoint> = {}): Endpoint {
  return { ip, port, ready: true, serving: true, terminating: false, local: true, ...over }
}

export function proxyState(entries: ServiceEntry[], family: Family = 4): ProxyState {
  return { family, serviceCIDRs: [], clusterCIDRs: [], nodeIPs: [], services: new Map(entries.map((e) => [e.port.id, e])) }
}

let nextHost = 0
/** A loopback address no other test in this process uses (127.0.0.0/8 is all local). */
export function loopbackIP(): string {
  const n = (process.pid % 200) * 256 + ++nextHost
  return `127.${(n >> 8) & 0xff}.${n & 0xff}.${10 + (process.pid % 200)}`
}

export interface TestServer {
  port: number
  name: string
  close(): Promise<void>
}

/** A TCP server on 127.0.0.1 that greets each connection with `name\n`, then echoes. */
export async function tcpServer(t: Teardown, name: string): Promise<TestServer> {
  const sockets = new Set<Socket>()
  const server = createServer((s) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
    s.on('error', () => {})
    s.write(`${name}\n`)
    s.pipe(s)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const close = async (): Promise<void> => {
    for (const s of sockets) s.destroy()
    if (server.listening) await new Promise((resolve) => server.close(resolve))
  }
  t.teardown(close)
  return { port: (server.address() as { port: number }).port, name, close }
}

/** A UDP server on 127.0.0.1 answering each datagram with `name:datagram`. */
export async function udpServer(t: Teardown, name: string): Promise<TestServer> {
  const socket = createSocket('udp4')
  socket.on('message', (msg, r) => socket.send(`${name}:${msg.toString()}`, r.port, r.address))
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve))
  let open = true
  const close = async (): Promise<void> => {
    if (!open) return
    open = false
    await new Promise<void>((resolve) => socket.close(() => resolve()))
  }
  t.teardown(close)
  return { port: socket.address().port, name, close }
}

export interface Conn {
  socket: Socket
  /** The greeting line (the upstream server's name). */
  name: string
  /** Sends `text` and resolves with what comes back as long as it. */
  echo(text: string): Promise<string>
}

/** Connects, reads the greeting; rejects with the socket error (ECONNREFUSED, ECONNRESET). */
export function open(t: Teardown, host: string, port: number, localAddress?: string): Promise<Conn> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port, localAddress })
    t.teardown(() => socket.destroy())
    socket.setEncoding('utf8')
    let buf = ''
    let waiter: { len: number; resolve: (s: string) => void } | undefined
    let greeted = false
    socket.on('error', reject)
    socket.on('close', () => reject(new Error('closed before the greeting')))
    socket.on('data', (chunk: string) => {
      buf += chunk
      if (!greeted) {
        const nl = buf.indexOf('\n')
        if (nl < 0) return
        greeted = true
        const name = buf.slice(0, nl)
        buf = buf.slice(nl + 1)
        resolve({
          socket,
          name,
          echo: (text) =>
            new Promise((res) => {
              waiter = { len: text.length, resolve: res }
              socket.write(text)
            }),
        })
      }
      if (waiter && buf.length >= waiter.len) {
        const w = waiter
        waiter = undefined
        const out = buf.slice(0, w.len)
        buf = buf.slice(w.len)
        w.resolve(out)
      }
    })
  })
}

/** The name of the server a new connection lands on; the connection is closed after. */
export async function landsOn(t: Teardown, host: string, port: number, localAddress?: string): Promise<string> {
  const c = await open(t, host, port, localAddress)
  c.socket.destroy()
  return c.name
}

/** The error code a connect ends with ('ok' when it gets a greeting). */
export async function connectOutcome(t: Teardown, host: string, port: number): Promise<string> {
  try {
    await landsOn(t, host, port)
    return 'ok'
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? (err as Error).message
  }
}

/** A UDP client connected to host:port; `ask` sends and awaits one reply (or 'timeout'). */
export async function udpClient(t: Teardown, host: string, port: number): Promise<{ socket: UdpSocket; ask(text: string, ms?: number): Promise<{ text: string; from: string }> }> {
  const socket = createSocket('udp4')
  t.teardown(() => {
    try {
      socket.close()
    } catch {
      // closed
    }
  })
  socket.on('error', () => {})
  await new Promise<void>((resolve) => socket.connect(port, host, () => resolve()))
  return {
    socket,
    ask: (text, ms = 2000) =>
      new Promise((resolve) => {
        const done = (text: string, from = ''): void => {
          clearTimeout(timer)
          socket.removeListener('message', onMessage)
          socket.removeListener('error', onError)
          resolve({ text, from })
        }
        const timer = setTimeout(() => done('timeout'), ms)
        const onMessage = (msg: Buffer, r: { address: string; port: number }): void => done(msg.toString(), `${r.address}:${r.port}`)
        const onError = (err: NodeJS.ErrnoException): void => done(err.code ?? err.message)
        socket.once('message', onMessage)
        socket.once('error', onError)
        socket.send(text)
      }),
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** Waits until `check` holds (polling up to `ms`); resolves with its last value. */
export async function eventually<T>(read: () => T, check: (v: T) => boolean, ms = 3000): Promise<T> {
  const end = Date.now() + ms
  let v = read()
  while (!check(v) && Date.now() < end) {
    await sleep(20)
    v = read()
  }
  return v
}

/** A counter or gauge of `metrics` as /metrics shows it (`labels` like `{reason="fd_limit"}`); 0 when it has no such line yet. */
export async function metricValue(metrics: ProxyMetrics, name: string, labels = ''): Promise<number> {
  const line = (await metrics.registry.metrics()).split('\n').find((l) => l.startsWith(`${name}${labels} `))
  return line === undefined ? 0 : Number(line.split(' ')[1])
}
