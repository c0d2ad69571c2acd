// A pod's TCP server for the mesh tests: for each connection, everything it reads upper-cased,
// then "<bye from NAME>" and its end once the client has ended.
import { createServer } from 'node:net'

const port = Number(process.argv[2])
const name = process.argv[3] ?? 'server'
createServer({ allowHalfOpen: true }, (s) => {
  s.on('data', (d) => s.write(d.toString().toUpperCase()))
  s.on('end', () => s.end(`<bye from ${name}>`))
  s.on('error', () => {})
}).listen(port, '0.0.0.0')
