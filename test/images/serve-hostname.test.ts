import t from 'tap'
import { hostname } from 'node:os'
import { connect } from 'node:net'
import { request } from 'undici'
import { freeTcpPort, startContainer, udpAsk } from './program.ts'

t.test('serve-hostname over HTTP', async (t) => {
  const port = await freeTcpPort()
  const sh = await startContainer(t, { name: 'c', image: 'registry.k8s.io/serve_hostname:v1.4', args: [`-port=${port}`] }, /serving on port/)
  const res = await request(`http://127.0.0.1:${port}/anything`)
  t.equal(await res.body.text(), hostname())
  t.equal(await sh.stop(), 0, 'SIGTERM exits 0')
})

t.test('agnhost serve-hostname over raw TCP and UDP', async (t) => {
  const port = await freeTcpPort()
  const sh = await startContainer(
    t,
    { name: 'c', image: 'registry.k8s.io/e2e-test-images/agnhost:2.40', args: ['serve-hostname', '--http=false', '--tcp', '--udp', '--port', String(port)] },
    /serving on port/,
  )
  const tcp = await new Promise<string>((resolve, reject) => {
    let data = ''
    const sock = connect(port, '127.0.0.1')
    sock.on('data', (c: Buffer) => (data += c.toString()))
    sock.on('end', () => resolve(data))
    sock.on('error', reject)
  })
  t.equal(tcp, hostname())
  t.equal(await udpAsk(port, 'anything'), hostname())
  t.equal(await sh.stop(), 0)
})

t.test('agnhost serve-hostname --tcp outlives clients that reset their connections', async (t) => {
  // A TCP probe (the kubelet's tcpSocket, a port scanner) may close with a reset before it
  // reads the name: the server must shrug that off, as agnhost does, not die of ECONNRESET.
  const port = await freeTcpPort()
  const sh = await startContainer(t, { name: 'c', image: 'agnhost', args: ['serve-hostname', '--http=false', '--tcp', '--port', String(port)] }, /serving on port/)
  await Promise.all(
    Array.from({ length: 20 }, () => new Promise<void>((resolve) => {
      const sock = connect(port, '127.0.0.1')
      sock.on('connect', () => sock.resetAndDestroy())
      sock.on('error', () => undefined)
      sock.on('close', () => resolve())
    })),
  )
  await new Promise((r) => setTimeout(r, 200))
  t.equal(sh.child.exitCode, null, `still running (${sh.output().trim()})`)
  const answer = await new Promise<string>((resolve, reject) => {
    let data = ''
    const sock = connect(port, '127.0.0.1')
    sock.on('data', (c: Buffer) => (data += c.toString()))
    sock.on('end', () => resolve(data))
    sock.on('error', reject)
  })
  t.equal(answer, hostname(), 'and answers the next client')
  t.equal(await sh.stop(), 0)
})

t.test('serve-hostname refuses HTTP together with UDP, like agnhost', async (t) => {
  const port = await freeTcpPort()
  await t.rejects(startContainer(t, { name: 'c', image: 'agnhost', args: ['serve-hostname', '--udp', `--port=${port}`] }, /serving/), /at the same time/)
})
