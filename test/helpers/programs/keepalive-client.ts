// One kept-alive HTTP connection for end-to-end tests, run inside a namespace: a request,
// then another on the same connection each time a line arrives on stdin; prints one JSON
// line per request: {status, body, localPort} or {error}.
import { Agent, get } from 'node:http'
import { createInterface } from 'node:readline'

const url = process.argv[2]!
const agent = new Agent({ keepAlive: true, maxSockets: 1 })

function request(): Promise<object> {
  return new Promise((resolve) => {
    const req = get(url, { agent, timeout: 3000 }, (res) => {
      let body = ''
      res.on('data', (b: Buffer) => (body += b))
      res.on('end', () => resolve({ status: res.statusCode, body, localPort: req.socket?.localPort }))
    })
    req.on('timeout', () => req.destroy(new Error('timeout')))
    req.on('error', (err) => resolve({ error: err.message }))
  })
}

process.stdout.write(JSON.stringify(await request()) + '\n')
for await (const line of createInterface({ input: process.stdin })) {
  if (line === 'quit') break
  process.stdout.write(JSON.stringify(await request()) + '\n')
}
agent.destroy()
