// HAProxy as the second peer proxy, configured from the same route list as weft's Ingresses
// and nginx.conf: one frontend with an HTTP and an HTTPS bind (the bench certificate), routing
// by Host + path through two map files (Exact paths and Prefix bases whole, then Prefix
// subtrees by longest match), one backend per Service with reused keep-alive connections to
// the shared backend, the headers weft adds upstream, no logs. Runs in the foreground (-db)
// with everything in its own dir; stopped by pid.
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Cleanup } from '../lib/cleanup.ts'
import { startProcess, type ChildProcess } from '../lib/process.ts'
import type { BenchCert } from './cert.ts'
import type { BenchRoute } from './routes.ts'

export const HAPROXY = '/usr/sbin/haproxy'

export interface HaproxyConfig {
  dir: string
  /** nbthread */
  threads: number
  httpPort: number
  httpsPort: number
  backendPort: number
  cert: BenchCert
  routes: readonly BenchRoute[]
}

/** The two maps: `host/path` → backend. Exact paths and Prefix bases match whole; Prefix subtrees (`base/`) by the longest key that begins the request's. */
export function haproxyMaps(routes: readonly BenchRoute[]): { exact: string; prefix: string } {
  const exact = new Map<string, string>()
  const prefix = new Map<string, string>()
  for (const r of routes) {
    for (const p of r.paths) {
      const base = p.path.replace(/\/+$/, '')
      if (p.type === 'Exact') exact.set(`${r.host}${p.path}`, r.service)
      else {
        if (base !== '') exact.set(`${r.host}${base}`, r.service)
        prefix.set(`${r.host}${base}/`, r.service)
      }
    }
  }
  // First match in file order, whichever way HAProxy indexes the map: longest keys first is the longest match.
  const lines = (m: Map<string, string>) => [...m].sort(([a], [b]) => b.length - a.length || (a < b ? -1 : 1)).map(([k, v]) => `${k} ${v}\n`).join('')
  return { exact: lines(exact), prefix: lines(prefix) }
}

export function haproxyConfig(c: HaproxyConfig): string {
  const services = [...new Set(c.routes.map((r) => r.service))].sort()
  return `global
  nbthread ${c.threads}
  maxconn 8000
  ssl-default-bind-options ssl-min-ver TLSv1.2

defaults
  mode http
  option http-keep-alive
  http-reuse always
  timeout connect 5s
  timeout client 75s
  timeout server 60s
  timeout http-keep-alive 75s
  timeout http-request 10s

frontend ingress
  bind 127.0.0.1:${c.httpPort}
  bind 127.0.0.1:${c.httpsPort} ssl crt ${join(c.dir, 'bench.pem')} alpn h2,http/1.1
  # The headers weft sends upstream (ingress/headers.ts), so every proxy does the same work.
  option forwardfor
  http-request set-header X-Real-IP %[src]
  http-request set-var(txn.proto) str(https) if { ssl_fc }
  http-request set-var(txn.proto) str(http) unless { ssl_fc }
  http-request set-header X-Forwarded-Proto %[var(txn.proto)]
  http-request set-header X-Forwarded-Host %[req.hdr(host)]
  http-request set-header X-Forwarded-Port %[dst_port]
  http-request set-header Forwarded "for=%[src];host=%[req.hdr(host)];proto=%[var(txn.proto)]"
  http-request set-header Via "1.1 weft"
  http-response set-header Via "1.1 weft"
  use_backend %[base,map_str(${join(c.dir, 'exact.map')})] if { base,map_str(${join(c.dir, 'exact.map')}) -m found }
  use_backend %[base,map_beg(${join(c.dir, 'prefix.map')})] if { base,map_beg(${join(c.dir, 'prefix.map')}) -m found }
  default_backend not-found

backend not-found
  http-request return status 404

${services.map((s) => `backend ${s}\n  server s1 127.0.0.1:${c.backendPort}\n`).join('\n')}`
}

/** Writes the config, maps and combined PEM into `c.dir`, checks the config (-c) and starts HAProxy in the foreground. */
export function startHaproxy(cleanup: Cleanup, c: HaproxyConfig, label: string): ChildProcess {
  const conf = join(c.dir, 'haproxy.cfg')
  writeFileSync(join(c.dir, 'bench.pem'), `${readFileSync(c.cert.certFile, 'utf8')}${readFileSync(c.cert.keyFile, 'utf8')}`, { mode: 0o600 })
  const maps = haproxyMaps(c.routes)
  writeFileSync(join(c.dir, 'exact.map'), maps.exact)
  writeFileSync(join(c.dir, 'prefix.map'), maps.prefix)
  writeFileSync(conf, haproxyConfig(c))
  return startProcess(cleanup, HAPROXY, ['-db', '-f', conf], { logFile: join(c.dir, `${label}.out`), cwd: c.dir })
}
