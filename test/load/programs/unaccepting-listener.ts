// A TCP listener that never accepts: its accept queue (backlog 1) fills with a connection or two and
// later SYNs get no answer, so connecting to it times out. Prints its port, then blocks its own
// event loop (without spinning) until killed or 60 s pass.
import { createServer } from 'node:net'

const server = createServer()
server.listen({ host: '127.0.0.1', port: 0, backlog: 1 }, () => {
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('no TCP address')
  process.stdout.write(`${address.port}\n`, () => {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60_000)
    process.exit(0)
  })
})
