// nginx processes for the benchmark: the peer proxy (configured from the same route list as
// weft's Ingresses) and the shared backend. Each runs in the foreground with its own config,
// prefix, pid file and logs in a temp dir, listening on 127.0.0.1 only; stopped by pid.
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Cleanup } from '../lib/cleanup.ts'
import { startProcess, type ChildProcess } from '../lib/process.ts'
import type { BenchCert } from './cert.ts'
import { NGINX } from './deps.ts'
import type { BenchRoute } from './routes.ts'

/** The lines every config starts with: foreground, pid and error log inside `dir`. */
export function nginxPreamble(dir: string, workers: number, master: boolean): string {
  return `daemon off;
master_process ${master ? 'on' : 'off'};
worker_processes ${workers};
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'error.log')} warn;
events { worker_connections 16384; }
`
}

/** http-level temp paths inside `dir`, so nginx writes nothing outside it. */
export function tempPaths(dir: string): string {
  const tmp = join(dir, 'tmp')
  return ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((k) => `  ${k}_temp_path ${tmp};`).join('\n')
}

export interface ProxyConfig {
  dir: string
  workers: number
  httpPort: number
  httpsPort: number
  backendPort: number
  cert: BenchCert
  routes: readonly BenchRoute[]
  /** Where access lines go; undefined: access_log off (weft's access log is off at WEFT_LOG_LEVEL=warn). */
  accessLog?: string
}

function locations(route: BenchRoute): string[] {
  const to = `proxy_pass http://${route.service};`
  return route.paths.flatMap((p) => {
    if (p.type === 'Exact') return [`location = ${p.path} { ${to} }`]
    if (p.path === '/') return [`location / { ${to} }`]
    const base = p.path.replace(/\/+$/, '')
    return [`location = ${base} { ${to} }`, `location ${base}/ { ${to} }`]
  })
}

/** nginx.conf for the peer proxy: one server per host with every Ingress path of that host, one keep-alive upstream per Service. */
export function proxyConfig(c: ProxyConfig): string {
  const byHost = new Map<string, string[]>()
  for (const r of c.routes) byHost.set(r.host, [...(byHost.get(r.host) ?? []), ...locations(r)])
  const services = [...new Set(c.routes.map((r) => r.service))].sort()
  const listen = (extra: string) => `    listen 127.0.0.1:${c.httpPort}${extra};\n    listen 127.0.0.1:${c.httpsPort} ssl http2${extra};\n`
  return `${nginxPreamble(c.dir, c.workers, true)}
http {
${tempPaths(c.dir)}
  access_log ${c.accessLog ?? 'off'};
  default_type application/octet-stream;
  # Node's server has no per-connection request limit; nginx's default (1000) would add a reconnect every 1000 requests.
  keepalive_requests 100000000;
  keepalive_timeout 75s;
  server_names_hash_bucket_size 128;
  ssl_protocols TLSv1.2 TLSv1.3;
  ssl_certificate ${c.cert.certFile};
  ssl_certificate_key ${c.cert.keyFile};
  proxy_http_version 1.1;
  # The headers weft sends upstream (ingress/headers.ts), so both proxies do the same work.
  proxy_set_header Connection "";
  proxy_set_header Host $http_host;
  proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
  proxy_set_header X-Real-IP $remote_addr;
  proxy_set_header X-Forwarded-Proto $scheme;
  proxy_set_header X-Forwarded-Host $http_host;
  proxy_set_header X-Forwarded-Port $server_port;
  proxy_set_header Forwarded "for=$remote_addr;host=$http_host;proto=$scheme";
  proxy_set_header Via "1.1 weft";
  add_header Via "1.1 weft" always;
${services.map((s) => `  upstream ${s} {\n    server 127.0.0.1:${c.backendPort};\n    keepalive 64;\n    keepalive_requests 100000000;\n  }`).join('\n')}
  server {
${listen(' default_server')}    server_name _;
    return 404;
  }
${[...byHost]
  .map(([host, locs]) => `  server {\n${listen('')}    server_name ${host};\n${locs.map((l) => `    ${l}`).join('\n')}\n  }`)
  .join('\n')}
}
`
}

/** Starts nginx with `config` as `dir`/nginx.conf (checked with -t first). */
export function startNginx(cleanup: Cleanup, dir: string, config: string, label: string): ChildProcess {
  mkdirSync(join(dir, 'tmp'), { recursive: true })
  const conf = join(dir, 'nginx.conf')
  writeFileSync(conf, config)
  // The master's pid is the one we start (daemon off); SIGTERM makes it stop its workers and exit.
  return startProcess(cleanup, NGINX, ['-c', conf, '-p', dir, '-e', join(dir, 'error.log')], { logFile: join(dir, `${label}.out`) })
}
