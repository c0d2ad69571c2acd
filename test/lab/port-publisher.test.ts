// The lab's port publisher: a port on the host's loopback relays into a namespace, whose
// address the host cannot reach by itself (no address or route is added to the host).
import { spawn } from 'node:child_process'
import { connect } from 'node:net'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import t from 'tap'
import { ip, netnsPath } from '../../src/netlink/index.ts'
import { publishPorts } from '../../src/lab/port-publisher.ts'
import { isAlive, stopProcess } from '../../src/lab/processes.ts'
import { testNetns } from '../helpers/netns.ts'

const ns = await testNetns(t, 'pub')
await ip(['link', 'set', 'lo', 'up'], ns)
await ip(['addr', 'add', '10.88.0.1/32', 'dev', 'lo'], ns)
const dir = await mkdtemp(join(tmpdir(), 'weft-pub-'))
t.teardown(() => rm(dir, { recursive: true, force: true }))

// An echo server inside the namespace that says which address it was reached on.
const echo = spawn('nsenter', [`--net=${netnsPath(ns)}`, '--', process.execPath, '-e', `
  const net = require('net')
  for (const port of [7001, 7002]) net.createServer({ allowHalfOpen: true }, (s) => { s.on('error', () => {}); s.write('at ' + s.localAddress + ':' + s.localPort + '\\n'); s.pipe(s) }).listen(port, '10.88.0.1')
  setTimeout(() => console.log('up'), 100)
`], { stdio: ['ignore', 'pipe', 'inherit'] })
t.teardown(() => {
  echo.kill()
})
await new Promise<void>((resolve) => createInterface({ input: echo.stdout! }).once('line', () => resolve()))

function talk(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = ''
    const s = connect(port, '127.0.0.1', () => s.end(text))
    s.on('data', (d) => (got += d))
    s.on('end', () => resolve(got))
    s.on('error', reject)
  })
}

t.test('the host reaches the namespace only through the published ports', async (t) => {
  const refused = await talk(1, '').catch((err: NodeJS.ErrnoException) => err.code)
  t.equal(refused, 'ECONNREFUSED')
  const pub = await publishPorts(ns, [{ port: 0, to: '10.88.0.1:7001' }, { port: 0, to: '10.88.0.1:7002' }], join(dir, 'relay.log'))
  t.teardown(() => stopProcess(pub.pid, pub.starttime))
  t.equal(pub.ports.length, 2)
  t.not(pub.ports[0]!.port, pub.ports[1]!.port)
  t.equal(await talk(pub.ports[0]!.port, 'hello'), 'at 10.88.0.1:7001\nhello')
  t.equal(await talk(pub.ports[1]!.port, 'again'), 'at 10.88.0.1:7002\nagain')
  const parallel = await Promise.all(Array.from({ length: 20 }, (_, i) => talk(pub.ports[0]!.port, `n${i}`)))
  t.same(parallel, Array.from({ length: 20 }, (_, i) => `at 10.88.0.1:7001\nn${i}`))
  t.notMatch(await ip(['-o', 'addr', 'show']), /10\.88\.0\.1/, 'the host has no address of the namespace')
  await stopProcess(pub.pid, pub.starttime)
  t.notOk(isAlive(pub.pid, pub.starttime))
  t.equal(await talk(pub.ports[0]!.port, 'x').catch((err: NodeJS.ErrnoException) => err.code), 'ECONNREFUSED', 'the port closes with the relay')
  t.equal(await readFile(join(dir, 'relay.log'), 'utf8'), '', 'the relay logged nothing')
})

t.test('a port that is taken falls back to a free one; a namespace that does not exist is an error', async (t) => {
  const pub = await publishPorts(ns, [{ port: 0, to: '10.88.0.1:7001' }], join(dir, 'relay2.log'))
  t.teardown(() => stopProcess(pub.pid, pub.starttime))
  const again = await publishPorts(ns, [{ port: pub.ports[0]!.port, to: '10.88.0.1:7002' }], join(dir, 'relay3.log'))
  t.teardown(() => stopProcess(again.pid, again.starttime))
  t.not(again.ports[0]!.port, pub.ports[0]!.port)
  t.equal(await talk(again.ports[0]!.port, 'y'), 'at 10.88.0.1:7002\ny')
  await t.rejects(publishPorts('wt-no-such-ns', [{ port: 0, to: '10.88.0.1:7001' }], join(dir, 'relay4.log')), /the port relay in wt-no-such-ns exited/)
})
