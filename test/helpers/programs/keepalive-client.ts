// One kept-alive HTTP connection for end-to-end tests, run inside a namespace: a request on
// it every 500 ms (often enough that the server never closes it as idle) until stdin closes;
// prints one JSON line for the first request, then a summary:
// {ok, failed, localPorts: [distinct local ports used], errors}.
import { Agent, get } from 'node:http'

const url = process.argv[2]!
const agent = new Agent({ keepAlive: true, maxSockets: 1 })
let stop = false
process.stdin.on('data', () => undefined)
process.stdin.on('end', () => (stop = true))

function request(): Promise<{ status?: number; localPort?: number; error?: string }> {
  return new Promise((resolve) => {
    const req = get(url, { agent, timeout: 3000 }, (res) => {
      res.resume()
      res.on('end', () => resolve({ status: res.statusCode, localPort: req.socket?.localPort }))
    })
    req.on('timeout', () => req.destroy(new Error('timeout')))
    req.on('error', (err) => resolve({ error: err.message }))
  })
}

let ok = 0
const errors: string[] = []
const ports = new Set<number>()
let first = true
while (!stop) {
  const r = await request()
  if (r.status === 200) ok++
  else errors.push(r.error ?? `status ${r.status}`)
  if (r.localPort) ports.add(r.localPort)
  if (first) process.stdout.write(JSON.stringify(r) + '\n')
  first = false
  await new Promise((done) => setTimeout(done, 500))
}
process.stdout.write(JSON.stringify({ ok, failed: errors.length, localPorts: [...ports], errors: errors.slice(0, 5) }) + '\n')
agent.destroy()
