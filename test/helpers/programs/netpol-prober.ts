// The client side of the NetworkPolicy matrix test, run inside one pod's network namespace
// (`ip netns exec POD_NETNS node netpol-prober.ts`): one long-lived process per pod answers
// probe requests, read as JSON lines on stdin, with one JSON line each on stdout, any number at
// once. It prints `{"ready":true}` first and exits when stdin closes.
//   {"id":1,"op":"tcp","host":"10.244.0.5","port":80,"timeoutMs":1000}
//       a new connection; agnhost serve-hostname --tcp writes the pod's name and closes
//   {"id":2,"op":"udp","host":…,"port":81,"timeoutMs":1000}
//       one datagram (sent again every 250 ms until the timeout); the reply is the pod's name
//   {"id":3,"op":"dns","host":"10.96.0.10","port":53,"transport":"udp"|"tcp","name":"kubernetes.default.svc.cluster.local","timeoutMs":2000}
//       an A query; the reply is the first address of the answer
// Answers: {"id":1,"ok":true,"reply":"a","ms":3} or {"id":1,"ok":false,"error":"timeout","ms":1000}.
import { createSocket } from 'node:dgram'
import { createConnection } from 'node:net'
import { createInterface } from 'node:readline'

interface Command {
  id: number
  op: 'tcp' | 'udp' | 'dns'
  host: string
  port: number
  timeoutMs?: number
  transport?: 'udp' | 'tcp'
  name?: string
}

type Result = { reply: string } | { error: string }

/** A TCP connection: everything the server writes before it closes (or the timeout). */
function tcp(host: string, port: number, timeoutMs: number, send?: Buffer, enough?: (data: Buffer) => boolean): Promise<Result & { data?: Buffer }> {
  return new Promise((resolve) => {
    const sock = createConnection({ host, port })
    const chunks: Buffer[] = []
    let connected = false
    let done = false
    const finish = (r: Result & { data?: Buffer }) => {
      if (done) return
      done = true
      clearTimeout(timer)
      sock.destroy()
      resolve(r)
    }
    const timer = setTimeout(() => finish({ error: connected ? 'timeout reading' : 'timeout' }), timeoutMs)
    sock.on('connect', () => {
      connected = true
      if (send) sock.write(send)
    })
    sock.on('data', (d: Buffer) => {
      chunks.push(d)
      const all = Buffer.concat(chunks)
      if (enough?.(all)) finish({ reply: '', data: all })
    })
    sock.on('end', () => finish(chunks.length ? { reply: Buffer.concat(chunks).toString(), data: Buffer.concat(chunks) } : { error: 'closed without an answer' }))
    sock.on('error', (e: NodeJS.ErrnoException) => finish({ error: e.code ?? e.message }))
  })
}

/** One datagram (repeated every 250 ms) and the first reply. */
function udp(host: string, port: number, timeoutMs: number, payload: Buffer = Buffer.from('hostname')): Promise<Result & { data?: Buffer }> {
  return new Promise((resolve) => {
    const sock = createSocket(host.includes(':') ? 'udp6' : 'udp4')
    let done = false
    const finish = (r: Result & { data?: Buffer }) => {
      if (done) return
      done = true
      clearTimeout(timer)
      clearInterval(again)
      sock.close()
      resolve(r)
    }
    const timer = setTimeout(() => finish({ error: 'timeout' }), timeoutMs)
    const send = () => sock.send(payload)
    const again = setInterval(() => !done && send(), 250)
    sock.on('message', (msg) => finish({ reply: msg.toString(), data: msg }))
    sock.on('error', (e: NodeJS.ErrnoException) => finish({ error: e.code ?? e.message }))
    sock.connect(port, host, send)
  })
}

function dnsQuery(name: string, id: number): Buffer {
  const labels = name.replace(/\.$/, '').split('.')
  const qname = Buffer.concat([...labels.map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)])), Buffer.from([0])])
  const header = Buffer.alloc(12)
  header.writeUInt16BE(id, 0)
  header.writeUInt16BE(0x0100, 2) // recursion desired
  header.writeUInt16BE(1, 4) // one question
  return Buffer.concat([header, qname, Buffer.from([0, 1, 0, 1])]) // A, IN
}

/** The end of a (possibly compressed) name at `at`. */
function skipName(msg: Buffer, at: number): number {
  while (at < msg.length) {
    const len = msg[at]!
    if (len === 0) return at + 1
    if ((len & 0xc0) === 0xc0) return at + 2
    at += len + 1
  }
  throw new Error('truncated name')
}

/** The first A record of a response, or why there is none. */
function firstAddress(msg: Buffer, id: number): Result {
  if (msg.length < 12 || msg.readUInt16BE(0) !== id) return { error: 'not an answer to the query' }
  const rcode = msg.readUInt16BE(2) & 0xf
  if (rcode !== 0) return { error: `rcode ${rcode}` }
  const answers = msg.readUInt16BE(6)
  let at = skipName(msg, 12) + 4
  for (let i = 0; i < answers; i++) {
    at = skipName(msg, at)
    const type = msg.readUInt16BE(at)
    const len = msg.readUInt16BE(at + 8)
    if (type === 1 && len === 4) return { reply: [...msg.subarray(at + 10, at + 14)].join('.') }
    at += 10 + len
  }
  return { error: 'no A record in the answer' }
}

async function dns(c: Command, timeoutMs: number): Promise<Result> {
  const id = Math.floor(Math.random() * 0xffff)
  const query = dnsQuery(c.name!, id)
  if (c.transport === 'tcp') {
    const framed = Buffer.concat([Buffer.from([query.length >> 8, query.length & 0xff]), query])
    const r = await tcp(c.host, c.port, timeoutMs, framed, (d) => d.length >= 2 && d.length >= 2 + d.readUInt16BE(0))
    if (!r.data) return 'error' in r ? r : { error: 'no answer' }
    return firstAddress(r.data.subarray(2), id)
  }
  const r = await udp(c.host, c.port, timeoutMs, query)
  return r.data ? firstAddress(r.data, id) : r
}

async function run(c: Command): Promise<void> {
  const start = performance.now()
  const timeoutMs = c.timeoutMs ?? 1000
  let r: Result
  try {
    if (c.op === 'tcp') r = await tcp(c.host, c.port, timeoutMs)
    else if (c.op === 'udp') r = await udp(c.host, c.port, timeoutMs)
    else if (c.op === 'dns') r = await dns(c, timeoutMs)
    else r = { error: `unknown op ${JSON.stringify(c.op)}` }
  } catch (err) {
    r = { error: err instanceof Error ? err.message : String(err) }
  }
  const ms = Math.round(performance.now() - start)
  process.stdout.write(JSON.stringify('reply' in r ? { id: c.id, ok: true, reply: r.reply, ms } : { id: c.id, ok: false, error: r.error, ms }) + '\n')
}

createInterface({ input: process.stdin }).on('line', (line) => void run(JSON.parse(line) as Command))
process.stdin.on('end', () => process.exit(0))
process.stdout.write(JSON.stringify({ ready: true }) + '\n')
