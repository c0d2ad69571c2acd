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

t.test('serve-hostname refuses HTTP together with UDP, like agnhost', async (t) => {
  const port = await freeTcpPort()
  await t.rejects(startContainer(t, { name: 'c', image: 'agnhost', args: ['serve-hostname', '--udp', `--port=${port}`] }, /serving/), /at the same time/)
})
