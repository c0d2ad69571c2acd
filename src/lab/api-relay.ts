// The lab's way for pods to reach the API server without touching the host's network
// namespace: a relay in the lab namespace, on the underlay gateway address, that pipes
// every connection to the API server's unix socket (TLS passes through untouched). The
// `kubernetes` Service's endpoint is this address.
import { connect, createServer, type Server } from 'node:net'
import { splitHostPort } from '../apiserver/server.ts'

/** The relay's port on the gateway address, inside the lab's own namespace. */
export const API_RELAY_PORT = 6443
const MAX_CONNECTIONS = 1024
/** The line the relay writes to its log once it accepts connections; `weft up` waits for it. */
export const API_RELAY_READY = 'api-relay: listening'

export function startApiRelay(listen: string, socketPath: string): Promise<Server> {
  const [host, port] = splitHostPort(listen)
  const server = createServer({ allowHalfOpen: true, noDelay: true }, (client) => {
    const upstream = connect({ path: socketPath, allowHalfOpen: true })
    const close = () => {
      client.destroy()
      upstream.destroy()
    }
    client.on('error', close).on('close', close)
    upstream.on('error', close).on('close', close)
    client.pipe(upstream)
    upstream.pipe(client)
  })
  server.maxConnections = MAX_CONNECTIONS
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(Number(port), host, () => resolve(server))
  })
}
