// Load for the Ingress end-to-end tests, run inside a network namespace: GETs at a steady rate
// over keep-alive connections, rotating over the given Host names, until SIGTERM or the
// duration ends; then prints one JSON summary line (LoadSummary in ../ingress-e2e.ts).
// Argument: JSON {target: 'ADDR:PORT', hosts: string[], path?: string, rate: number, durationMs: number}.
// A request fails when it gets no response within 5 s, a connection error, or any status but 200.
import { Agent, request } from 'node:http'

interface Options {
  target: string
  hosts: string[]
  path?: string
  rate: number
  durationMs: number
}

const o = JSON.parse(process.argv[2]!) as Options
const colon = o.target.lastIndexOf(':')
const agent = new Agent({ keepAlive: true, maxSockets: 32 })
const byStatus: Record<string, number> = {}
const byEndpoint: Record<string, number> = {}
const byHost: Record<string, number> = {}
const errors: string[] = []
let sent = 0
let done = 0
let failed = 0

function one(host: string): void {
  sent++
  const fail = (why: string) => {
    failed++
    if (errors.length < 20) errors.push(`${host}: ${why}`)
  }
  const req = request({ agent, host: o.target.slice(0, colon), port: Number(o.target.slice(colon + 1)), path: o.path ?? '/', headers: { host }, timeout: 5000 }, (res) => {
    const chunks: Buffer[] = []
    res.on('data', (c: Buffer) => chunks.push(c))
    res.on('end', () => {
      done++
      const status = res.statusCode ?? 0
      byStatus[status] = (byStatus[status] ?? 0) + 1
      const text = Buffer.concat(chunks).toString()
      if (status !== 200) return fail(`status ${status}: ${text.trim().slice(0, 200)}`)
      byHost[host] = (byHost[host] ?? 0) + 1
      try {
        const listen = (JSON.parse(text) as { listen: string }).listen
        byEndpoint[listen] = (byEndpoint[listen] ?? 0) + 1
      } catch {
        fail(`not JSON: ${text.slice(0, 100)}`)
      }
    })
    res.on('error', (err) => fail(err.message))
  })
  req.on('timeout', () => req.destroy(new Error('no response within 5 s')))
  req.on('error', (err) => {
    done++
    fail(err.message)
  })
  req.end()
}

const started = Date.now()
let next = 0
const timer = setInterval(() => {
  const due = Math.floor(((Date.now() - started) * o.rate) / 1000)
  while (sent < due) one(o.hosts[next++ % o.hosts.length]!)
}, 10)

let finished = false
async function finish(): Promise<void> {
  if (finished) return
  finished = true
  clearInterval(timer)
  const deadline = Date.now() + 6000
  while (done < sent && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
  process.stdout.write(JSON.stringify({ sent, done, failed: failed + (sent - done), byStatus, byEndpoint, byHost, errors }) + '\n')
  agent.destroy()
  process.exit(0)
}
process.stdout.write('started\n')
setTimeout(() => void finish(), o.durationMs)
process.on('SIGTERM', () => void finish())
