// Run inside a test's network namespace: listens on PORT (IPv4 and IPv6), connects to each
// address given (nft redirects them to PORT) and prints what originalDestination says of the
// accepted side, one JSON line per connection; then a direct connection to PORT, whose
// original destination is PORT itself.
import { connect, createServer, type Socket } from 'node:net'
import { originalDestination } from '../../../mesh/addon.ts'

const port = Number(process.argv[2])
const targets = process.argv.slice(3)
const accepted: Socket[] = []
let waiting: ((s: Socket) => void) | undefined
const onConnection = (s: Socket) => (waiting ? waiting(s) : accepted.push(s))
const v4 = createServer(onConnection)
const v6 = createServer(onConnection)
await new Promise<void>((r) => v4.listen({ host: '0.0.0.0', port }, r))
await new Promise<void>((r) => v6.listen({ host: '::', port, ipv6Only: true }, r))
const next = () => new Promise<Socket>((r) => (accepted.length ? r(accepted.shift()!) : (waiting = (s) => ((waiting = undefined), r(s)))))
for (const target of [...targets, `127.0.0.1:${port}`]) {
  const colon = target.lastIndexOf(':')
  const host = target.slice(0, colon).replace(/^\[|\]$/g, '')
  const client = connect({ host, port: Number(target.slice(colon + 1)) })
  await new Promise<void>((r, j) => client.once('connect', r).once('error', j))
  const server = await next()
  try {
    process.stdout.write(JSON.stringify({ target, ...originalDestination(server) }) + '\n')
  } catch (err) {
    process.stdout.write(JSON.stringify({ target, error: (err as NodeJS.ErrnoException).code }) + '\n')
  }
  client.destroy()
  server.destroy()
}
v4.close()
v6.close()
