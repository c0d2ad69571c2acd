import { lstatSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync, chmodSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { setVolumeOwnership } from '../../src/kubelet/volume-ownership.ts'

if (process.getuid?.() !== 0) t.plan(0, 'chown needs root')

function tree(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'weft-own-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  mkdirSync(join(dir, 'sub'), { mode: 0o700 })
  writeFileSync(join(dir, 'sub', 'key'), 'x', { mode: 0o600 })
  writeFileSync(join(dir, 'top'), 'y', { mode: 0o644 })
  chmodSync(join(dir, 'sub'), 0o700)
  chmodSync(join(dir, 'sub', 'key'), 0o600)
  symlinkSync('/etc/passwd', join(dir, 'link'))
  return dir
}

const mode = (p: string) => lstatSync(p).mode & 0o7777
const gid = (p: string) => lstatSync(p).gid

t.test('a writable volume: group rw, directories setgid and searchable; links re-owned, not followed', async (t) => {
  const dir = tree(t)
  await setVolumeOwnership(dir, 4321, false, undefined)
  t.same([gid(dir), gid(join(dir, 'sub')), gid(join(dir, 'sub', 'key')), gid(join(dir, 'link'))], [4321, 4321, 4321, 4321])
  t.equal(mode(join(dir, 'sub')), 0o2770)
  t.equal(mode(join(dir, 'sub', 'key')), 0o660)
  t.equal(mode(join(dir, 'top')), 0o664)
  t.not(lstatSync('/etc/passwd').gid, 4321, 'the link target is untouched')
})

t.test('a read-only volume (secret, configMap): group read only', async (t) => {
  const dir = tree(t)
  await setVolumeOwnership(dir, 4321, true, undefined)
  t.equal(mode(join(dir, 'sub', 'key')), 0o640)
  t.equal(mode(join(dir, 'sub')), 0o2750)
})

t.test('OnRootMismatch: a root that already matches is left alone; Always walks again', async (t) => {
  const dir = tree(t)
  await setVolumeOwnership(dir, 4321, false, undefined)
  writeFileSync(join(dir, 'new'), 'z', { mode: 0o600 })
  chmodSync(join(dir, 'new'), 0o600)
  await setVolumeOwnership(dir, 4321, false, 'OnRootMismatch')
  t.equal(mode(join(dir, 'new')), 0o600, 'skipped: the root matched')
  await setVolumeOwnership(dir, 4321, false, 'Always')
  t.equal(mode(join(dir, 'new')), 0o660)
})
