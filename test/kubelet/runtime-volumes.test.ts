// Pod volumes on the node: the kubelet's ..data layout, tmpfs for secret-like volumes,
// updates that running containers see, and nothing left mounted afterwards.
import { execFileSync } from 'node:child_process'
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { listMountsUnder, mountEntries, type MountEntry } from '../../src/netlink/mounts.ts'
import { createSandbox, listSandboxes, readLog, removeSandbox, startContainer, stopContainer, volumePath, watchExit, writePodFiles, type Sandbox } from '../../src/kubelet/runtime/index.ts'

interface Teardown {
  teardown(fn: () => unknown): void
}

function tempDir(t: Teardown): string {
  const dir = mkdtempSync(join(tmpdir(), 'weft-vol-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

// Mounts still present if the process ends without running teardowns.
const live = new Set<string>()
process.once('exit', () => {
  for (const dir of live) {
    try {
      execFileSync('sh', ['-c', `findmnt -rn -o TARGET | grep -F -- "$0" | sort -r | xargs -r -n1 umount -l`, dir], { stdio: 'ignore' })
    } catch {
      // Best effort on the way out.
    }
  }
})

let pods = 0
async function sandbox(t: Teardown, dataDir: string): Promise<Sandbox> {
  const n = ++pods
  // hostNetwork: these tests need no network namespace.
  const sb = await createSandbox({ dataDir, uid: `vol-uid-${process.pid}-${n}`, namespace: 'default', name: `pod-${n}`, hostname: `pod-${n}` })
  live.add(sb.dir)
  t.teardown(async () => {
    await removeSandbox(sb)
    live.delete(sb.dir)
  })
  return sb
}

/** The mount at exactly `path`: its type, mount options and super options. */
function mountAt(path: string): MountEntry | undefined {
  return mountEntries().find((e) => e.target === path)
}

t.test('secret-like volumes each live on a private tmpfs; others on disk; all in the ..data layout', async (t) => {
  const dataDir = tempDir(t)
  const sb = await sandbox(t, dataDir)
  await writePodFiles(sb, {
    volumes: [
      { name: 'token', memory: true, files: [{ path: 'token', data: 's3cr3t', mode: 0o600 }, { path: 'ca.crt', data: 'CA', mode: 0o644 }] },
      { name: 'scripts', memory: true, files: [{ path: 'run.sh', data: '#!/bin/sh\necho ran\n', mode: 0o755 }] },
      { name: 'config', files: [{ path: 'app.conf', data: 'a=1\n', mode: 0o644 }] },
      { name: 'cache', memory: true, sizeLimit: 2 * 1024 * 1024 },
      { name: 'scratch' },
    ],
  })
  const token = volumePath(sb.dir, 'token')
  const m = mountAt(token)
  t.equal(m?.fstype, 'tmpfs', 'the secret volume is a tmpfs')
  for (const o of ['nosuid', 'nodev', 'noexec']) t.ok(m?.options.includes(o), o)
  t.ok(m?.superOptions.includes('mode=755'), 'mode 0755: a container of any user reads it (the pod dir above is 0700)')
  t.match(m?.superOptions.join(','), /size=\d+k/, 'size-limited')
  t.equal(statSync(token).mode & 0o777, 0o755)
  t.equal(statSync(sb.dir).mode & 0o777, 0o700, 'the pod directory keeps other host users out')
  t.equal(readFileSync(join(token, 'token'), 'utf8'), 's3cr3t')
  t.equal(statSync(join(token, 'token')).mode & 0o777, 0o600)
  t.equal(readlinkSync(join(token, 'token')), '..data/token')
  t.notOk(mountAt(volumePath(sb.dir, 'scripts'))?.options.includes('noexec'), 'a payload with an executable file may be executed')
  t.equal(mountAt(volumePath(sb.dir, 'config')), undefined, 'configMap volumes stay on disk')
  t.equal(readlinkSync(join(volumePath(sb.dir, 'config'), 'app.conf')), '..data/app.conf')
  t.ok(mountAt(volumePath(sb.dir, 'cache'))?.superOptions.includes('size=2048k'), 'a Memory emptyDir has its sizeLimit')
  t.equal(mountAt(volumePath(sb.dir, 'scratch')), undefined)
  t.equal(statSync(volumePath(sb.dir, 'config')).mode & 0o777, 0o755, 'a configMap volume is 0755, as upstream')
  for (const v of ['scratch', 'cache']) t.equal(statSync(volumePath(sb.dir, v)).mode & 0o777, 0o777, `the emptyDir ${v} is 0777, as upstream`)

  // A bigger payload grows the tmpfs.
  const big = 'x'.repeat(3 * 1024 * 1024)
  await writePodFiles(sb, { volumes: [{ name: 'token', memory: true, files: [{ path: 'token', data: big, mode: 0o600 }] }] })
  t.equal(readFileSync(join(token, 'token'), 'utf8'), big)

  // The next agent after a SIGKILL finds the sandbox on disk and removes it: nothing stays mounted.
  t.ok(listMountsUnder(dataDir).length >= 3)
  const [found] = await listSandboxes(dataDir)
  await removeSandbox(found!)
  t.same(listMountsUnder(dataDir), [], 'every tmpfs is unmounted')
})

t.test('an emptyDir is made 0777 once; writing the volumes again (a container start) leaves the mode a container gave it', async (t) => {
  const dataDir = tempDir(t)
  const sb = await sandbox(t, dataDir)
  const volumes = [{ name: 'scratch' }, { name: 'cache', memory: true, sizeLimit: 1024 * 1024 }]
  await writePodFiles(sb, { volumes })
  for (const v of volumes) {
    t.equal(statSync(volumePath(sb.dir, v.name)).mode & 0o777, 0o777, `${v.name} is made 0777`)
    chmodSync(volumePath(sb.dir, v.name), 0o755)
  }
  await writePodFiles(sb, { volumes })
  for (const v of volumes) t.equal(statSync(volumePath(sb.dir, v.name)).mode & 0o777, 0o755, `${v.name} keeps its mode`)
  t.equal(mountAt(volumePath(sb.dir, 'cache'))?.fstype, 'tmpfs', 'the Memory one is still its tmpfs')
})

t.test('a running container sees its volumes updated, atomically', async (t) => {
  const dataDir = tempDir(t)
  const targets = tempDir(t)
  const sb = await sandbox(t, dataDir)
  const volumes = (v: string) => [
    { name: 'config', files: [{ path: 'value', data: `config-${v}`, mode: 0o644 }] },
    { name: 'secret', memory: true, files: [{ path: 'value', data: `secret-${v}`, mode: 0o600 }] },
  ]
  await writePodFiles(sb, { volumes: volumes('one') })
  for (const d of ['config', 'secret']) mkdirSync(join(targets, d))
  const proc = await startContainer(sb, {
    name: 'reader',
    argv: ['sh', '-c', `while :; do cat ${targets}/config/value; echo; cat ${targets}/secret/value; echo; sleep 0.05; done`],
    env: [],
    mounts: [
      { source: volumePath(sb.dir, 'config'), target: join(targets, 'config'), readOnly: true },
      { source: volumePath(sb.dir, 'secret'), target: join(targets, 'secret'), readOnly: true },
    ],
    restartCount: 0,
  })
  t.teardown(() => stopContainer(proc, 0))
  const seen = async (text: string): Promise<boolean> => {
    const deadline = Date.now() + 5000
    while (Date.now() < deadline) {
      if ((await readLog(proc.logPath)).includes(text)) return true
      await new Promise((r) => setTimeout(r, 50))
    }
    return false
  }
  t.ok(await seen('config-one\nsecret-one\n'), 'the first contents')
  await writePodFiles(sb, { volumes: volumes('two') })
  t.ok(await seen('config-two\n'), 'the configMap-like volume was updated in the running container')
  t.ok(await seen('secret-two\n'), 'so was the secret on its tmpfs')
  await stopContainer(proc, 0)
  const lines = (await readLog(proc.logPath)).split('\n').filter(Boolean)
  t.same(lines.filter((l) => !/^(config|secret)-(one|two)$/.test(l)), [], 'no read saw anything but a whole value')
  t.equal((await watchExit(proc)).exitCode, 137)
})

t.test('a secret volume an older weft wrote to disk stays there (its containers bound it) but gets the new layout', async (t) => {
  const dataDir = tempDir(t)
  const sb = await sandbox(t, dataDir)
  const dir = volumePath(sb.dir, 'token')
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, 'token'), 'old')
  await writePodFiles(sb, { volumes: [{ name: 'token', memory: true, files: [{ path: 'token', data: 'new', mode: 0o600 }] }] })
  t.equal(mountAt(dir), undefined, 'no tmpfs over a directory in use')
  t.equal(readlinkSync(join(dir, 'token')), '..data/token')
  t.equal(readFileSync(join(dir, 'token'), 'utf8'), 'new')
})
