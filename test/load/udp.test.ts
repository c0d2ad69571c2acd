// weft load's UDP echo client on loopback: against a plain echo server (IPv4 and IPv6) and
// agnhost netexec's UDP server (weft's built-in image, as a child process: `echo` answers and
// the `hostname` probe naming the pod), refused ports, silence, foreign and altered answers,
// the payload size, and close().
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram'
import { hostname } from 'node:os'
import t, { type Test } from 'tap'
import { createUdpClient, DEFAULT_UDP_PAYLOAD_BYTES } from '../../load/protocols/udp.ts'
import { freeTcpPort, freeUdpPort, startContainer } from '../images/program.ts'
import { drive, run, sleep, target } from './proto-rig.ts'

type Behaviour = (message: Buffer, from: RemoteInfo, socket: Socket) => void

interface UdpServer {
  port: number
  received: Buffer[]
  behaviour: Behaviour
}

const echoBack: Behaviour = (message, from, socket) => socket.send(message, from.port, from.address)

async function udpServer(t: Test, behaviour: Behaviour, address = '127.0.0.1'): Promise<UdpServer> {
  const socket = createSocket(address.includes(':') ? 'udp6' : 'udp4')
  await new Promise<void>((resolve) => socket.bind(0, address, resolve))
  const server: UdpServer = { port: socket.address().port, received: [], behaviour }
  socket.on('message', (message, from) => {
    server.received.push(message)
    server.behaviour(message, from, socket)
  })
  t.teardown(() => socket.close())
  return server
}

const udpTarget = (port: number, fields: Partial<Parameters<typeof target>[0]> = {}) => target({ protocol: 'udp', endpoints: [{ host: '127.0.0.1', port }], ...fields })

t.test('a plain echo server: every request ends when its bytes come back', async (t) => {
  const server = await udpServer(t, echoBack)
  const d = drive(createUdpClient, udpTarget(server.port), { connections: 3, identifyEndpoints: true })
  t.teardown(() => d.client.close())
  // Queued until the sockets open, then sent at once: few enough for the server's receive buffer.
  for (let i = 0; i < 100; i++) d.client.send(i)
  t.equal(d.client.inFlight, 100)
  await d.collected.waitFor(100)
  for (let from = 100; from < 500; from += 50) await run(d, 50, from)
  t.same(d.collected.tally(), { ok: 500 })
  t.same(d.collected.repeated, [])
  t.equal(d.client.inFlight, 0)
  const echoes = server.received.filter((m) => m.toString().startsWith('echo '))
  t.equal(echoes.length, 500)
  t.ok(echoes.every((m) => m.length === DEFAULT_UDP_PAYLOAD_BYTES), 'each datagram is the default 64 bytes')
  t.match(echoes[0].toString(), /^echo [0-9a-f]{8}-\d+\.+$/)
  t.ok([...d.collected.results.values()].every((o) => o.endpoint === undefined), 'an echo server names no pod')
  const probes = server.received.filter((m) => m.toString() === 'hostname').length
  t.ok(probes >= 1 && probes <= 3, `one hostname probe per socket, then no more once echoed back (${probes})`)
})

t.test('IPv6 loopback and a payload size of 1000 bytes; a size below the command is the command', async (t) => {
  const server = await udpServer(t, echoBack, '::1')
  const big = drive(createUdpClient, target({ protocol: 'udp', endpoints: [{ host: '::1', port: server.port }], udpPayloadBytes: 1000 }))
  await run(big, 20)
  await big.client.close()
  t.same(big.collected.tally(), { ok: 20 })
  t.ok(server.received.every((m) => m.length === 1000))
  server.received.length = 0
  const small = drive(createUdpClient, target({ protocol: 'udp', endpoints: [{ host: '::1', port: server.port }], udpPayloadBytes: 8 }))
  await run(small, 20)
  await small.client.close()
  t.same(small.collected.tally(), { ok: 20 })
  t.ok(server.received.every((m) => /^echo [0-9a-f]{8}-\d+$/.test(m.toString())), 'no padding when the size is smaller than the command')
})

t.test('agnhost netexec: echo answers end requests; the hostname probe names the pod', async (t) => {
  const http = await freeTcpPort()
  const udp = await freeUdpPort()
  await startContainer(t, { name: 'c', image: 'registry.k8s.io/e2e-test-images/agnhost:2.53', args: ['netexec', `--http-port=${http}`, '--udp-port', String(udp)] }, /started HTTP server/)
  const d = drive(createUdpClient, udpTarget(udp, { udpPayloadBytes: 100 }), { connections: 2, identifyEndpoints: true })
  t.teardown(() => d.client.close())
  await run(d, 1)
  await sleep(50)
  // In batches: netexec is another process with the kernel's default receive buffer.
  for (let from = 1; from < 301; from += 30) await run(d, 30, from)
  t.same(d.collected.tally(), { ok: 301 })
  const named = [...d.collected.results.entries()].filter(([token]) => token > 0).map(([, o]) => o.endpoint)
  t.ok(
    named.every((e) => e === hostname()),
    `the answers after the probe name the pod (${hostname()})`,
  )
  const anonymous = drive(createUdpClient, udpTarget(udp))
  await run(anonymous, 10)
  await anonymous.client.close()
  t.same([...anonymous.collected.results.values()].map((o) => o.endpoint ?? 'none'), Array(10).fill('none'), 'identification off: no endpoint')
})

t.test('a closed port: ICMP port unreachable ends the requests as refused', async (t) => {
  const port = await freeUdpPort()
  const d = drive(createUdpClient, udpTarget(port), { connections: 2, timeoutMs: 3000 })
  t.teardown(() => d.client.close())
  await run(d, 100)
  t.same(d.collected.tally(), { refused: 100 })
  t.same(d.collected.repeated, [])
})

t.test('silence, foreign answers and altered echoes: timeout', async (t) => {
  const silent = await udpServer(t, () => {})
  const d = drive(createUdpClient, udpTarget(silent.port), { timeoutMs: 300 })
  const started = performance.now()
  await run(d, 10)
  t.ok(performance.now() - started >= 290, 'not before the timeout')
  await d.client.close()
  t.same(d.collected.tally(), { timeout: 10 })

  const tamper = await udpServer(t, (message, from, socket) => {
    const text = message.toString()
    // Another client's echo, a truncated echo, an echo with a byte changed: none is ours.
    socket.send(text.replace(/echo [0-9a-f]{8}/, 'echo 00000000'), from.port, from.address)
    socket.send(message.subarray(0, message.length - 1), from.port, from.address)
    const changed = Buffer.from(message)
    changed[changed.length - 1] = 0x78
    socket.send(changed, from.port, from.address)
  })
  const tampered = drive(createUdpClient, udpTarget(tamper.port), { timeoutMs: 300 })
  await run(tampered, 10)
  await tampered.client.close()
  t.same(tampered.collected.tally(), { timeout: 10 })

  const late = await udpServer(t, (message, from, socket) => setTimeout(() => socket.send(message, from.port, from.address), 400))
  const slow = drive(createUdpClient, udpTarget(late.port), { timeoutMs: 200 })
  await run(slow, 5)
  await sleep(300)
  await slow.client.close()
  t.same(slow.collected.tally(), { timeout: 5 }, 'an answer after the timeout does not end the request again')
  t.same(slow.collected.repeated, [])
})

t.test('close() ends everything without reporting it', async (t) => {
  const silent = await udpServer(t, () => {})
  const d = drive(createUdpClient, udpTarget(silent.port), { connections: 2, timeoutMs: 200 })
  for (let i = 0; i < 20; i++) d.client.send(i)
  while (silent.received.length < 20) await sleep(5)
  await d.client.close()
  t.equal(d.client.inFlight, 0)
  await sleep(300)
  t.equal(d.collected.results.size, 0)
})

t.test('bad options are refused', async (t) => {
  const sink = { done() {} }
  const base = { connections: 1, keepAlive: true, timeoutMs: 1000, identifyEndpoints: false, sink }
  for (const size of [7, 65508, 1.5]) {
    t.throws(() => createUdpClient({ ...base, target: udpTarget(9, { udpPayloadBytes: size }) }), /UDP payload size must be an integer from 8 to 65507/)
  }
  t.throws(() => createUdpClient({ ...base, timeoutMs: 0, target: udpTarget(9) }), /timeout must be/)
})
