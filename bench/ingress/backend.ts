// The one backend both proxies forward to: a second nginx (one process, no master) answering
// every request with the same 100-byte body over keep-alive HTTP/1.1 on 127.0.0.1. nginx is
// the cheapest server at hand: on two cores the backend shares CPU with the proxy under
// test, so the lighter it is, the more of the measured difference is the proxies'.
import { join } from 'node:path'
import type { Cleanup } from '../lib/cleanup.ts'
import { freePort, waitForHttp, type ChildProcess } from '../lib/process.ts'
import { nginxPreamble, startNginx, tempPaths } from './nginx.ts'

export const BODY = `weft ingress bench backend: ${'x'.repeat(71)}\n`

export interface Backend {
  port: number
  process: ChildProcess
}

export function backendConfig(dir: string, port: number): string {
  return `${nginxPreamble(dir, 1, false)}
http {
${tempPaths(dir)}
  access_log off;
  keepalive_requests 100000000;
  keepalive_timeout 120s;
  server {
    listen 127.0.0.1:${port} backlog=4096;
    location / {
      default_type text/plain;
      return 200 "${BODY.replace('\n', '\\n')}";
    }
  }
}
`
}

export async function startBackend(cleanup: Cleanup, dir: string): Promise<Backend> {
  const port = await freePort()
  const proc = startNginx(cleanup, dir, backendConfig(dir, port), 'backend')
  await waitForHttp(`http://127.0.0.1:${port}/`, proc, (status, body) => status === 200 && body === BODY, 10_000)
  return { port, process: proc }
}
