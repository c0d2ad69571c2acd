// One UDP question from a fixed source port (and address), for end-to-end tests run inside a
// namespace: `udp-ask.ts IP PORT MESSAGE [SOURCE_PORT [SOURCE_ADDRESS]]` prints the reply, or
// nothing after 2 s.
import { createSocket } from 'node:dgram'

const [ip, port, message, sourcePort, sourceAddress] = process.argv.slice(2) as [string, string, string, string | undefined, string | undefined]
const socket = createSocket({ type: ip.includes(':') ? 'udp6' : 'udp4', reuseAddr: true })
const timer = setTimeout(() => socket.close(), 2000)
socket.on('message', (reply) => {
  process.stdout.write(reply)
  clearTimeout(timer)
  socket.close()
})
socket.on('error', () => {
  clearTimeout(timer)
  socket.close()
})
socket.bind(Number(sourcePort ?? 0), sourceAddress, () => socket.send(message, Number(port), ip))
