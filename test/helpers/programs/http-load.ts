// A retry-free HTTP load loop for end-to-end tests, run inside a namespace: one request per
// new connection, sequential, until stdin closes or a line arrives; prints {ok, failed, errors}.
import { get } from 'node:http'

const url = process.argv[2]!
let stop = false
process.stdin.on('data', () => (stop = true))
process.stdin.on('end', () => (stop = true))

function once(): Promise<string | undefined> {
  return new Promise((resolve) => {
    const req = get(url, { agent: false, timeout: 3000 }, (res) => {
      res.resume()
      res.on('end', () => resolve(res.statusCode === 200 ? undefined : `status ${res.statusCode}`))
      res.on('error', (err) => resolve(err.message))
    })
    req.on('timeout', () => req.destroy(new Error('timeout')))
    req.on('error', (err) => resolve(err.message))
  })
}

let ok = 0
const errors: string[] = []
while (!stop) {
  const err = await once()
  if (err === undefined) ok++
  else errors.push(err)
}
process.stdout.write(JSON.stringify({ ok, failed: errors.length, errors: errors.slice(0, 10) }) + '\n')
