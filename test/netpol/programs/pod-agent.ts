// A pod for the NetworkPolicy kernel test, run inside its network namespace:
// `pod-agent.ts PORT…` serves TCP and UDP echo on each port (IPv4 and IPv6), prints
// `{"ready":true}`, then answers commands read as JSON lines on stdin, one JSON line each:
//   {"id":1,"op":"tcp","host":"10.0.0.1","port":80,"timeoutMs":800}  a new connection, one echo
//   {"id":2,"op":"udp",…}                                             one datagram and its echo
//   {"id":3,"op":"open","name":"c1","host":…,"port":…,"timeoutMs":…}  a connection kept open
//   {"id":4,"op":"talk","name":"c1","timeoutMs":…}                    one echo on it
// Answers: {"id":1,"ok":true,"ms":3} or {"id":1,"ok":false,"error":"ECONNREFUSED","ms":2}.
import { createSocket } from 'node:dgram'
import { createConnection, createServer, type Socket } from 'node:net'
import { createInterface } from 'node:readline'

interface Command {
  id: number
  op: 'tcp' | 'udp' | 'open' | 'talk'
  host?: string
  port?: number
  name?: string
  timeoutMs?: number
}

const ports = process.argv.slice(2).map(Number)
const kept = new Map<string, Socket>()

function answer(id: number, start: number, error?: string): void {
  process.stdout.write(JSON.stringify({ id, ok: error === undefined, error, ms: Math.round(performance.now() - start) }) + '\n')
}

/** One echo on `sock`: resolves undefined when the line comes back, else an error code. */
function echo(sock: Socket, timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const done = (err?: string) => {
      clearTimeout(timer)
      sock.off('data', onData)
      sock.off('error', onError)
      sock.off('close', onClose)
      resolve(err)
    }
    const onData = () => done()
    const onError = (e: NodeJS.ErrnoException) => done(e.code ?? e.message)
    const onClose = () => done('closed')
    const timer = setTimeout(() => done('timeout'), timeoutMs)
    sock.on('data', onData)
    sock.on('error', onError)
    sock.on('close', onClose)
    sock.write('ping\n')
  })
}

function connect(host: string, port: number, timeoutMs: number): Promise<Socket | string> {
  return new Promise((resolve) => {
    const sock = createConnection({ host, port })
    const timer = setTimeout(() => {
      sock.destroy()
      resolve('timeout')
    }, timeoutMs)
    sock.once('connect', () => {
      clearTimeout(timer)
      resolve(sock)
    })
    sock.once('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer)
      resolve(e.code ?? e.message)
    })
  })
}

async function run(c: Command): Promise<void> {
  const start = performance.now()
  const timeoutMs = c.timeoutMs ?? 1000
  if (c.op === 'tcp' || c.op === 'open') {
    const sock = await connect(c.host!, c.port!, timeoutMs)
    if (typeof sock === 'string') return answer(c.id, start, sock)
    const err = await echo(sock, Math.max(1, timeoutMs - (performance.now() - start)))
    if (c.op === 'open' && err === undefined) kept.set(c.name!, sock)
    else sock.destroy()
    return answer(c.id, start, err)
  }
  if (c.op === 'talk') {
    const sock = kept.get(c.name!)
    if (!sock) return answer(c.id, start, 'no such connection')
    return answer(c.id, start, await echo(sock, timeoutMs))
  }
  const sock = createSocket(c.host!.includes(':') ? 'udp6' : 'udp4')
  const timer = setTimeout(() => {
    sock.close()
    answer(c.id, start, 'timeout')
  }, timeoutMs)
  sock.on('message', () => {
    clearTimeout(timer)
    sock.close()
    answer(c.id, start)
  })
  sock.on('error', (e: NodeJS.ErrnoException) => {
    clearTimeout(timer)
    sock.close()
    answer(c.id, start, e.code ?? e.message)
  })
  sock.connect(c.port!, c.host!, () => sock.send('ping\n'))
}

let listening = 0
for (const port of ports) {
  const server = createServer((s) => {
    s.on('data', (d) => s.write(d))
    s.on('error', () => s.destroy())
  })
  server.listen({ port, host: '::', ipv6Only: false }, () => ++listening === ports.length * 2 && ready())
  const udp = createSocket({ type: 'udp6', ipv6Only: false })
  udp.on('message', (msg, rinfo) => udp.send(msg, rinfo.port, rinfo.address))
  udp.bind(port, '::', () => ++listening === ports.length * 2 && ready())
}

function ready(): void {
  process.stdout.write(JSON.stringify({ ready: true }) + '\n')
  createInterface({ input: process.stdin }).on('line', (line) => void run(JSON.parse(line) as Command))
  process.stdin.on('end', () => process.exit(0))
}
