// The TCP relay's byte path on loopback (tcp-relay.ts): large payloads both ways at once,
// byte-exact; a client that stops reading (the upstream's read buffer handed to writes that
// do not finish at once, then backpressure); half-close from either side. Each with the
// relays on the main thread and with a relay worker thread.
import { createHash, randomBytes } from 'node:crypto'
import { connect, createServer, type Socket } from 'node:net'
import t, { type Test } from 'tap'
import { UserspaceProxier } from '../../../proxy/userspace/index.ts'
import { endpoint, eventually, freePort, loopbackIP, proxyState, servicePort, sleep } from './helpers.ts'

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex')

/** Reads `s` to its end. */
function readAll(s: Socket): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    s.on('data', (c: Buffer) => chunks.push(c))
    s.once('end', () => resolve(Buffer.concat(chunks)))
    s.once('error', reject)
  })
}

/** An upstream that runs `serve` on each connection. */
async function upstream(t: Test, serve: (s: Socket) => void): Promise<number> {
  const sockets = new Set<Socket>()
  const server = createServer({ allowHalfOpen: true }, (s) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
    s.on('error', () => {})
    serve(s)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => {
    for (const s of sockets) s.destroy()
    server.close()
  })
  return (server.address() as { port: number }).port
}

async function relayTo(t: Test, port: number, workers: number) {
  const clusterIP = loopbackIP()
  const sp = servicePort({ name: 'relay', clusterIP, port: await freePort(clusterIP) })
  const p = new UserspaceProxier({ family: 4, manageAddresses: false, workers })
  t.teardown(() => p.close())
  await p.sync(proxyState([{ port: sp, endpoints: [endpoint('127.0.0.1', port)] }]), 'all')
  const dial = (): Promise<Socket> =>
    new Promise((resolve, reject) => {
      const s = connect({ host: clusterIP, port: sp.port, allowHalfOpen: true })
      t.teardown(() => s.destroy())
      s.once('connect', () => resolve(s))
      s.once('error', reject)
    })
  return { p, dial }
}

for (const workers of [1, 2]) {
  t.test(`${workers} relay thread(s)`, async (t) => {
    t.test('8 MiB each way at once, byte-exact', async (t) => {
      const down = randomBytes(8 << 20)
      const port = await upstream(t, (s) => {
        void readAll(s).then((got) => s.end(sha(got)))
        s.write(down)
      })
      const { dial } = await relayTo(t, port, workers)
      // Several at once, so with two threads both carry some.
      const runs = Array.from({ length: 4 }, async () => {
        const up = randomBytes(8 << 20)
        const s = await dial()
        const reading = readAll(s)
        s.end(up)
        const got = await reading
        t.equal(got.length, down.length + 64, 'every byte arrives')
        t.equal(sha(got.subarray(0, down.length)), sha(down), 'the download is byte-exact')
        t.equal(got.subarray(down.length).toString(), sha(up), 'the upload is byte-exact')
      })
      await Promise.all(runs)
    })

    t.test('a client that stops reading: nothing lost, nothing reordered', async (t) => {
      const down = randomBytes(16 << 20)
      let sent = false
      const port = await upstream(t, (s) => s.end(down, () => (sent = true)))
      const { dial } = await relayTo(t, port, workers)
      const s = await dial()
      s.pause()
      // The relay fills the client's socket buffers and its own queue, then stops reading.
      await sleep(300)
      t.notOk(sent, 'the upstream is held back while the client does not read')
      const reading = readAll(s)
      s.resume()
      const got = await reading
      t.equal(got.length, down.length, 'every byte arrives')
      t.equal(sha(got), sha(down), 'byte-exact after the stall')
    })

    t.test('half-close from the client: the reply still comes back', async (t) => {
      const port = await upstream(t, (s) => void readAll(s).then((got) => s.end(`got ${got.length} bytes`)))
      const { dial } = await relayTo(t, port, workers)
      const s = await dial()
      const reading = readAll(s)
      s.end(Buffer.alloc(100_000, 7))
      t.equal((await reading).toString(), 'got 100000 bytes')
    })

    t.test('half-close from the endpoint: the client may still send', async (t) => {
      let endpointRead: Promise<Buffer> | undefined
      const port = await upstream(t, (s) => {
        s.write('bye, but I listen\n')
        s.end()
        endpointRead = readAll(s)
      })
      const { p, dial } = await relayTo(t, port, workers)
      const s = await dial()
      t.equal((await readAll(s)).toString(), 'bye, but I listen\n')
      s.end('still here')
      t.equal((await endpointRead!).toString(), 'still here', 'the endpoint reads what the client sent after its end')
      if (!s.closed) await new Promise((resolve) => s.once('close', resolve))
      if (workers === 1) t.equal(await eventually(() => p.connections, (n) => n === 0), 0, 'both sides closed')
    })
  })
}
