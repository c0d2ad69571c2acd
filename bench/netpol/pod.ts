// A "pod" of the NetworkPolicy bench, run inside its network namespace (`ip netns exec NS
// node pod.ts PORT…`): it answers TCP connects and UDP echoes on each PORT, prints
// `{"ready":true}`, then takes JSON-line commands on stdin:
//   {"op":"probe","host":"10.72.0.3","port":8080,"intervalMs":1,"timeoutMs":150}
//       starts a tight probe loop at host:port: every intervalMs a new flow, TCP and UDP in
//       turn (a TCP connect, or one UDP datagram and its echo), each from a source port of its
//       own (TCP 20000-39999, UDP 40000-64999, in turn: a port comes back after ≥ 20 s at
//       1 ms, so no probe ever meets a conntrack entry an earlier one left);
//   {"op":"stop"}   ends the loop (probes in flight still report).
// Results go out every 25 ms as `{"r":[[t,proto,ok],…]}`: t = when the probe's first packet
// was sent (ms, clock.ts nowMs: the same clock as the bench process), proto 0 = TCP,
// 1 = UDP, ok 1 = answered within timeoutMs. A denied first packet is dropped and never
// retransmitted (the connect is abandoned long before the kernel's 1 s SYN retransmit), so
// a probe's result is the verdict on the packet sent at t.
import { createSocket } from 'node:dgram'
import { createConnection, createServer } from 'node:net'
import { createInterface } from 'node:readline'
import { nowMs } from '../lib/clock.ts'

interface Command {
  op: 'probe' | 'stop'
  host?: string
  port?: number
  intervalMs?: number
  timeoutMs?: number
}

const TCP_PORTS = { from: 20000, count: 20000 }
const UDP_PORTS = { from: 40000, count: 25000 }
let tcpNext = 0
let udpNext = 0
let pending: [number, number, number][] = []
let loop: NodeJS.Timeout | undefined

function report(t: number, proto: number, ok: boolean): void {
  pending.push([Math.round(t * 1000) / 1000, proto, ok ? 1 : 0])
}

setInterval(() => {
  if (!pending.length) return
  process.stdout.write(JSON.stringify({ r: pending }) + '\n')
  pending = []
}, 25).unref()

function tcpProbe(host: string, port: number, timeoutMs: number): void {
  const localPort = TCP_PORTS.from + (tcpNext++ % TCP_PORTS.count)
  const t = nowMs()
  const sock = createConnection({ host, port, localPort })
  let done = false
  const finish = (ok: boolean) => {
    if (done) return
    done = true
    clearTimeout(timer)
    // A reset, not a FIN: no TIME_WAIT on either side, so the source port is free again.
    if (ok) sock.resetAndDestroy()
    else sock.destroy()
    report(t, 0, ok)
  }
  const timer = setTimeout(() => finish(false), timeoutMs)
  sock.once('connect', () => finish(true))
  sock.once('error', () => finish(false))
}

function udpProbe(host: string, port: number, timeoutMs: number): void {
  const localPort = UDP_PORTS.from + (udpNext++ % UDP_PORTS.count)
  const sock = createSocket('udp4')
  let t = 0
  let done = false
  const finish = (ok: boolean) => {
    if (done) return
    done = true
    clearTimeout(timer)
    try {
      sock.close()
    } catch {}
    report(t, 1, ok)
  }
  let timer: NodeJS.Timeout | undefined
  sock.once('message', () => finish(true))
  sock.once('error', () => finish(false))
  sock.bind(localPort, () => {
    t = nowMs()
    timer = setTimeout(() => finish(false), timeoutMs)
    sock.send('p', port, host)
  })
}

function run(c: Command): void {
  clearInterval(loop)
  loop = undefined
  if (c.op !== 'probe') return
  const host = c.host!
  const port = c.port!
  const timeoutMs = c.timeoutMs ?? 150
  let n = 0
  loop = setInterval(() => (n++ % 2 === 0 ? tcpProbe(host, port, timeoutMs) : udpProbe(host, port, timeoutMs)), c.intervalMs ?? 1)
}

const ports = process.argv.slice(2).map(Number)
let listening = 0
const ready = () => {
  if (++listening < ports.length * 2) return
  process.stdout.write(JSON.stringify({ ready: true }) + '\n')
  createInterface({ input: process.stdin }).on('line', (line) => run(JSON.parse(line) as Command))
  process.stdin.on('end', () => process.exit(0))
}
for (const port of ports) {
  const server = createServer((s) => {
    s.on('error', () => s.destroy())
    s.resume()
  })
  server.listen({ port, host: '0.0.0.0', backlog: 4096 }, ready)
  const udp = createSocket('udp4')
  udp.on('message', (msg, rinfo) => udp.send(msg, rinfo.port, rinfo.address))
  udp.bind(port, '0.0.0.0', ready)
}
if (ports.length === 0) {
  listening = -1
  ready()
}
