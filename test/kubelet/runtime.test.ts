import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import t from 'tap'
import { listAddrs, netnsExists } from '../../src/netlink/index.ts'
import { utsHostname } from '../../src/netlink/held-namespace.ts'
import {
  adoptContainers,
  createSandbox,
  execInContainer,
  isRunning,
  listSandboxes,
  parseLogLine,
  readLog,
  removeSandbox,
  startContainer,
  StartError,
  stopContainer,
  volumePath,
  watchExit,
  writePodFiles,
  type ContainerProcess,
  type Sandbox,
  type VolumeMount,
} from '../../src/kubelet/runtime/index.ts'
import { uniqueName } from '../helpers/netns.ts'

interface Teardown {
  teardown(fn: () => unknown): void
}

function tempDir(t: Teardown): string {
  const dir = mkdtempSync(join(tmpdir(), 'weft-rt-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

// Sandboxes still present if the process ends without running teardowns.
const live = new Set<Sandbox>()
process.once('exit', () => {
  for (const sb of live) {
    for (const cmd of [['umount', sb.utsPath ?? ''], ['ip', 'netns', 'delete', sb.netns ?? '']]) {
      try {
        if (cmd.at(-1) !== '') execFileSync(cmd[0], cmd.slice(1), { stdio: 'ignore' })
      } catch {
        // Best effort on the way out.
      }
    }
    rmSync(sb.dir, { recursive: true, force: true })
  }
})

let pods = 0
async function sandbox(t: Teardown, dataDir: string, opts: { hostNetwork?: boolean } = {}): Promise<Sandbox> {
  const n = ++pods
  const sb = await createSandbox({
    dataDir,
    uid: `0000-uid-${process.pid}-${n}`,
    namespace: 'default',
    name: `pod-${n}`,
    hostname: `pod-${n}`,
    ...(opts.hostNetwork ? {} : { netns: uniqueName('rt') }),
  })
  live.add(sb)
  t.teardown(async () => {
    await removeSandbox(sb)
    live.delete(sb)
  })
  return sb
}

function mounted(path: string): boolean {
  return readFileSync('/proc/self/mountinfo', 'utf8').includes(` ${path} `)
}

function findmnt(under: string): string {
  try {
    return execFileSync('findmnt', ['-rn', '-o', 'TARGET'], { encoding: 'utf8' }).split('\n').filter((l) => l.startsWith(under)).join('\n')
  } catch {
    return ''
  }
}

t.test('a sandbox: its own netns with only lo, the pod hostname, a pod dir; removal leaves nothing', async (t) => {
  const dataDir = tempDir(t)
  const sb = await sandbox(t, dataDir)
  t.ok(sb.netns !== undefined && netnsExists(sb.netns))
  t.equal(sb.netnsPath, `/run/netns/${sb.netns}`)
  t.same((await listAddrs(undefined, sb.netns)).map((l) => l.ifname), ['lo'])
  t.equal(await utsHostname(sb.utsPath!), sb.hostname)
  t.not(await utsHostname(sb.utsPath!), execFileSync('hostname', { encoding: 'utf8' }).trim(), 'the host keeps its hostname')
  for (const d of [sb.dir, join(sb.dir, 'containers'), join(sb.dir, 'volumes')]) t.equal(statSync(d).mode & 0o777, 0o700, `${d} is private`)
  const listed = await listSandboxes(dataDir)
  t.same(listed.map((s) => [s.uid, s.namespace, s.name, s.netns]), [[sb.uid, 'default', sb.name, sb.netns]])
  await removeSandbox(sb)
  await removeSandbox(sb)
  t.notOk(netnsExists(sb.netns!), 'no netns')
  t.equal(findmnt(dataDir), '', 'no mounts')
  t.notOk(existsSync(sb.dir), 'no pod dir')
  t.same(await listSandboxes(dataDir), [])
})

t.test('a container sees the pod files, volumes, its env and workingDir; logs read back', async (t) => {
  const dataDir = tempDir(t)
  const hostRoot = tempDir(t)
  const sb = await sandbox(t, dataDir)
  await writePodFiles(sb, {
    hosts: '127.0.0.1\tlocalhost\n10.9.0.7\tpod-x\n',
    resolvConf: 'nameserver 10.96.0.10\nsearch default.svc.cluster.local\n',
    volumes: [
      { name: 'config', files: [{ path: 'app.conf', data: 'key=value\n' }, { path: 'sub/x', data: 'x\n', mode: 0o600 }] },
      { name: 'scratch' },
    ],
  })
  const configAt = join(hostRoot, 'etc', 'config')
  const scratchAt = join(hostRoot, 'scratch')
  const script = [
    'hostname',
    'cat /etc/hosts /etc/resolv.conf',
    `cat ${configAt}/app.conf`,
    `touch ${configAt}/new 2>/dev/null && echo config-writable || echo config-read-only`,
    `echo kept > ${scratchAt}/file`,
    'pwd',
    'ip -o link | cut -d: -f2',
    'echo to-stderr >&2',
    'exit 4',
  ].join('\n')
  const proc = await startContainer(sb, {
    name: 'main',
    argv: ['/bin/sh', '-c', script],
    env: [
      { name: 'GREETING', value: "it's a \"test\" $HOME\nsecond line" },
      { name: 'dotted.name', value: 'ok' },
    ],
    workingDir: '/tmp',
    mounts: [
      { source: volumePath(sb.dir, 'config'), target: configAt, readOnly: true },
      { source: volumePath(sb.dir, 'scratch'), target: scratchAt },
    ],
    restartCount: 0,
  })
  t.teardown(() => stopContainer(proc, 0))
  const exit = await watchExit(proc)
  t.equal(exit.exitCode, 4)
  t.match(exit.finishedAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/)
  const log = await readLog(proc.logPath)
  const lines = log.split('\n')
  t.equal(lines[0], sb.hostname)
  t.ok(log.includes('10.9.0.7\tpod-x\n'), '/etc/hosts is the pod file')
  t.ok(log.includes('nameserver 10.96.0.10\nsearch default.svc.cluster.local\n'), '/etc/resolv.conf is the pod file')
  t.ok(log.includes('key=value\n'), 'the configMap-like file is at its mountPath')
  t.ok(log.includes('config-read-only'), 'a readOnly mount is read-only')
  t.equal(readFileSync(join(volumePath(sb.dir, 'scratch'), 'file'), 'utf8'), 'kept\n', 'the emptyDir is the pod volume')
  t.ok(lines.includes('/tmp'), 'workingDir')
  t.ok(lines.includes(' lo'), 'only lo in the pod netns')
  t.notOk(lines.some((l) => l.includes('eth') || l.includes('veth')), 'no host links')
  // stdout and stderr go through separate pipes: their relative order is not kept.
  t.ok(lines.includes('to-stderr'))
  const stamped = await readLog(proc.logPath, { timestamps: true })
  t.match(stamped, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ pod-\d+\n/)
  const raw = readFileSync(proc.logPath, 'utf8').trim().split('\n')
  t.match(raw[0], /^\S+ stdout F pod-\d+$/)
  t.ok(raw.some((l) => /^\S+ stderr F to-stderr$/.test(l)))
  const envProc = await startContainer(sb, {
    name: 'env',
    argv: ['/usr/bin/env'],
    env: [
      { name: 'GREETING', value: "it's a \"test\" $HOME\nsecond line" },
      { name: 'dotted.name', value: 'ok' },
      { name: 'HOME', value: '/home/app' },
      { name: 'GREETING', value: 'the later duplicate wins' },
    ],
    restartCount: 0,
  })
  t.equal((await watchExit(envProc)).exitCode, 0)
  t.same((await readLog(envProc.logPath)).split('\n').sort(), [
    '',
    'GREETING=the later duplicate wins',
    'HOME=/home/app',
    'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    'dotted.name=ok',
  ], 'exactly the container env, with a PATH default')
  const envProc2 = await startContainer(sb, {
    name: 'env2',
    argv: ['/usr/bin/env'],
    env: [{ name: 'MULTI', value: "it's a \"test\" $HOME\nsecond line" }],
    restartCount: 0,
  })
  await watchExit(envProc2)
  t.equal(await readLog(envProc2.logPath), `PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\nHOME=/root\nMULTI=it's a "test" $HOME\nsecond line\n`, 'values kept verbatim')
  t.notOk(mounted('/etc/hosts'), 'the container mounts stay in its own mount namespace')
  t.equal(findmnt(hostRoot), '')

  // A second run (restart) keeps the emptyDir; writePodFiles prunes config files dropped.
  await writePodFiles(sb, { volumes: [{ name: 'config', files: [{ path: 'app.conf', data: 'key=2\n' }] }, { name: 'scratch' }] })
  t.notOk(existsSync(join(volumePath(sb.dir, 'config'), 'sub')))
  const again = await startContainer(sb, {
    name: 'main',
    argv: ['sh', '-c', `cat ${configAt}/app.conf ${scratchAt}/file`],
    env: [],
    mounts: [
      { source: volumePath(sb.dir, 'config'), target: configAt, readOnly: true },
      { source: volumePath(sb.dir, 'scratch'), target: scratchAt },
    ],
    restartCount: 1,
  })
  t.equal((await watchExit(again)).exitCode, 0)
  t.equal(await readLog(again.logPath), 'key=2\nkept\n')
  t.not(again.logPath, proc.logPath, 'one log per restart')

  t.notOk(existsSync(join(hostRoot, 'etc')), 'the missing mountPath was made in the container only, not on the host')
  await removeSandbox(sb)
  t.same(readdirSync(hostRoot), [], 'nothing is left on the host')
})

t.test("a missing mountPath is made in the container's view only, never on the host", async (t) => {
  const dataDir = tempDir(t)
  const hostRoot = tempDir(t)
  const sb = await sandbox(t, dataDir)
  await writePodFiles(sb, { volumes: [{ name: 'v', files: [{ path: 'key', data: 'value' }] }] })
  symlinkSync('/etc', join(hostRoot, 'etc-link'))
  const tag = `weft-test-${process.pid}`
  const targets = {
    nested: join(hostRoot, 'a', 'b', 'c'),
    etc: `/etc/${tag}`,
    relative: `../../${tag}-rel`,
    link: join(hostRoot, 'etc-link', `${tag}-via-link`),
    file: join(hostRoot, 'file', 'key'),
  }
  const onHost = [join(hostRoot, 'a'), `/etc/${tag}`, `/${tag}-rel`, resolve(`../../${tag}-rel`), `/etc/${tag}-via-link`, join(hostRoot, 'file')]
  const script = [
    `cat ${targets.nested}/key ${targets.etc}/key /${tag}-rel/key /etc/${tag}-via-link/key ${targets.file}; echo`,
    'test -s /etc/passwd && test -x /bin/sh && test -d /proc/self && echo host-files-still-there',
    `cat /etc/hosts | grep -c . >/dev/null && echo pod-hosts`,
    'pwd',
    'echo ready',
    'exec sleep 30',
  ].join('\n')
  const proc = await startContainer(sb, {
    name: 'c',
    argv: ['sh', '-c', script],
    env: [],
    workingDir: '/tmp',
    mounts: [
      { source: volumePath(sb.dir, 'v'), target: targets.nested },
      { source: volumePath(sb.dir, 'v'), target: targets.etc, readOnly: true },
      { source: volumePath(sb.dir, 'v'), target: targets.relative },
      { source: volumePath(sb.dir, 'v'), target: targets.link },
      { source: volumePath(sb.dir, 'v', 'key'), target: targets.file, within: volumePath(sb.dir, 'v') },
    ],
    restartCount: 0,
  })
  t.teardown(() => stopContainer(proc, 0))
  const deadline = Date.now() + 10_000
  while (!(await readLog(proc.logPath)).includes('ready') && isRunning(proc) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
  t.equal(await readLog(proc.logPath), 'valuevaluevaluevaluevalue\nhost-files-still-there\npod-hosts\n/tmp\nready\n')
  for (const p of onHost) t.notOk(existsSync(p), `nothing at ${p} on the host`)
  t.equal(findmnt(hostRoot), '', 'no mount on the host')
  t.notOk(findmnt('/etc').includes(tag))
  const exec = await execInContainer(sb, proc, ['sh', '-c', `cat /${tag}-rel/key; pwd`], 5000)
  t.same(exec, { exitCode: 0, output: 'value/tmp\n', timedOut: false }, "exec sees the container's root and working directory")
  await stopContainer(proc, 0)
  await removeSandbox(sb)
  for (const p of onHost) t.notOk(existsSync(p), `nothing at ${p} afterwards`)
  t.same(readdirSync(hostRoot), ['etc-link'])
})

t.test('mountPaths the launcher refuses', async (t) => {
  const dataDir = tempDir(t)
  const hostRoot = tempDir(t)
  const sb = await sandbox(t, dataDir)
  await writePodFiles(sb, { volumes: [{ name: 'v', files: [{ path: 'key', data: 'value' }] }, { name: 'scratch' }] })
  symlinkSync('/etc/passwd', join(volumePath(sb.dir, 'scratch'), 'evil'))
  const start = (target: string, extra: Partial<VolumeMount> = {}) =>
    startContainer(sb, { name: 'c', argv: ['true'], env: [], mounts: [{ source: volumePath(sb.dir, 'v'), target, ...extra }], restartCount: 0 }).then(
      async (p) => (await watchExit(p)).exitCode,
      (err: unknown) => (err as Error).message,
    )
  t.match(await start('/'), /is the container's root/)
  t.match(await start('../..'), /is the container's root/)
  t.match(await start(join(hostRoot, 'x'), { source: join(volumePath(sb.dir, 'scratch'), 'evil'), within: volumePath(sb.dir, 'scratch') }), /leads out of its volume \(to \/etc\/passwd\)/)
  // A target below a file cannot be made.
  t.match(await start('/etc/passwd/x'), /is not a directory/)
  // A newline would split the launcher's list of writable mounts (readOnlyRootFilesystem).
  t.match(await start(`${join(hostRoot, 'y')}\n/etc`, { readOnly: false }), /holds a control character/)
  t.match(await start('/data\u0000'), /holds a control character/)
  t.same(readdirSync(hostRoot), [])
})

t.test('stop: TERM handled within the grace period, TERM ignored then killed', async (t) => {
  const dataDir = tempDir(t)
  const sb = await sandbox(t, dataDir)
  const procs: ContainerProcess[] = []
  t.teardown(() => Promise.all(procs.map((p) => stopContainer(p, 0))))
  const start = async (name: string, script: string): Promise<ContainerProcess> => {
    const p = await startContainer(sb, { name, argv: ['sh', '-c', script], env: [], restartCount: 0 })
    procs.push(p)
    return p
  }
  // The traps are set before "ready" is printed, so TERM cannot arrive before them.
  const waitReady = async (p: ContainerProcess): Promise<void> => {
    while (!(await readLog(p.logPath)).includes('ready')) await new Promise((r) => setTimeout(r, 20))
  }
  const polite = await start('polite', 'trap "echo bye; exit 3" TERM; echo ready; while :; do sleep 0.1; done')
  const stubborn = await start('stubborn', 'trap "echo ignoring" TERM; echo ready; while :; do sleep 0.1; done')
  await Promise.all([waitReady(polite), waitReady(stubborn)])
  t.ok(isRunning(polite))
  const [a, b] = await Promise.all([stopContainer(polite, 30), stopContainer(stubborn, 1)])
  t.equal(a.exitCode, 3)
  t.equal(a.signal, undefined)
  t.equal(b.exitCode, 137)
  t.equal(b.signal, 'SIGKILL')
  t.match(await readLog(polite.logPath), /bye\n$/)
  t.match(await readLog(stubborn.logPath), /ignoring\n/)
  t.notOk(isRunning(polite) || isRunning(stubborn))
  t.same(await stopContainer(polite, 5), a, 'stopping again gives the same status')
})

t.test('adoption: a restarted agent finds the process, stops it and learns its exit code', async (t) => {
  const dataDir = tempDir(t)
  const sb = await sandbox(t, dataDir)
  const started = await startContainer(sb, {
    name: 'server',
    argv: ['sh', '-c', 'trap "exit 5" TERM; echo up; while :; do sleep 0.1; done'],
    env: [{ name: 'SECRET', value: 's3cr3t' }],
    restartCount: 2,
  })
  t.teardown(() => stopContainer(started, 0))
  const cmdline = readFileSync(`/proc/${started.supervisor.pid}/cmdline`, 'utf8')
  t.notOk(cmdline.includes('s3cr3t'), 'the env is not on the supervisor command line')
  const done = await startContainer(sb, { name: 'done', argv: ['sh', '-c', 'exit 9'], env: [], restartCount: 0 })
  await watchExit(done)

  const [found] = (await listSandboxes(dataDir)).filter((s) => s.uid === sb.uid)
  t.equal(found.utsPath, sb.utsPath)
  const adopted = await adoptContainers(found)
  t.same(adopted.map((p) => p.name), ['done', 'server'])
  const [doneAgain, server] = adopted
  t.notOk(isRunning(doneAgain))
  t.equal((await watchExit(doneAgain)).exitCode, 9, 'an exit while no agent watched is still known')
  t.ok(isRunning(server))
  t.same(server.process, started.process)
  t.equal(server.restartCount, 2)
  const exec = await execInContainer(found, server, ['sh', '-c', 'echo $SECRET; hostname; exit 2'], 5000)
  t.same(exec, { exitCode: 2, output: `s3cr3t\n${sb.hostname}\n`, timedOut: false })
  const slow = await execInContainer(found, server, ['sleep', '10'], 200)
  t.equal(slow.timedOut, true)
  while (!(await readLog(server.logPath)).includes('up')) await new Promise((r) => setTimeout(r, 20))
  const exit = await stopContainer(server, 10)
  t.equal(exit.exitCode, 5)
  t.notOk(isRunning(server))
  await t.rejects(execInContainer(found, server, ['true'], 1000), /not running/)
})

t.test('start errors: a bad workingDir is a StartError with a message; a missing command exits 127', async (t) => {
  const dataDir = tempDir(t)
  const sb = await sandbox(t, dataDir)
  const err = await startContainer(sb, { name: 'bad', argv: ['true'], env: [], workingDir: '/nonexistent/dir', restartCount: 0 }).catch((e: unknown) => e)
  t.ok(err instanceof StartError)
  t.equal((err as StartError).status.exitCode, 128)
  t.match((err as StartError).message, /workingDir \/nonexistent\/dir/)
  t.notOk(existsSync(join(sb.dir, 'containers', 'bad.args')), 'the env file is gone')
  const missing = await startContainer(sb, { name: 'missing', argv: ['no-such-command-weft'], env: [], restartCount: 0 })
  t.equal((await watchExit(missing)).exitCode, 127)
  t.match(await readLog(missing.logPath), /no-such-command-weft/)
})

t.test('a hostNetwork sandbox has no netns or UTS; its containers run in the agent namespaces', async (t) => {
  const dataDir = tempDir(t)
  const sb = await sandbox(t, dataDir, { hostNetwork: true })
  t.equal(sb.netns, undefined)
  t.equal(sb.utsPath, undefined)
  const p = await startContainer(sb, { name: 'c', argv: ['sh', '-c', 'hostname; readlink /proc/self/ns/net'], env: [], restartCount: 0 })
  t.equal((await watchExit(p)).exitCode, 0)
  const host = execFileSync('hostname', { encoding: 'utf8' }).trim()
  const netns = execFileSync('readlink', ['/proc/self/ns/net'], { encoding: 'utf8' }).trim()
  t.equal(await readLog(p.logPath), `${host}\n${netns}\n`)
  await removeSandbox(sb)
  t.notOk(existsSync(sb.dir))
})

t.test('a line longer than 4 KiB is logged as P records of 4 KiB and a last F record, and read back whole', async (t) => {
  const sb = await sandbox(t, tempDir(t), { hostNetwork: true })
  // One 10 KiB line: 4096 a, 4096 b, 2048 c; then a short one.
  const script = String.raw`printf '%s%s%s\n' "$(head -c 4096 /dev/zero | tr '\0' a)" "$(head -c 4096 /dev/zero | tr '\0' b)" "$(head -c 2048 /dev/zero | tr '\0' c)"; echo short`
  const p = await startContainer(sb, { name: 'long', argv: ['sh', '-c', script], env: [], restartCount: 0 })
  t.equal((await watchExit(p)).exitCode, 0)
  const records = readFileSync(p.logPath, 'utf8').trimEnd().split('\n').map((l) => parseLogLine(l))
  t.same(
    records.map((r) => [r?.stream, r?.partial, r?.message.length, r?.message[0]]),
    [['stdout', true, 4096, 'a'], ['stdout', true, 4096, 'b'], ['stdout', false, 2048, 'c'], ['stdout', false, 5, 's']],
    'P, P, F, then the short line\'s F',
  )
  t.equal(await readLog(p.logPath), `${'a'.repeat(4096)}${'b'.repeat(4096)}${'c'.repeat(2048)}\nshort\n`, 'kubectl logs gets the line joined')
})

t.test('a container start keeps the logs of this run and the one before (rotated ones too), as the kubelet does', async (t) => {
  const sb = await sandbox(t, tempDir(t), { hostNetwork: true })
  const run = async (n: number): Promise<ContainerProcess> => {
    const p = await startContainer(sb, { name: 'c', argv: ['sh', '-c', `echo run ${n}`], env: [], restartCount: n })
    t.equal((await watchExit(p)).exitCode, 0)
    return p
  }
  const first = await run(0)
  const dir = dirname(first.logPath)
  writeFileSync(`${first.logPath}.20240101-000000`, '')
  await run(1)
  t.same(readdirSync(dir).sort(), ['0.log', '0.log.20240101-000000', '1.log'], 'the previous run stays (kubectl logs --previous)')
  await run(2)
  t.same(readdirSync(dir).sort(), ['1.log', '2.log'], 'older runs go, with their rotated files')
  t.equal(await readLog(join(dir, '1.log')), 'run 1\n')
})
