// Containers as processes. startContainer launches the supervisor (launcher.ts) detached,
// reads the command's pid from it and persists `<pod dir>/containers/<name>.json`, so a
// restarted agent can adopt the process (adoptContainers) and still learn its exit code
// from `<name>.exit`, which the supervisor writes.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { createHash } from 'node:crypto'
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, realpathSync, rmSync, writeFileSync } from 'node:fs'
import { connect, type Socket } from 'node:net'
import { constants } from 'node:os'
import { fileURLToPath } from 'node:url'
import { join, posix } from 'node:path'
import { readJson, writeFileAtomic } from './files.ts'
import { argsFile, cgroupWords, launchCommand, LOG_PROGRAM, SYSTEM_PATH, type LaunchMount } from './launcher.ts'
import { readLog } from './logs.ts'
import { mountHelper } from './mount-helper.ts'
import { containersDir, logPath } from './paths.ts'
import { isAlive, kill, killGroup, processStartTime, type ProcessId } from '../../util/proc.ts'
import { sandboxPidNamespace, type Sandbox } from './sandbox.ts'

export interface VolumeMount {
  /** A host path, usually `volumePath(sandbox.dir, volume, subPath)`. */
  source: string
  /**
   * The mountPath, in the container's view (relative: from its root). A missing one is
   * made in the container's mount namespace only, never on the host (see launcher.ts).
   */
  target: string
  readOnly?: boolean
  /** The source must resolve (symbolic links followed) to this directory or below it. */
  within?: string
}

export interface ContainerSpec {
  name: string
  argv: string[]
  /** The container's environment, in order; PATH and HOME get defaults when absent. */
  env: Array<{ name: string; value: string }>
  /** Defaults to `/`. */
  workingDir?: string
  mounts?: VolumeMount[]
  restartCount: number
  /** setpriv's options: the user, groups and capabilities the command runs with (security-context.ts). */
  privileges?: string[]
  /** The container's cgroup directories (one per hierarchy), joined before the command starts. */
  cgroups?: string[]
  /** readOnlyRootFilesystem: the view is read-only but for its volumes and a fresh /tmp. */
  readOnlyRoot?: boolean
  /** Joins the pid namespace of this running process (an ephemeral container's targetContainerName). */
  pidNamespaceOf?: ProcessId
  /** Keeps the host's /dev (privileged containers); otherwise the container gets a /dev of its own. */
  hostDevices?: boolean
  /** Where the container may write its termination message (terminationMessagePath); unset: nowhere. */
  terminationMessagePath?: string
  /** stdin: none (/dev/null), open (held open for attach), once (closed after the first attach); tty: a terminal. */
  io?: { stdin: 'none' | 'open' | 'once'; tty: boolean }
  /** `overlay`: a copy-on-write root over the host's, its writes kept in the pod directory; default `host` (privileged containers). */
  root?: 'host' | 'overlay'
}

/** What `<pod dir>/containers/<name>.json` holds. */
export interface ContainerRecord {
  name: string
  restartCount: number
  /** The supervising `sh`. */
  supervisor: ProcessId
  /** The command: leader of its own process group and session. */
  process: ProcessId
  startedAt: string
  /** sha256 of argv, env, workingDir and mounts: tells whether the spec changed. */
  specHash: string
  logPath: string
  /** The container's environment (NAME=VALUE), for exec. The file is mode 0600. */
  env: string[]
  /** The log writers reopen the log each second, so it may be rotated (older agents' containers: absent). */
  logReopens?: boolean
  /** setpriv's options the command runs with; exec in the container uses the same. */
  privileges?: string[]
  /** Set for a container with stdin or a tty: `kubectl attach` reaches it through `<name>.attach`. */
  io?: { stdin: 'none' | 'open' | 'once'; tty: boolean }
}

export interface ExitStatus {
  exitCode: number
  /** RFC3339Nano. */
  finishedAt: string
  /** Set when the process died of a signal (exit code 128+N). */
  signal?: NodeJS.Signals
  /** StartError (it never ran: bad mount, workingDir, …) or ContainerStatusUnknown. */
  reason?: 'StartError' | 'ContainerStatusUnknown'
  message?: string
}

export interface ContainerProcess extends ContainerRecord {
  sandboxDir: string
  exit?: Promise<ExitStatus>
}

export class StartError extends Error {
  readonly status: ExitStatus
  constructor(container: string, status: ExitStatus) {
    super(`container ${container} failed to start: ${status.message || `exit code ${status.exitCode}`}`)
    this.name = 'StartError'
    this.status = status
  }
}

const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
const POLL_MS = 100

let awkCommand: string | undefined
/** mawk reads pipes in blocks unless told otherwise; gawk and busybox awk do not need it. */
function awk(): string {
  if (awkCommand === undefined) {
    const version = spawnSync('awk', ['-W', 'version'], { encoding: 'utf8' })
    awkCommand = /mawk/.test(`${version.stdout}${version.stderr}`) ? 'awk -W interactive' : 'awk'
  }
  return awkCommand
}

/** Removes the logs (rotated ones included) of the runs before `keepFrom`. */
function pruneLogs(dir: string, keepFrom: number): void {
  for (const name of readdirSync(dir)) {
    const m = /^(\d+)\.log(\.\d{8}-\d{6})?$/.exec(name)
    if (m !== null && Number(m[1]) < keepFrom) rmSync(join(dir, name), { force: true })
  }
}

function basePath(sandboxDir: string, name: string): string {
  return join(containersDir(sandboxDir), name)
}

export function containerEnv(env: ContainerSpec['env']): string[] {
  const names = new Set(env.map((e) => e.name))
  return [
    ...(names.has('PATH') ? [] : [`PATH=${DEFAULT_PATH}`]),
    ...(names.has('HOME') ? [] : ['HOME=/root']),
    ...env.map((e) => `${e.name}=${e.value}`),
  ]
}

function specHash(spec: ContainerSpec): string {
  const { argv, env, workingDir, mounts, privileges } = spec
  // Containers started before privileges existed hash as they did.
  return createHash('sha256').update(JSON.stringify(privileges?.length ? { argv, env, workingDir, mounts, privileges } : { argv, env, workingDir, mounts })).digest('hex').slice(0, 16)
}

function podFileMounts(sandbox: Sandbox): VolumeMount[] {
  const files: Array<[string, string]> = [
    ['etc-hosts', '/etc/hosts'],
    ['resolv.conf', '/etc/resolv.conf'],
    ['hostname', '/etc/hostname'],
  ]
  return files
    .filter(([file]) => existsSync(join(sandbox.dir, file)))
    .map(([file, target]) => ({ source: join(sandbox.dir, file), target, readOnly: false }))
}

/**
 * The mounts the launcher makes, parents before children (as container runtimes order
 * them): a volume mounted at /data and another at /data/cache both show.
 */
function launchMounts(sandbox: Sandbox, spec: ContainerSpec): LaunchMount[] {
  const mounts: Array<LaunchMount & { depth: number }> = []
  for (const m of [...podFileMounts(sandbox), ...(spec.mounts ?? [])]) {
    const target = posix.resolve('/', m.target)
    if (m.target === '' || target === '/') throw new Error(`container ${spec.name}: mountPath ${JSON.stringify(m.target)} is the container's root; choose a directory below it`)
    // The launcher keeps its list of writable targets one per line: a control character has no place in a path.
    if (/[\u0000-\u001f\u007f]/.test(m.target)) throw new Error(`container ${spec.name}: mountPath ${JSON.stringify(m.target)} holds a control character`)
    if (m.within !== undefined) {
      let real: string
      try {
        real = realpathSync(m.source)
      } catch {
        throw new Error(`container ${spec.name}: the source of mountPath ${m.target}, ${m.source}, does not exist`)
      }
      const root = realpathSync(m.within)
      if (real !== root && !real.startsWith(`${root}/`)) throw new Error(`container ${spec.name}: the subPath of mountPath ${m.target} leads out of its volume (to ${real})`)
    }
    mounts.push({ source: m.source, target, readOnly: m.readOnly === true, depth: target.split('/').length })
  }
  return mounts.sort((a, b) => a.depth - b.depth).map(({ depth: _, ...m }) => m)
}

function processPidNamespace(container: string, target: ProcessId): string {
  if (!isAlive(target)) throw new Error(`container ${container}: the container whose processes it should share is not running`)
  return `/proc/${target.pid}/ns/pid`
}

const ATTACH_RELAY = fileURLToPath(new URL('./attach-relay.ts', import.meta.url))

function attachable(io: ContainerSpec['io']): io is NonNullable<ContainerSpec['io']> {
  return io !== undefined && (io.stdin !== 'none' || io.tty)
}

/** Connects to a running container's attach relay (containers with stdin or a tty only). */
export function attachSocket(proc: ContainerProcess): Promise<Socket> {
  if (!proc.io) return Promise.reject(new Error(`container ${proc.name} has neither stdin nor a tty to attach to`))
  if (!isAlive(proc.process)) return Promise.reject(new Error(`container ${proc.name} is not running`))
  return new Promise((resolve, reject) => {
    const socket = connect({ path: `${basePath(proc.sandboxDir, proc.name)}.attach` })
    socket.once('connect', () => resolve(socket))
    socket.once('error', reject)
  })
}

const TERMINATION_LOG = '/dev/termination-log'
/** As the kubelet: a termination message is cut at 4 KiB. */
const TERMINATION_MESSAGE_MAX = 4096

/**
 * The termination-log file (`<base>.termination-log`, emptied for each run, 0666 as the
 * kubelet makes it: the container's user writes it; the pod directory keeps others out),
 * and how it reaches the container: on its own /dev at the default path, else as a mount.
 */
function terminationLog(base: string, spec: ContainerSpec): { devices: 'host' | 'private' | 'private-termlog'; mounts: VolumeMount[] } {
  const path = spec.terminationMessagePath
  if (path === undefined) return { devices: spec.hostDevices ? 'host' : 'private', mounts: [] }
  const file = `${base}.termination-log`
  writeFileSync(file, '', { mode: 0o666 })
  chmodSync(file, 0o666)
  if (!spec.hostDevices && posix.resolve('/', path) === TERMINATION_LOG) return { devices: 'private-termlog', mounts: [] }
  return { devices: spec.hostDevices ? 'host' : 'private', mounts: [{ source: file, target: path }] }
}

/**
 * The message a container left for its termination (terminationMessagePath), or with
 * FallbackToLogsOnError and a failure, the end of its log (80 lines, 2 KiB), as the kubelet.
 */
export async function terminationMessage(proc: ContainerRecord & { sandboxDir: string }, exitCode: number, policy: string | undefined): Promise<string | undefined> {
  let text = ''
  try {
    const fd = openSync(`${basePath(proc.sandboxDir, proc.name)}.termination-log`, 'r')
    try {
      const buf = Buffer.alloc(TERMINATION_MESSAGE_MAX)
      text = buf.subarray(0, readSync(fd, buf, 0, buf.length, 0)).toString()
    } finally {
      closeSync(fd)
    }
  } catch {
    // No file: the container had no terminationMessagePath.
  }
  if (text === '' && policy === 'FallbackToLogsOnError' && exitCode !== 0) {
    const lines = (await readLog(proc.logPath)).split('\n')
    text = lines.slice(-81).join('\n')
    if (Buffer.byteLength(text) > 2048) text = Buffer.from(text).subarray(-2048).toString()
  }
  return text === '' ? undefined : text
}

const SIGNALS = new Map(Object.entries(constants.signals).map(([name, n]) => [n, name as NodeJS.Signals]))

function parseExitFile(path: string): ExitStatus | undefined {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch {
    return undefined
  }
  const [code, finishedAt, ...message] = text.split('\n')
  const exitCode = Number(code)
  const msg = message.join('\n').trim()
  const signal = exitCode > 128 ? SIGNALS.get(exitCode - 128) : undefined
  return {
    exitCode,
    finishedAt,
    ...(signal !== undefined ? { signal } : {}),
    ...(msg !== '' ? { message: msg } : {}),
  }
}

function waitChildExit(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve()
    else child.once('exit', () => resolve())
  })
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** Starts a container; resolves once the command runs (its pid is known). */
export async function startContainer(sandbox: Sandbox, spec: ContainerSpec): Promise<ContainerProcess> {
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(spec.name)) throw new Error(`container name ${JSON.stringify(spec.name)} is not a DNS label`)
  if (spec.argv.length === 0) throw new Error(`container ${spec.name}: empty command`)
  const helper = mountHelper()
  const base = basePath(sandbox.dir, spec.name)
  const previous = await readJson<ContainerRecord>(`${base}.json`)
  if (previous !== undefined && (isAlive(previous.supervisor) || isAlive(previous.process))) {
    throw new Error(`container ${spec.name} of pod ${sandbox.namespace}/${sandbox.name} is still running (pid ${previous.process.pid}); stop it first`)
  }
  const log = logPath(sandbox.dir, spec.name, spec.restartCount)
  mkdirSync(join(log, '..'), { recursive: true, mode: 0o700 })
  // As the kubelet: the logs of this run and the one before (`--previous`) are kept.
  pruneLogs(join(log, '..'), spec.restartCount - 1)
  mkdirSync(containersDir(sandbox.dir), { recursive: true, mode: 0o700 })
  rmSync(`${base}.exit`, { force: true })
  const termination = terminationLog(base, spec)
  const mounts = launchMounts(sandbox, { ...spec, mounts: [...(spec.mounts ?? []), ...termination.mounts] })
  mkdirSync(`${base}.shadow`, { recursive: true, mode: 0o700 })
  const env = containerEnv(spec.env)
  await writeFileAtomic(`${base}.args`, argsFile(env, spec.argv), 0o600)
  const [file, args] = launchCommand({
    base,
    log,
    workingDir: spec.workingDir || '/',
    mounts,
    privileges: spec.privileges,
    pidNamespace: spec.pidNamespaceOf ? processPidNamespace(spec.name, spec.pidNamespaceOf) : sandboxPidNamespace(sandbox),
    readOnlyRoot: spec.readOnlyRoot === true,
    devices: termination.devices,
    root: spec.root ?? 'host',
    ...(attachable(spec.io) ? { io: spec.io } : {}),
    ...(sandbox.netnsPath !== undefined ? { netnsPath: sandbox.netnsPath } : {}),
    ...(sandbox.utsPath !== undefined ? { utsPath: sandbox.utsPath } : {}),
    ...(sandbox.ipcPath !== undefined ? { ipcPath: sandbox.ipcPath } : {}),
  })
  const errFd = openSync(`${base}.launch.log`, 'w')
  let child: ChildProcess
  try {
    child = spawn(file, args, {
      detached: true,
      stdio: ['ignore', 'pipe', errFd],
      env: { PATH: SYSTEM_PATH, LC_ALL: 'C', WEFT_AWK: awk(), WEFT_LOG_PROGRAM: LOG_PROGRAM, WEFT_CGROUPS: cgroupWords(spec.cgroups ?? []), WEFT_NODE: process.execPath, WEFT_ATTACH_RELAY: ATTACH_RELAY, WEFT_MOUNTS: helper },
    })
  } finally {
    closeSync(errFd)
  }
  child.unref()
  const startedAt = new Date().toISOString()
  const exited = waitChildExit(child)
  const pidLine = await new Promise<string>((resolve) => {
    let text = ''
    child.stdout?.setEncoding('utf8')
    child.stdout?.on('data', (chunk: string) => {
      text += chunk
      if (text.includes('\n')) resolve(text)
    })
    child.stdout?.on('close', () => resolve(text))
    child.on('error', () => resolve(''))
  })
  child.stdout?.destroy()
  const pid = Number.parseInt(pidLine, 10)
  const supervisorStart = child.pid === undefined ? undefined : processStartTime(child.pid)
  const pidStart = Number.isNaN(pid) ? undefined : processStartTime(pid)
  if (child.pid === undefined || Number.isNaN(pid)) {
    child.ref()
    await exited
    const status = parseExitFile(`${base}.exit`) ?? {
      exitCode: 128,
      finishedAt: new Date().toISOString(),
      message: readFileSync(`${base}.launch.log`, 'utf8').trim() || 'the launcher ended without starting the command',
    }
    throw new StartError(spec.name, { ...status, reason: 'StartError' })
  }
  const record: ContainerRecord = {
    name: spec.name,
    restartCount: spec.restartCount,
    // A process already gone by now gets starttime -1: never alive, so never signalled.
    supervisor: { pid: child.pid, starttime: supervisorStart ?? -1 },
    process: { pid, starttime: pidStart ?? -1 },
    startedAt,
    specHash: specHash(spec),
    logPath: log,
    env,
    logReopens: true,
    ...(spec.privileges?.length ? { privileges: spec.privileges } : {}),
    ...(attachable(spec.io) ? { io: spec.io } : {}),
  }
  await writeFileAtomic(`${base}.json`, JSON.stringify(record, null, 2) + '\n', 0o600)
  const proc: ContainerProcess = { ...record, sandboxDir: sandbox.dir }
  // The supervisor is this process's child: its exit event says when to read the exit
  // file. The child is unref'd (it outlives us), so a slow poll keeps a waiter's event
  // loop alive; adopted containers are polled at the usual rate.
  proc.exit = Promise.race([exited.then(() => finalStatus(proc)), pollExit(proc, 2000)])
  return proc
}

async function finalStatus(proc: ContainerProcess): Promise<ExitStatus> {
  while (isAlive(proc.process)) await sleep(POLL_MS)
  return (
    parseExitFile(`${basePath(proc.sandboxDir, proc.name)}.exit`) ?? {
      exitCode: 137,
      finishedAt: new Date().toISOString(),
      reason: 'ContainerStatusUnknown',
      message: 'the container supervisor ended without recording an exit code',
    }
  )
}

// Polls even for a child of this agent: the child is unref'd, so only a timer keeps a
// process that awaits the exit alive.
async function pollExit(proc: ContainerProcess, intervalMs = POLL_MS): Promise<ExitStatus> {
  while (isAlive(proc.supervisor)) await sleep(intervalMs)
  return finalStatus(proc)
}

/** Resolves when the container has exited (for started and adopted processes alike). */
export function watchExit(proc: ContainerProcess): Promise<ExitStatus> {
  proc.exit ??= pollExit(proc)
  return proc.exit
}

export function isRunning(proc: ContainerProcess): boolean {
  return isAlive(proc.supervisor) || isAlive(proc.process)
}

/**
 * SIGTERM to the container's main process, then SIGKILL to its whole process group after
 * the grace period — as Kubernetes runtimes do (TERM to the container's PID 1, KILL to
 * all): a main process that forwards TERM to its children gets to shut them down itself.
 * Whatever is left of the group when the main process ends is killed by the supervisor.
 */
export async function stopContainer(proc: ContainerProcess, gracePeriodSeconds: number): Promise<ExitStatus> {
  const done = watchExit(proc)
  if (isAlive(proc.process)) {
    if (gracePeriodSeconds > 0) {
      kill(proc.process.pid, 'SIGTERM')
      let timer: NodeJS.Timeout | undefined
      const expired = await Promise.race([
        done.then(() => false),
        new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(true), gracePeriodSeconds * 1000)
        }),
      ])
      clearTimeout(timer)
      if (expired && isAlive(proc.process)) killGroup(proc.process.pid, 'SIGKILL')
    } else {
      killGroup(proc.process.pid, 'SIGKILL')
    }
  }
  return done
}

async function readRecords(sandboxDir: string): Promise<ContainerRecord[]> {
  let names: string[]
  try {
    names = readdirSync(containersDir(sandboxDir)).filter((n) => n.endsWith('.json'))
  } catch {
    return []
  }
  const records: ContainerRecord[] = []
  for (const n of names.sort()) {
    const record = await readJson<ContainerRecord>(join(containersDir(sandboxDir), n)).catch(() => undefined)
    if (record !== undefined) records.push(record)
  }
  return records
}

/**
 * The containers recorded for a sandbox, running or not: use `isRunning` to tell, and
 * `watchExit` for the exit status (known at once for one that ended while no agent ran).
 */
export async function adoptContainers(sandbox: Pick<Sandbox, 'dir'>): Promise<ContainerProcess[]> {
  return (await readRecords(sandbox.dir)).map((record) => ({ ...record, sandboxDir: sandbox.dir }))
}

/** Kills every container process of a sandbox and waits (5 s at most) for the supervisors. */
export async function killContainerProcesses(sandbox: Pick<Sandbox, 'dir'>): Promise<void> {
  const procs = await adoptContainers(sandbox)
  for (const p of procs) if (isAlive(p.process)) killGroup(p.process.pid, 'SIGKILL')
  const deadline = Date.now() + 5000
  for (const p of procs) {
    while (isAlive(p.supervisor) && Date.now() < deadline) await sleep(20)
    if (isAlive(p.supervisor)) process.kill(p.supervisor.pid, 'SIGKILL')
  }
}

/**
 * The command line that runs argv in a running container: its namespaces, root, working
 * directory, environment and credentials. Spawn it with `env: { PATH: SYSTEM_PATH }`.
 */
export function execCommand(proc: ContainerRecord, argv: readonly string[]): [string, string[]] {
  const privileges = proc.privileges?.length ? ['setpriv', ...proc.privileges, '--'] : []
  return ['nsenter', ['-t', String(proc.process.pid), '-m', '-n', '-u', '-i', '-p', '-r', '--wd', '--', ...privileges, 'env', '-i', '--', ...proc.env, ...argv]]
}

export interface ExecResult {
  exitCode: number
  /** stdout and stderr together, at most `maxOutput` bytes. */
  output: string
  timedOut: boolean
}

/**
 * Runs a command in a running container's namespaces (mount, network, UTS, IPC, pid), root, working
 * directory and environment, as `kubectl exec` and exec probes do.
 */
export async function execInContainer(
  _sandbox: Sandbox,
  proc: ContainerProcess,
  argv: string[],
  timeoutMs: number,
  maxOutput = 10 * 1024,
): Promise<ExecResult> {
  if (!isAlive(proc.process)) throw new Error(`container ${proc.name} is not running`)
  const [file, args] = execCommand(proc, argv)
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: SYSTEM_PATH } })
    const chunks: Buffer[] = []
    let size = 0
    const collect = (b: Buffer): void => {
      if (size < maxOutput) chunks.push(b.subarray(0, maxOutput - size))
      size += b.length
    }
    child.stdout.on('data', collect)
    child.stderr.on('data', collect)
    let timedOut = false
    const timer = setTimeout(() => {
      timedOut = true
      if (child.pid !== undefined) killGroup(child.pid, 'SIGKILL')
    }, timeoutMs)
    child.on('error', (err) => {
      clearTimeout(timer)
      reject(err)
    })
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      const exitCode = code ?? 128 + (signal === null ? 0 : constants.signals[signal])
      resolve({ exitCode, output: Buffer.concat(chunks).toString(), timedOut })
    })
  })
}
