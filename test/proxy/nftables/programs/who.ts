// A pod (or client) for the nftables traffic test, run inside its network namespace:
// `who.ts NAME TCP_PORT UDP_PORT` answers every TCP connection and UDP datagram with
// `NAME PEER_ADDRESS` (so the test sees which endpoint answered and whether the source was
// masqueraded), prints `{"ready":true}`, then runs commands read as JSON lines on stdin:
//   {"id":1,"op":"tcp"|"udp","host":"172.30.0.10","port":80,"count":20,"timeoutMs":1500}
// each answered with {"id":1,"answers":["p1 10.180.0.2", "ECONNREFUSED", "timeout", …]},
// one per new connection (or datagram from a new socket), made one after the other.
import { createSocket } from 'node:dgram'
import { createConnection, createServer } from 'node:net'
import { createInterface } from 'node:readline'

interface Command {
  id: number
  op: 'tcp' | 'udp'
  host: string
  port: number
  count: number
  timeoutMs: number
}

const [name, tcpPort, udpPort] = process.argv.slice(2)

function tcp(host: string, port: number, timeoutMs: number): Promise<string> {
  return new Promise((resolve) => {
    const sock = createConnection({ host, port })
    let data = ''
    const done = (answer: string): void => {
      clearTimeout(timer)
      sock.destroy()
      resolve(answer)
    }
    const timer = setTimeout(() => done('timeout'), timeoutMs)
    sock.on('data', (b: Buffer) => (data += b))
    sock.on('end', () => done(data))
    sock.on('error', (e: NodeJS.ErrnoException) => done(e.code ?? e.message))
  })
}

function udp(host: string, port: number, timeoutMs: number): Promise<string> {
  return new Promise((resolve) => {
    const sock = createSocket('udp4')
    const done = (answer: string): void => {
      clearTimeout(timer)
      sock.close()
      resolve(answer)
    }
    const timer = setTimeout(() => done('timeout'), timeoutMs)
    sock.on('message', (b) => done(b.toString()))
    sock.on('error', (e: NodeJS.ErrnoException) => done(e.code ?? e.message))
    sock.send('who', port, host)
  })
}

const server = createServer((sock) => sock.end(`${name} ${sock.remoteAddress}`))
const dgram = createSocket('udp4')
dgram.on('message', (_msg, from) => dgram.send(`${name} ${from.address}`, from.port, from.address))
await new Promise<void>((resolve) => server.listen(Number(tcpPort), '0.0.0.0', resolve))
await new Promise<void>((resolve) => dgram.bind(Number(udpPort), '0.0.0.0', resolve))
process.stdout.write('{"ready":true}\n')

createInterface({ input: process.stdin })
  .on('line', async (line) => {
    const c = JSON.parse(line) as Command
    const answers: string[] = []
    for (let i = 0; i < c.count; i++) answers.push(await (c.op === 'tcp' ? tcp : udp)(c.host, c.port, c.timeoutMs))
    process.stdout.write(JSON.stringify({ id: c.id, answers }) + '\n')
  })
  .on('close', () => {
    server.close()
    dgram.close()
  })
