// One measured transfer, in its own process (as kubectl is): `direct` connects to
// 127.0.0.1:PORT where it runs (started inside the pod's namespace), `spdy`/`websocket`
// go through the kubelet's /portForward. Prints {"seconds": S, "bytes": N}.
//   node client.ts MODE DIRECTION(download|upload) PORT BYTES [SOCKET CERTDIR]
import { readFileSync } from 'node:fs'
import { connect } from 'node:net'
import { join } from 'node:path'
import type { Duplex } from 'node:stream'
import { PortForwardClient } from '../../test/kubelet/port-forward-client.ts'

const [mode, direction, portText, bytesText, socketPath, certDir] = process.argv.slice(2)
const port = Number(portText)
const bytes = Number(bytesText)

async function open(): Promise<{ io: Duplex; close: () => void }> {
  if (mode === 'direct') {
    const s = connect({ host: '127.0.0.1', port, noDelay: true, allowHalfOpen: true })
    await new Promise((resolve, reject) => s.once('connect', resolve).once('error', reject))
    return { io: s, close: () => s.destroy() }
  }
  const read = (f: string) => readFileSync(join(certDir!, f), 'utf8')
  const client = await PortForwardClient.open({ tls: { path: socketPath!, ca: read('ca.pem'), cert: read('client.pem'), key: read('client-key.pem'), servername: 'n1' }, path: '/portForward/default/bench', mode: mode as 'spdy' | 'websocket' })
  const c = await client.connect(port)
  return { io: c.data, close: () => client.close() }
}

const { io, close } = await open()
const start = performance.now()
if (direction === 'download') {
  let got = 0
  io.on('data', (b: Buffer) => (got += b.length))
  await new Promise((resolve) => io.once('end', resolve))
  if (got !== bytes) throw new Error(`received ${got} of ${bytes} bytes`)
} else {
  const chunk = Buffer.alloc(64 * 1024, 1)
  let sent = 0
  const answer = new Promise<string>((resolve) => {
    let s = ''
    io.on('data', (b: Buffer) => (s += b.toString()))
    io.once('end', () => resolve(s))
  })
  while (sent < bytes) {
    if (!io.write(chunk)) await new Promise((resolve) => io.once('drain', resolve))
    sent += chunk.length
  }
  io.end()
  const a = await answer
  if (a !== String(sent)) throw new Error(`the sink read ${a}, ${sent} were sent`)
}
const seconds = (performance.now() - start) / 1000
process.stdout.write(`${JSON.stringify({ seconds, bytes })}\n`)
close()
process.exit(0)
