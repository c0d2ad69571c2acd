// The inside half of the lab's port publisher (port-publisher.ts): runs in a node's network
// namespace, is handed listening sockets that were bound on the host's loopback, and relays
// every connection on them to an address inside the namespace. Started with an IPC channel;
// each message `{ to: 'HOST:PORT' }` carries one listening socket.
import { connect, createServer, type Server, type Socket } from 'node:net'

export interface RelayMessage {
  to: string
}

function relay(client: Socket, host: string, port: number): void {
  const upstream = connect({ host, port, allowHalfOpen: true, noDelay: true })
  const close = () => {
    client.destroy()
    upstream.destroy()
  }
  client.on('error', close)
  upstream.on('error', close)
  client.on('close', close)
  upstream.on('close', close)
  client.pipe(upstream)
  upstream.pipe(client)
}

function target(to: string): { host: string; port: number } {
  const i = to.lastIndexOf(':')
  return { host: to.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(to.slice(i + 1)) }
}

const servers: Server[] = []
process.on('message', (message: RelayMessage, handle: unknown) => {
  const { host, port } = target(message.to)
  // Half-open both ways, so a client that sends and shuts its side down still reads the answer.
  const server = createServer({ noDelay: true, allowHalfOpen: true }, (client) => relay(client, host, port))
  servers.push(server)
  server.listen(handle as Server, () => process.send?.({ published: message.to }))
})
const stop = () => {
  for (const s of servers) s.close()
  process.exit(0)
}
process.once('SIGTERM', stop)
process.once('SIGINT', stop)
