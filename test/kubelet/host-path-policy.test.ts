import t from 'tap'
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { hostPathRefusal, parseAllowedHostPaths } from '../../src/kubelet/host-path-policy.ts'

t.test('--allow-host-path: absolute prefixes only, never /', async (t) => {
  t.same(parseAllowedHostPaths(''), [])
  t.same(parseAllowedHostPaths('/srv/data, /var/log/'), ['/srv/data', '/var/log'])
  t.throws(() => parseAllowedHostPaths('data'), /must be an absolute path/)
  t.throws(() => parseAllowedHostPaths('/srv/../'), /would allow every host path/)
})

t.test('a hostPath is allowed only under an allowed prefix, judged where its links lead', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-hostpath-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const allowed = join(dir, 'allowed')
  mkdirSync(join(allowed, 'sub'), { recursive: true })
  symlinkSync('/etc', join(allowed, 'escape'))
  t.match(hostPathRefusal('v', '/etc', []), /not allowed on this node: it allows no hostPath at all/, 'none by default')
  t.equal(hostPathRefusal('v', allowed, [allowed]), undefined)
  t.equal(hostPathRefusal('v', join(allowed, 'sub'), [allowed]), undefined)
  t.equal(hostPathRefusal('v', join(allowed, 'not-yet'), [allowed]), undefined, 'a path to be created under the prefix')
  t.match(hostPathRefusal('v', join(allowed, 'escape'), [allowed]), /→ \/etc\) is not allowed/, 'a link out is judged by its target')
  t.match(hostPathRefusal('v', join(allowed, '..', 'other'), [allowed]), /not allowed/, '.. does not escape the check')
  t.match(hostPathRefusal('v', `${allowed}-sibling`, [allowed]), /not allowed/, 'a prefix is a directory, not a string prefix')
  t.match(hostPathRefusal('v', 'relative', [allowed]), /must be absolute/)
})
