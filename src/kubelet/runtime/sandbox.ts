// A pod sandbox: a named network namespace, a UTS namespace held by a bind mount (both
// absent for hostNetwork pods, which share the node's), an IPC namespace held the same way
// (absent for hostIPC), for shareProcessNamespace a pid namespace whose init is a pause
// process (otherwise each container gets a pid namespace of its own), and the pod directory
// <dataDir>/pods/<uid>/ with the files containers see (etc-hosts, resolv.conf,
// hostname, volumes/), the logs, the container state and sandbox.json, from which a
// restarted agent finds the sandbox again.
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, readdir, rm } from 'node:fs/promises'
import { setTimeout as sleep } from 'node:timers/promises'
import { join } from 'node:path'
import { addNetns, deleteNetns, netnsExists, netnsPath } from '../../netlink/index.ts'
import { addHeldNamespace, deleteHeldNamespace } from '../../netlink/held-namespace.ts'
import { childProcesses, isAlive, processStartTime, type ProcessId } from '../../util/proc.ts'
import { SYSTEM_PATH } from './launcher.ts'
import { killContainerProcesses } from './container.ts'
import { readJson, writeFileAtomic } from './files.ts'
import { unmountUnder } from '../../netlink/mounts.ts'
import { checkRelative, podDir, podsDir } from './paths.ts'
import { writeVolume, type PodVolume } from './volumes.ts'

export type { PodFile, PodVolume } from './volumes.ts'

export interface SandboxSpec {
  dataDir: string
  uid: string
  namespace: string
  name: string
  /** The pod's hostname (spec.hostname or the pod name); ignored for hostNetwork pods. */
  hostname: string
  /** Name of the network namespace to create (under /run/netns); omit for hostNetwork. */
  netns?: string
  /** hostIPC: the node's IPC namespace instead of the pod's own. */
  hostIPC?: boolean
  /** host (hostPID), pod (shareProcessNamespace) or container (the default: one each). */
  pid?: PidMode
}

export type PidMode = 'host' | 'pod' | 'container'

/** What sandbox.json holds. */
export interface SandboxRecord {
  uid: string
  namespace: string
  name: string
  hostname: string
  /** Network namespace name; absent for hostNetwork pods. */
  netns?: string
  createdAt: string
  /** Pod IPs, once the CNI ADD has given them. */
  ips: string[]
  /** The pod has an IPC namespace of its own (sandboxes made before it existed: absent). */
  ipc?: boolean
  pid?: PidMode
  /** shareProcessNamespace: the pause process that is init of the pod's pid namespace. */
  pidInit?: ProcessId
}

export interface Sandbox extends SandboxRecord {
  dataDir: string
  /** The pod directory. */
  dir: string
  /** The file holding the UTS namespace; absent for hostNetwork pods. */
  utsPath?: string
  /** `/run/netns/<netns>`, the CNI_NETNS of the pod; absent for hostNetwork pods. */
  netnsPath?: string
  /** The file holding the IPC namespace; absent for hostIPC pods. */
  ipcPath?: string
}

export interface PodFiles {
  hosts?: string
  resolvConf?: string
  volumes?: PodVolume[]
}

const RECORD = 'sandbox.json'

function toSandbox(dataDir: string, record: SandboxRecord): Sandbox {
  const dir = podDir(dataDir, record.uid)
  return {
    ...record,
    dataDir,
    dir,
    ...(record.netns !== undefined ? { utsPath: join(dir, 'uts'), netnsPath: netnsPath(record.netns) } : {}),
    ...(record.ipc ? { ipcPath: join(dir, 'ipc') } : {}),
  }
}

function toRecord(sandbox: Sandbox): SandboxRecord {
  const { uid, namespace, name, hostname, netns, createdAt, ips, ipc, pid, pidInit } = sandbox
  return { uid, namespace, name, hostname, ...(netns !== undefined ? { netns } : {}), createdAt, ips, ...(ipc ? { ipc } : {}), ...(pid ? { pid } : {}), ...(pidInit ? { pidInit } : {}) }
}

export async function saveSandbox(sandbox: Sandbox): Promise<void> {
  await writeFileAtomic(join(sandbox.dir, RECORD), JSON.stringify(toRecord(sandbox), null, 2) + '\n')
}

/** Records the pod IPs from the CNI result. */
export async function setSandboxIPs(sandbox: Sandbox, ips: string[]): Promise<void> {
  sandbox.ips = [...ips]
  await saveSandbox(sandbox)
}

/**
 * Creates the pod directory, the network namespace (loopback up) and the UTS namespace
 * with the pod's hostname. On failure everything created is removed again.
 */
export async function createSandbox(spec: SandboxSpec): Promise<Sandbox> {
  checkRelative(spec.uid, 'pod uid')
  const dir = podDir(spec.dataDir, spec.uid)
  if (existsSync(join(dir, RECORD))) throw new Error(`sandbox for pod ${spec.uid} already exists in ${dir}; adopt or remove it`)
  if (spec.netns !== undefined && netnsExists(spec.netns)) throw new Error(`network namespace ${spec.netns} already exists; remove it or pick another name`)
  const sandbox = toSandbox(spec.dataDir, {
    uid: spec.uid,
    namespace: spec.namespace,
    name: spec.name,
    hostname: spec.hostname,
    ...(spec.netns !== undefined ? { netns: spec.netns } : {}),
    createdAt: new Date().toISOString(),
    ips: [],
    ...(spec.hostIPC ? {} : { ipc: true }),
    pid: spec.pid ?? 'container',
  })
  try {
    // Private: the pod's files, logs and volumes (secrets among them) are for its containers only.
    await mkdir(join(dir, 'containers'), { recursive: true, mode: 0o700 })
    await mkdir(join(dir, 'volumes'), { recursive: true, mode: 0o700 })
    // Written first, so a crash half-way leaves something removeSandbox can find.
    await saveSandbox(sandbox)
    if (spec.netns !== undefined && sandbox.utsPath !== undefined) {
      await writeFileAtomic(join(dir, 'hostname'), `${spec.hostname}\n`)
      await addNetns(spec.netns)
      await addHeldNamespace('uts', sandbox.utsPath, ['hostname', spec.hostname])
    }
    if (sandbox.ipcPath !== undefined) await addHeldNamespace('ipc', sandbox.ipcPath)
    if (sandbox.pid === 'pod') {
      sandbox.pidInit = await startPidInit()
      await saveSandbox(sandbox)
    }
  } catch (err) {
    await removeSandbox(sandbox).catch(() => {})
    throw err
  }
  return sandbox
}

/**
 * Removes everything a sandbox holds; safe to call again or on a half-created one. Any
 * container process still running is killed first (stop containers gracefully before).
 */
export async function removeSandbox(sandbox: Sandbox): Promise<void> {
  await killContainerProcesses(sandbox)
  if (sandbox.pidInit !== undefined && isAlive(sandbox.pidInit)) process.kill(sandbox.pidInit.pid, 'SIGKILL')
  await unmountUnder(sandbox.dir)
  if (sandbox.utsPath !== undefined) await deleteHeldNamespace(sandbox.utsPath)
  if (sandbox.ipcPath !== undefined) await deleteHeldNamespace(sandbox.ipcPath)
  if (sandbox.netns !== undefined) await deleteNetns(sandbox.netns)
  await rm(sandbox.dir, { recursive: true, force: true })
}

export async function loadSandbox(dataDir: string, uid: string): Promise<Sandbox | undefined> {
  const record = await readJson<SandboxRecord>(join(podDir(dataDir, uid), RECORD))
  return record === undefined ? undefined : toSandbox(dataDir, record)
}

/** The sandboxes on disk (for adoption or cleanup after an agent restart). */
export async function listSandboxes(dataDir: string): Promise<Sandbox[]> {
  let uids: string[]
  try {
    uids = await readdir(podsDir(dataDir))
  } catch {
    return []
  }
  const found: Sandbox[] = []
  for (const uid of uids.sort()) {
    const sandbox = await loadSandbox(dataDir, uid).catch(() => undefined)
    if (sandbox !== undefined) found.push(sandbox)
  }
  return found
}

/** Writes the files containers see; each file is replaced atomically. */
export async function writePodFiles(sandbox: Sandbox, files: PodFiles): Promise<void> {
  if (files.hosts !== undefined) await writeFileAtomic(join(sandbox.dir, 'etc-hosts'), files.hosts)
  if (files.resolvConf !== undefined) await writeFileAtomic(join(sandbox.dir, 'resolv.conf'), files.resolvConf)
  for (const volume of files.volumes ?? []) await writeVolume(sandbox.dir, volume)
}

/** The pause process: init of a shared pid namespace, reaping what is reparented to it. */
const PAUSE = `trap 'exit 0' TERM INT; while :; do sleep 86400 & wait $!; done`

/** Starts a pid namespace held by a pause process as its init; answers the init (a host pid). */
async function startPidInit(): Promise<ProcessId> {
  const holder = spawn('unshare', ['--pid', '--fork', '--kill-child', '--', 'sh', '-c', PAUSE], { detached: true, stdio: 'ignore', env: { PATH: SYSTEM_PATH } })
  holder.unref()
  const deadline = Date.now() + 5000
  while (holder.pid !== undefined && Date.now() < deadline) {
    if (holder.exitCode !== null) break
    const [child] = childProcesses(holder.pid)
    const starttime = child === undefined ? undefined : processStartTime(child)
    if (starttime !== undefined) return { pid: child!, starttime }
    await sleep(10)
  }
  if (holder.pid !== undefined) process.kill(holder.pid, 'SIGKILL')
  throw new Error('could not start the pod\'s pid namespace (unshare --pid --fork)')
}

/** What the launcher makes of the pod's pid namespace setting for a new container. */
export function sandboxPidNamespace(sandbox: Pick<Sandbox, 'pid' | 'pidInit' | 'namespace' | 'name'>): string {
  if (sandbox.pid === 'host') return 'host'
  if (sandbox.pid !== 'pod') return 'new'
  if (sandbox.pidInit === undefined || !isAlive(sandbox.pidInit)) throw new Error(`the shared pid namespace of pod ${sandbox.namespace}/${sandbox.name} is gone (its pause process ended); the sandbox must be made again`)
  return `/proc/${sandbox.pidInit.pid}/ns/pid`
}
