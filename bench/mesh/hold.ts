// Opens N TCP connections to HOST:PORT from inside a pod's namespace and holds them until
// stdin closes; prints {"open":N} once all are up (or {"error":…}).
import { connect, type Socket } from 'node:net'

const [host, portText, countText] = process.argv.slice(2)
const sockets: Socket[] = []
let opened = 0
await new Promise<void>((resolve, reject) => {
  const total = Number(countText)
  let next = 0
  const open = () => {
    if (next >= total) return
    next++
    const s = connect({ host: host!, port: Number(portText) })
    s.once('connect', () => {
      opened++
      if (opened === total) resolve()
      else open()
    })
    s.once('error', reject)
    sockets.push(s)
  }
  for (let i = 0; i < 32; i++) open()
}).then(
  () => process.stdout.write(JSON.stringify({ open: opened }) + '\n'),
  (err: Error) => process.stdout.write(JSON.stringify({ error: err.message, open: opened }) + '\n'),
)
process.stdin.resume()
process.stdin.once('end', () => {
  for (const s of sockets) s.destroy()
  process.exit(0)
})
