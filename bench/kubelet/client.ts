// One measured transfer, in its own process (as a user's client is): connects to HOST:PORT
// and downloads from the pod's source (it sends BYTES) or uploads to its sink (it answers the
// count). Prints {"seconds": S, "bytes": N}.
//   node client.ts HOST PORT download|upload BYTES
import { connect } from 'node:net'

const [host, portText, direction, bytesText] = process.argv.slice(2)
const bytes = Number(bytesText)
const io = connect({ host: host!, port: Number(portText), noDelay: true, allowHalfOpen: true })
await new Promise((resolve, reject) => io.once('connect', resolve).once('error', reject))
const start = performance.now()
if (direction === 'download') {
  let got = 0
  io.on('data', (b: Buffer) => (got += b.length))
  await new Promise((resolve) => io.once('end', resolve))
  if (got !== bytes) throw new Error(`received ${got} of ${bytes} bytes`)
} else {
  const chunk = Buffer.alloc(256 * 1024, 1)
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
io.destroy()
