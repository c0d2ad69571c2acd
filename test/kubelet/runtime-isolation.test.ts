// Container isolation in the process runtime: a pid namespace per container (or per pod with
// shareProcessNamespace, or the host's with hostPID), the pod's IPC namespace, a read-only
// root with readOnlyRootFilesystem, and exec inside all of it.
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, readlinkSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { readAttachFrames } from '../../src/kubelet/runtime/attach-relay.ts'
import {
  attachSocket,
  createSandbox,
  execInContainer,
  readLog,
  removeSandbox,
  startContainer,
  stopContainer,
  volumePath,
  watchExit,
  writePodFiles,
  type ContainerProcess,
  type Sandbox,
} from '../../src/kubelet/runtime/index.ts'
import type { PidMode } from '../../src/kubelet/runtime/sandbox.ts'
import { isAlive, processOnTerminal } from '../../src/util/proc.ts'
import { uniqueName } from '../helpers/netns.ts'

if (process.getuid?.() !== 0) t.plan(0, 'namespaces need root')

interface Teardown {
  teardown(fn: () => unknown): void
}

let pods = 0
async function sandbox(t: Teardown, opts: { pid?: PidMode; hostIPC?: boolean } = {}): Promise<Sandbox> {
  const dataDir = mkdtempSync(join(tmpdir(), 'weft-iso-'))
  const n = ++pods
  const sb = await createSandbox({ dataDir, uid: `0000-iso-${process.pid}-${n}`, namespace: 'default', name: `iso-${n}`, hostname: `iso-${n}`, netns: uniqueName('iso'), ...opts })
  t.teardown(async () => {
    await removeSandbox(sb)
    rmSync(dataDir, { recursive: true, force: true })
  })
  return sb
}

async function run(t: Teardown, sb: Sandbox, name: string, script: string, extra: { readOnlyRoot?: boolean; mounts?: Array<{ source: string; target: string }> } = {}): Promise<ContainerProcess> {
  const proc = await startContainer(sb, { name, argv: ['sh', '-c', script], env: [], restartCount: 0, ...extra })
  t.teardown(() => stopContainer(proc, 0))
  return proc
}

async function logOf(proc: ContainerProcess, until: RegExp): Promise<string> {
  for (let i = 0; i < 200; i++) {
    const text = await readLog(proc.logPath)
    if (until.test(text)) return text
    await new Promise((r) => setTimeout(r, 25))
  }
  return readLog(proc.logPath)
}

const ns = (pid: number, kind: string) => readlinkSync(`/proc/${pid}/ns/${kind}`)

t.test('each container has a pid namespace of its own; the pod shares one IPC namespace', async (t) => {
  const sb = await sandbox(t)
  const a = await run(t, sb, 'a', 'echo pid=$$ procs=$(ls /proc | grep -c "^[0-9]"); exec sleep 3600')
  const b = await run(t, sb, 'b', 'exec sleep 3600')
  const log = await logOf(a, /procs=/)
  t.ok(Number(/pid=(\d+)/.exec(log)![1]) < 100, 'the command has a small pid in a namespace of its own')
  t.ok(Number(/procs=(\d+)/.exec(log)![1]) <= 6, 'only the container\'s own processes are in its /proc')
  t.not(ns(a.process.pid, 'pid'), ns(process.pid, 'pid'), 'not the host pid namespace')
  t.not(ns(a.process.pid, 'pid'), ns(b.process.pid, 'pid'), 'containers do not see each other')
  t.equal(ns(a.process.pid, 'ipc'), ns(b.process.pid, 'ipc'), 'one IPC namespace per pod')
  t.not(ns(a.process.pid, 'ipc'), ns(process.pid, 'ipc'), 'not the host IPC namespace')
  const exec = await execInContainer(sb, a, ['sh', '-c', 'ps -e -o args= | grep -c "^sleep 3600"; readlink /proc/self/ns/pid'], 5000)
  t.equal(exec.exitCode, 0, exec.output)
  t.match(exec.output, `1\n${ns(a.process.pid, 'pid')}`, 'exec runs in the container\'s pid namespace and sees its /proc')
  // The command is not the namespace's PID 1, so TERM ends a `sleep` at once, as outside.
  const started = Date.now()
  const status = await stopContainer(b, 30)
  t.equal(status.exitCode, 143)
  t.ok(Date.now() - started < 5000, 'TERM ended sleep without waiting for the grace period')
})

t.test('shareProcessNamespace: the containers and a pause init share one pid namespace', async (t) => {
  const sb = await sandbox(t, { pid: 'pod' })
  t.ok(sb.pidInit && isAlive(sb.pidInit), 'the pause process runs')
  const a = await run(t, sb, 'a', 'exec sleep 3600')
  const b = await run(t, sb, 'b', 'sleep 1; echo "$(ps -e -o args= | grep -c "^sleep 3600")" init=$(cat /proc/1/cmdline | tr "\\0" " "); exec sleep 3600')
  t.equal(ns(a.process.pid, 'pid'), ns(b.process.pid, 'pid'))
  t.equal(ns(a.process.pid, 'pid'), ns(sb.pidInit!.pid, 'pid'))
  const log = await logOf(b, /init=/)
  t.match(log, /^1 init=sh -c trap/m, 'b sees a\'s process and the pause init')
  await removeSandbox(sb)
  t.notOk(isAlive(sb.pidInit!), 'removing the sandbox ends the pause process')
})

t.test('hostPID and hostIPC: the host namespaces', async (t) => {
  const sb = await sandbox(t, { pid: 'host', hostIPC: true })
  const a = await run(t, sb, 'a', 'exec sleep 3600')
  t.equal(ns(a.process.pid, 'pid'), ns(process.pid, 'pid'))
  t.equal(ns(a.process.pid, 'ipc'), ns(process.pid, 'ipc'))
  t.equal(sb.ipcPath, undefined)
})

t.test('readOnlyRootFilesystem: the view is read-only but for volumes and a fresh /tmp', async (t) => {
  const sb = await sandbox(t)
  await writePodFiles(sb, { volumes: [{ name: 'data' }] })
  const data = volumePath(sb.dir, 'data')
  const script = [
    'touch /etc/weft-iso-probe 2>/dev/null && echo etc=writable || echo etc=readonly',
    'touch /tmp/x && echo tmp=writable || echo tmp=readonly',
    'ls -A /tmp | wc -l | sed "s/^/tmpentries=/"',
    'touch /data/x && echo data=writable || echo data=readonly',
    'echo done',
  ].join('; ')
  const proc = await run(t, sb, 'ro', `${script}; exec sleep 3600`, { readOnlyRoot: true, mounts: [{ source: data, target: '/data' }] })
  const log = await logOf(proc, /done/)
  t.match(log, /etc=readonly/)
  t.match(log, /tmp=writable/)
  t.match(log, /tmpentries=1\n/, 'a fresh /tmp: only what the container wrote')
  t.match(log, /data=writable/)
  t.notOk(execFileSync('ls', ['/etc']).toString().includes('weft-iso-probe'))
  const rw = await run(t, sb, 'rw', 'touch /tmp/weft-iso-rw-$$ && echo tmp=writable && rm /tmp/weft-iso-rw-$$; exec sleep 3600')
  t.match(await logOf(rw, /tmp=/), /tmp=writable/, 'without it the root stays writable')
})

async function session(proc: ContainerProcess): Promise<{ socket: import('node:net').Socket; output: () => string }> {
  const socket = await attachSocket(proc)
  let pending: Buffer = Buffer.alloc(0)
  let text = ''
  socket.on('data', (chunk: Buffer) => {
    const { frames, rest } = readAttachFrames(Buffer.concat([pending, chunk]))
    pending = rest
    for (const f of frames) text += `${f.stream === 1 ? '' : '[err]'}${f.data.toString()}`
  })
  return { socket, output: () => text }
}

async function until(what: string, check: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

t.test('stdin and attach: a session writes stdin and reads the output live; the log keeps it all', async (t) => {
  const sb = await sandbox(t)
  const proc = await startContainer(sb, { name: 'cat', argv: ['sh', '-c', 'echo started; cat; echo "[stdin closed]" >&2'], env: [], restartCount: 0, io: { stdin: 'once', tty: false } })
  t.teardown(() => stopContainer(proc, 0))
  // Attach once "started" is out: what came before the session is not the session's.
  await until('started in the log', async () => /started/.test(await readLog(proc.logPath)))
  const a = await session(proc)
  a.socket.write('hello\n')
  await until('the echo', () => a.output().includes('hello\n'))
  t.notOk(a.output().includes('started'), 'a session sees output from when it attached')
  a.socket.end()
  const status = await watchExitOf(proc)
  t.equal(status, 0, 'stdinOnce: stdin ends with the first session, and cat with it')
  t.match(await readLog(proc.logPath), /started\nhello\n\[stdin closed\]\n/)
})

t.test('tty: the command has a terminal; input echoes and the prompt shows without a newline', async (t) => {
  const sb = await sandbox(t)
  const proc = await startContainer(sb, { name: 'sh', argv: ['sh', '-c', 'tty; PS1="weft# " exec sh -i'], env: [], restartCount: 0, io: { stdin: 'open', tty: true } })
  t.teardown(() => stopContainer(proc, 0))
  const a = await session(proc)
  a.socket.write('echo $((6*7))\n')
  await until('the answer and the next prompt', () => /42\r\nweft# $/.test(a.output())).catch((err: Error) => {
    throw new Error(`${err.message}; the session saw ${JSON.stringify(a.output())}`)
  })
  t.ok(processOnTerminal(proc.process.pid) !== undefined, 'the terminal\'s process is found for resizes')
  t.match(await readLog(proc.logPath), /^\/dev\/pts\/\d+\r?$/m, 'a pty of the container /dev')
  a.socket.write('exit 4\n')
  t.equal(await watchExitOf(proc), 4, 'the exit code comes through script')
})

async function watchExitOf(proc: ContainerProcess): Promise<number> {
  return (await watchExit(proc)).exitCode
}

t.test('a root of its own: the container writes anywhere in its view, the host keeps its files; a new run starts clean', async (t) => {
  const sb = await sandbox(t)
  await writePodFiles(sb, { volumes: [{ name: 'data' }] })
  const probe = `/etc/weft-overlay-probe-${process.pid}`
  const script = `echo hi > ${probe} && cat ${probe}; mkdir -p /opt/weft-made-${process.pid} && echo made; echo v > /data/v; ls /sys/fs/cgroup | wc -l | sed "s/^/cgroupfs=/"; echo done`
  const first = await startContainer(sb, { name: 'c', argv: ['sh', '-c', `${script}; exec sleep 3600`], env: [], restartCount: 0, root: 'overlay', mounts: [{ source: volumePath(sb.dir, 'data'), target: '/data' }] })
  t.teardown(() => stopContainer(first, 0))
  const log = await logOf(first, /done/)
  t.match(log, /^hi\nmade\n/, 'writes anywhere in its view')
  t.match(log, /cgroupfs=0\n/, '/sys without the host cgroup mounts')
  t.notOk(execFileSync('sh', ['-c', `ls ${probe} /opt/weft-made-${process.pid} 2>/dev/null || true`]).toString(), 'the host has none of it')
  t.equal(execFileSync('cat', [join(volumePath(sb.dir, 'data'), 'v')]).toString(), 'v\n', 'volumes write through to the pod')
  const exec = await execInContainer(sb, first, ['cat', probe], 5000)
  t.equal(exec.output, 'hi\n', 'exec sees the container\'s own files')
  await stopContainer(first, 0)
  const second = await startContainer(sb, { name: 'c', argv: ['sh', '-c', `cat ${probe} 2>/dev/null || echo clean; exec sleep 3600`], env: [], restartCount: 1, root: 'overlay' })
  t.teardown(() => stopContainer(second, 0))
  t.match(await logOf(second, /clean|hi/), /^clean\n/, 'a restarted container gets a fresh layer')
})

t.test('a root of its own works for a container that is not root', async (t) => {
  const sb = await sandbox(t)
  const proc = await startContainer(sb, { name: 'u', argv: ['sh', '-c', 'id -u; touch /home/x-$$$$ 2>/dev/null && echo wrote || echo refused; echo done'], env: [], restartCount: 0, root: 'overlay', privileges: ['--reuid=1000', '--regid=1000', '--clear-groups', '--bounding-set=-all', '--inh-caps=-all'] })
  t.teardown(() => stopContainer(proc, 0))
  t.match(await logOf(proc, /done/), /^1000\nrefused\ndone\n/, 'runs, and the host root\'s permissions still hold in its view')
})

t.test('a container stopped at once after it starts is gone: its pid is the session leader stop signals', async (t) => {
  for (const pid of ['host', 'container', 'pod'] as const) {
    const sb = await sandbox(t, { pid })
    for (let i = 0; i < 10; i++) {
      const proc = await startContainer(sb, { name: `quick-${i}`, argv: ['sleep', '3600'], env: [], restartCount: 0 })
      const stat = readFileSync(`/proc/${proc.process.pid}/stat`, 'utf8')
      const session = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[3])
      t.equal(session, proc.process.pid, `${pid} pid namespace, start ${i}: the reported pid already leads its session`)
      await stopContainer(proc, 0)
      t.notOk(isAlive(proc.process), `${pid} pid namespace, start ${i}: the command is gone`)
    }
  }
})
