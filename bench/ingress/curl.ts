// One request through a proxy with curl, naming the Ingress host in the Host header (TLS:
// SNI 127.0.0.1, certificate not verified).
import { execFile } from 'node:child_process'
import { sleep } from '../lib/clock.ts'
import type { ChildProcess } from '../lib/process.ts'

export interface CurlAnswer {
  status: number
  body: string
}

export function curl(scheme: 'http' | 'https', port: number, host: string, path: string): Promise<CurlAnswer> {
  return new Promise((resolve, reject) => {
    execFile('curl', ['-sk', '--max-time', '2', '-H', `Host: ${host}`, '-w', '\n%{http_code}', `${scheme}://127.0.0.1:${port}${path}`], (err, stdout) => {
      if (err) return reject(new Error(`curl ${scheme}://127.0.0.1:${port}${path} (Host ${host}) failed: ${err.message}`))
      const nl = stdout.lastIndexOf('\n')
      resolve({ status: Number(stdout.slice(nl + 1)), body: stdout.slice(0, nl) })
    })
  })
}

/** Waits until both schemes answer 200 with `body`; throws with the proxy's log tail otherwise. */
export async function waitForBody(label: string, proc: ChildProcess, ports: { http: number; https: number }, host: string, path: string, body: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let last = ''
  while (Date.now() < deadline && !proc.exited) {
    const answers = await Promise.all([curl('http', ports.http, host, path), curl('https', ports.https, host, path)]).catch((err: Error) => err)
    if (!(answers instanceof Error) && answers.every((a) => a.status === 200 && a.body === body)) return
    last = answers instanceof Error ? answers.message : answers.map((a) => `${a.status} ${a.body.slice(0, 200)}`).join(' | ')
    await sleep(100)
  }
  throw new Error(`${label} does not return the backend's body for ${host}${path} (last: ${last})${proc.exited ? ' (the process exited)' : ''}; log ${proc.logFile}:\n${proc.tail()}`)
}
