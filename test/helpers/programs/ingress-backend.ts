// An HTTP backend for the Ingress end-to-end tests, run inside a network namespace: listens on
// every ADDR:PORT given and answers JSON naming the listen address that served, the method,
// url, received headers and body length. `hang:ADDR:PORT` accepts and reads but never answers.
// `?hop=1` adds a response header named in Connection (a proxy must drop it).
// Prints `listening` once every listener is up; SIGTERM closes them all and exits.
import { createServer, type Server } from 'node:http'

const servers: Server[] = []

function listen(spec: string): Promise<void> {
  const hang = spec.startsWith('hang:')
  const target = hang ? spec.slice(5) : spec
  const colon = target.lastIndexOf(':')
  const host = target.slice(0, colon)
  const port = Number(target.slice(colon + 1))
  const server = createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
    let length = 0
    req.on('data', (chunk: Buffer) => (length += chunk.length))
    req.on('end', () => {
      if (hang) return
      const hop = req.url?.includes('hop=1') ? { connection: 'x-hop-resp', 'x-hop-resp': 'yes' } : {}
      res.writeHead(200, { 'content-type': 'application/json', 'x-end-to-end': 'kept', ...hop })
      res.end(JSON.stringify({ listen: target, method: req.method, url: req.url, headers: req.headers, bodyLength: length }))
    })
  })
  servers.push(server)
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => resolve())
  })
}

await Promise.all(process.argv.slice(2).map(listen))
process.stdout.write('listening\n')
process.on('SIGTERM', () => {
  for (const s of servers) {
    s.close()
    s.closeAllConnections()
  }
  process.exit(0)
})
