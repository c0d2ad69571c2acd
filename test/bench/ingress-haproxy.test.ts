// The HAProxy peer of bench/ingress: its maps route like the Ingress spec (Exact whole; Prefix
// by path element, the longest first), and `haproxy -c` accepts the config it writes.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { HAPROXY, haproxyConfig, haproxyMaps } from '../../bench/ingress/haproxy.ts'
import type { BenchRoute } from '../../bench/ingress/routes.ts'
import { selfSigned } from '../../ingress/self-signed.ts'

const routes: BenchRoute[] = [
  { name: 'r0', host: 'a.test', paths: [{ path: '/', type: 'Prefix' }, { path: '/p1', type: 'Prefix' }], service: 'svc-0', tls: true },
  { name: 'r1', host: 'a.test', paths: [{ path: '/p10/', type: 'Prefix' }, { path: '/e1/x', type: 'Exact' }], service: 'svc-1', tls: true },
]

t.test('the maps', async (t) => {
  const { exact, prefix } = haproxyMaps(routes)
  t.equal(exact, 'a.test/e1/x svc-1\na.test/p10 svc-1\na.test/p1 svc-0\n', 'Exact paths and Prefix bases, matched whole')
  t.equal(prefix, 'a.test/p10/ svc-1\na.test/p1/ svc-0\na.test/ svc-0\n', 'Prefix subtrees, longest first (/p1/ does not take /p10/x, nor /p1 take /p10)')
})

t.test('haproxy -c accepts the config', { skip: existsSync(HAPROXY) ? false : `${HAPROXY} is not installed` }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-haproxy-test-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const cert = await selfSigned(['a.test'])
  writeFileSync(join(dir, 'bench.pem'), `${cert.cert}${cert.key}`)
  const maps = haproxyMaps(routes)
  writeFileSync(join(dir, 'exact.map'), maps.exact)
  writeFileSync(join(dir, 'prefix.map'), maps.prefix)
  const conf = join(dir, 'haproxy.cfg')
  writeFileSync(conf, haproxyConfig({ dir, threads: 1, httpPort: 1080, httpsPort: 1443, backendPort: 1081, cert: { certFile: '', keyFile: '', cert: cert.cert, key: cert.key }, routes }))
  const r = spawnSync(HAPROXY, ['-c', '-f', conf], { encoding: 'utf8' })
  t.equal(r.status, 0, `${r.stdout}${r.stderr}`)
})
