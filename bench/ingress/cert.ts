// The one certificate both proxies serve: self-signed ECDSA P-256 made with openssl. Its SANs
// cover bench.test, *.bench.test and "127.0.0.1" as a DNS name too: wrk sends the URL's host
// as SNI (here 127.0.0.1), and weft picks a bound Secret's certificate by its SAN DNS names.
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'

export interface BenchCert {
  certFile: string
  keyFile: string
  cert: string
  key: string
}

export function makeCert(dir: string): BenchCert {
  const certFile = join(dir, 'tls.crt')
  const keyFile = join(dir, 'tls.key')
  execFileSync(
    'openssl',
    [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', keyFile, '-out', certFile, '-days', '30', '-subj', '/CN=bench.test',
      '-addext', 'subjectAltName=DNS:bench.test,DNS:*.bench.test,DNS:127.0.0.1,IP:127.0.0.1',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  )
  return { certFile, keyFile, cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8') }
}
