// The client side of the mesh tests, run in a pod's network namespace:
//   mesh-client.ts HOST PORT PAYLOAD             one exchange: writes, half-closes, reads to the end
//   mesh-client.ts HOST PORT PAYLOAD --hold MS   one connection held MS, a round trip every 250 ms
// Prints one JSON line: {"ok":true,"reply":"…","rounds":N} or {"ok":false,"error":"ECONNRESET"}.
import { connect } from 'node:net'

const [host, portText, payload, flag, holdText] = process.argv.slice(2)
const holdMs = flag === '--hold' ? Number(holdText) : 0
const s = connect({ host: host!, port: Number(portText), allowHalfOpen: true })
let reply = ''
let rounds = 0
let failed: string | undefined
const done = (result: object) => {
  process.stdout.write(JSON.stringify(result) + '\n')
  process.exit(0)
}
s.setTimeout(10_000, () => done({ ok: false, error: 'timeout', reply }))
s.on('error', (err: NodeJS.ErrnoException) => (failed ??= err.code ?? err.message))
s.on('data', (d) => (reply += d.toString()))
s.on('close', () => done(failed ? { ok: false, error: failed, reply, rounds } : { ok: true, reply, rounds }))
s.once('connect', async () => {
  const end = Date.now() + holdMs
  while (Date.now() < end && !failed) {
    const before = reply.length
    s.write(`${payload} ${rounds};`)
    const deadline = Date.now() + 2000
    while (reply.length === before && Date.now() < deadline && !failed) await new Promise((r) => setTimeout(r, 10))
    if (reply.length === before) return done({ ok: false, error: 'a round trip timed out', reply, rounds })
    rounds++
    await new Promise((r) => setTimeout(r, 250))
  }
  s.end(holdMs ? '' : payload)
})
