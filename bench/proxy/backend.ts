// The backend pod: nginx (Debian nginx-light) answering every request with a 3-byte body,
// run in the foreground (no daemon, no master: the pid we start is the server) with its
// pid, log and temp paths in a temp dir.
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { run } from '../../src/netlink/index.ts'
import type { Cleanup } from '../lib/cleanup.ts'
import { sleep } from '../lib/clock.ts'
import { startProcess, type ChildProcess } from '../lib/process.ts'

export function nginxConfig(dir: string, workers: number): string {
  const tmp = join(dir, 'tmp')
  return `worker_processes ${workers};
daemon off;
master_process ${workers > 1 ? 'on' : 'off'};
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'error.log')} warn;
events { worker_connections 8192; }
http {
  access_log off;
  client_body_temp_path ${tmp};
  proxy_temp_path ${tmp};
  fastcgi_temp_path ${tmp};
  uwsgi_temp_path ${tmp};
  scgi_temp_path ${tmp};
  keepalive_requests 10000000;
  keepalive_timeout 120s;
  server {
    listen 80 backlog=4096;
    location / { return 200 "ok\\n"; }
  }
}
`
}

/** Starts nginx in `pod` and waits until it answers on `ip`:80. Stopped (by pid) at cleanup. */
export async function startBackend(cleanup: Cleanup, pod: string, ip: string, dir: string, workers: number): Promise<ChildProcess> {
  mkdirSync(join(dir, 'tmp'), { recursive: true })
  const conf = join(dir, 'nginx.conf')
  writeFileSync(conf, nginxConfig(dir, workers))
  // nsenter joins the namespace and execs nginx: the pid is nginx's own.
  const proc = startProcess(cleanup, 'nsenter', [`--net=/run/netns/${pod}`, '--', 'nginx', '-c', conf, '-p', dir], { logFile: join(dir, 'nginx.out') })
  for (let waited = 0; ; waited += 100) {
    const body = await run('nsenter', [`--net=/run/netns/${pod}`, '--', 'curl', '-s', '--max-time', '1', `http://${ip}/`]).catch(() => '')
    if (body === 'ok\n') return proc
    if (proc.exited || waited > 10_000) throw new Error(`nginx did not start in ${pod}:\n${proc.tail()}`)
    await sleep(100)
  }
}
