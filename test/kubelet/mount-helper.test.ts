import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { mountHelper } from '../../src/kubelet/runtime/mount-helper.ts'

// Each case runs the helper in a mount namespace of its own (private propagation), so no
// mount reaches the host's; a shell there reports what it made.
const helper = mountHelper()

function inMountNamespace(script: string, dir: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script, 'sh', helper, dir], { encoding: 'utf8' })
  return { status: r.status, stdout: r.stdout, stderr: r.stderr }
}

t.test('a batch of mounts, directories, files and links in one run', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-mh-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const r = inMountNamespace(
    `H=$1 d=$2/dev
"$H" mkdir "$d" 0700 mount tmpfs weft-dev "$d" mode=0755,size=64k,nosuid,noexec \\
  touch "$d/null" mount - /dev/null "$d/null" bind \\
  mkdir "$d/pts" 0755 mount devpts devpts "$d/pts" newinstance,ptmxmode=0666,mode=0620,nosuid,noexec \\
  mkdir "$d/shm" 1777 symlink pts/ptmx "$d/ptmx" copyattr / "$d/shm" || exit 9
grep " $d " /proc/self/mountinfo | cut -d' ' -f5-
grep " $d/pts " /proc/self/mountinfo | cut -d' ' -f5-
stat -c '%a %F' "$d" "$d/shm"
readlink "$d/ptmx"
echo x >"$d/null" && echo null-writable`,
    dir,
  )
  t.equal(r.status, 0, r.stderr)
  const lines = r.stdout.trim().split('\n')
  t.match(lines[0], /^\S+ rw,nosuid,noexec\S* - tmpfs weft-dev rw,size=64k,mode=755/, 'tmpfs with its flags split from its data')
  t.match(lines[1], /nosuid,noexec.* - devpts devpts rw,mode=620,ptmxmode=666/, 'a new devpts instance')
  t.equal(lines[2], '755 directory', 'the tmpfs root has the mode given')
  t.equal(lines[3], '755 directory', 'copyattr gave shm the mode of /')
  t.equal(lines[4], 'pts/ptmx')
  t.equal(lines[5], 'null-writable', '/dev/null bound onto a file')
})

t.test('a read-only bind remount keeps the flags the mount had', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-mh-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const r = inMountNamespace(
    `H=$1 d=$2
"$H" mkdir "$d/a" 0755 mkdir "$d/b" 0755 mount tmpfs t "$d/a" nosuid,nodev,noexec mount - "$d/a" "$d/b" bind mount - - "$d/b" remount,bind,ro || exit 9
grep " $d/b " /proc/self/mountinfo | cut -d' ' -f6
touch "$d/b/f" 2>/dev/null && echo writable || echo read-only
touch "$d/a/f" && echo source-writable`,
    dir,
  )
  t.equal(r.status, 0, r.stderr)
  const [flags, bound, source] = r.stdout.trim().split('\n')
  t.match(flags, /^ro,nosuid,nodev,noexec/, 'ro added, nosuid/nodev/noexec kept')
  t.equal(bound, 'read-only')
  t.equal(source, 'source-writable', 'the source mount stays writable')
})

t.test('the first failure stops the batch and says which operation failed', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-mh-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const failed = inMountNamespace(`"$1" mkdir "$2/x" 0755 mount - "$2/missing" "$2/x" bind mkdir "$2/after" 0755; echo "rc=$?"; [ -e "$2/after" ] && echo after-made`, dir)
  t.match(failed.stderr, /^weft-mounts: mount .*\/x: No such file or directory\n$/)
  t.equal(failed.stdout.trim(), 'rc=1', 'exit 1, and nothing after the failure ran')
  for (const [args, why] of [
    ['bogus', 'an unknown operation'],
    ['mount tmpfs t', 'missing arguments'],
    [`mkdir "$2/y" 0789`, 'a mode that is not octal'],
    [`mkdir "$2/y" 17777`, 'a mode beyond 07777'],
    [`mount - - "$2" unbindable,ro`, 'a propagation change mixed with other flags'],
  ]) {
    const r = inMountNamespace(`"$1" ${args}; echo "rc=$?"`, dir)
    t.not(r.stdout.trim(), 'rc=0', `${why} is refused`)
    t.match(r.stderr, /^weft-mounts: /, `${why}: one line that says so`)
  }
})

t.test('rodisks: the disk filesystems of the mount table, read-only under a root, where their directory exists', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-mh-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  // A bind of a directory of the disk the temp dir is on is a disk filesystem's mount (ext4 or
  // the like) in the table; the root gets a directory for it, and none for a second one.
  const r = inMountNamespace(
    `H=$1 d=$2
fs=$(stat -f -c %T "$d")
case $fs in ext2/ext3|xfs|btrfs) ;; *) echo "skip $fs"; exit 0 ;; esac
mkdir -p "$d/src" "$d/disk" "$d/other" "$d/root$d/disk" && echo data >"$d/src/f" &&
  mount --bind "$d/src" "$d/disk" && mount --bind "$d/src" "$d/other" || exit 9
"$H" rodisks "$d/root" || exit 8
cat "$d/root$d/disk/f"
echo x >"$d/root$d/disk/g" 2>/dev/null && echo writable || echo read-only
[ -e "$d/root$d/other" ] && echo other-made || echo no-other`,
    dir,
  )
  t.equal(r.status, 0, r.stderr)
  if (r.stdout.startsWith('skip')) {
    t.comment(`the temp dir is on ${r.stdout.trim().slice(5)}, not a disk filesystem: nothing more to check here`)
    return
  }
  t.same(r.stdout.trim().split('\n'), ['data', 'read-only', 'no-other'])
})

t.test('paths are argv words: spaces and leading dashes are names, not options', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'weft mh -'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const r = inMountNamespace(`"$1" mkdir "$2/-o ro" 0755 mount tmpfs t "$2/-o ro" size=64k && grep -c tmpfs /proc/self/mountinfo >/dev/null && stat -c %F "$2/-o ro"`, dir)
  t.equal(r.status, 0, r.stderr)
  t.equal(r.stdout.trim(), 'directory')
})
