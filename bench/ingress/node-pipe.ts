// The ceiling of any Node.js proxy on this machine: one Node process that parses no HTTP at
// all and only pipes each client connection (plain, or TLS with the bench certificate) to a
// connection of its own to the backend. Whatever an HTTP proxy in Node does per request
// comes on top of this. Usage: node node-pipe.ts HTTP_PORT HTTPS_PORT BACKEND_PORT CERT KEY
import { readFileSync } from 'node:fs'
import { connect, createServer, type Socket } from 'node:net'
import { createServer as createTlsServer } from 'node:tls'

const [httpPort, httpsPort, backendPort, certFile, keyFile] = process.argv.slice(2)
if (!keyFile) {
  process.stderr.write('usage: node node-pipe.ts HTTP_PORT HTTPS_PORT BACKEND_PORT CERT KEY\n')
  process.exit(2)
}

function pipe(client: Socket): void {
  const upstream = connect({ host: '127.0.0.1', port: Number(backendPort), noDelay: true })
  client.setNoDelay(true)
  client.pipe(upstream)
  upstream.pipe(client)
  client.on('error', () => upstream.destroy())
  upstream.on('error', () => client.destroy())
}

createServer(pipe).listen(Number(httpPort), '127.0.0.1')
createTlsServer({ cert: readFileSync(certFile), key: readFileSync(keyFile), ALPNProtocols: ['http/1.1'] }, pipe).listen(Number(httpsPort), '127.0.0.1')
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(0))
