// isMountPoint against the kernel, in a mount namespace of the test's own (private
// propagation: nothing reaches the host's): the cheap answers and the mount table's agree.
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'

const mounts = new URL('../../src/netlink/mounts.ts', import.meta.url).href

t.test('nsfs and tmpfs mounts, a same-filesystem bind, a plain file, nothing', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-mp-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const script = `
d=$1
: >"$d/uts" && unshare --uts="$d/uts" true || exit 9
mkdir "$d/tmp" "$d/src" "$d/bound" && mount -t tmpfs t "$d/tmp" && mount --bind "$d/src" "$d/bound" || exit 9
: >"$d/plain"
exec "$2" --disable-warning=ExperimentalWarning --input-type=module -e '
const { isMountPoint } = await import(process.argv[1])
const d = process.argv[2]
console.log(JSON.stringify(Object.fromEntries(["uts", "tmp", "bound", "src", "plain", "missing"].map((n) => [n, isMountPoint(d + "/" + n)]))))
' "${mounts}" "$d"`
  const r = spawnSync('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script, 'sh', dir, process.execPath], { encoding: 'utf8' })
  t.equal(r.status, 0, r.stderr)
  t.same(JSON.parse(r.stdout), { uts: true, tmp: true, bound: true, src: false, plain: false, missing: false })
})
