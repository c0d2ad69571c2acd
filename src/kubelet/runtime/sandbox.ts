// A pod sandbox: a named network namespace, a UTS namespace held by a bind mount (both
// absent for hostNetwork pods, which share the node's) and the pod directory
// <dataDir>/pods/<uid>/ with the files containers see (etc-hosts, resolv.conf,
// hostname, volumes/), the logs, the container state and sandbox.json, from which a
// restarted agent finds the sandbox again.
import { existsSync } from 'node:fs'
import { mkdir, readdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { addNetns, deleteNetns, netnsExists, netnsPath } from '../../netlink/index.ts'
import { addUtsNamespace, deleteUtsNamespace } from '../../netlink/uts.ts'
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
}

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
}

export interface Sandbox extends SandboxRecord {
  dataDir: string
  /** The pod directory. */
  dir: string
  /** The file holding the UTS namespace; absent for hostNetwork pods. */
  utsPath?: string
  /** `/run/netns/<netns>`, the CNI_NETNS of the pod; absent for hostNetwork pods. */
  netnsPath?: string
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
  }
}

function toRecord(sandbox: Sandbox): SandboxRecord {
  const { uid, namespace, name, hostname, netns, createdAt, ips } = sandbox
  return { uid, namespace, name, hostname, ...(netns !== undefined ? { netns } : {}), createdAt, ips }
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
      await addUtsNamespace(sandbox.utsPath, spec.hostname)
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
  await unmountUnder(sandbox.dir)
  if (sandbox.utsPath !== undefined) await deleteUtsNamespace(sandbox.utsPath)
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
