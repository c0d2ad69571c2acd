// `weft down`: removes a lab from its lab.json and, after a crash, from what is left on
// the host (namespaces named after the lab id, mounts under the data dir, the CNI service
// directories of the lab's namespaces). Idempotent.
import { removeHostCgroupTree } from '../kubelet/cgroups/manager.ts'
import { lstatSync } from 'node:fs'
import { readdir, rm, rmdir } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { DEFAULT_RUN_DIR, serviceDir } from '../../cni/service/run-dir.ts'
import { podsDir } from '../kubelet/runtime/paths.ts'
import { readState, type LabState } from './state.ts'
import { isAlive, processesInNetns, stopProcess } from './processes.ts'
import { deleteLabNamespaces, labNamespaces, netnsInodes } from './network.ts'
import { listMountsUnder, unmountUnder } from '../netlink/mounts.ts'
import { labCgroupRoot, labId } from './topology.ts'

/** What `weft up` and `weft down` put in a lab's data dir; nothing else there is removed. */
export const LAB_ENTRIES = ['lab.json', 'lab.json.tmp', 'kubeconfig', 'apiserver.sock', 'server', 'nodes', 'logs']

export interface LabFootprint {
  ids: string[]
  state: LabState | undefined
  alive: LabState['processes']
  namespaces: string[]
  mounts: string[]
}

/** Everything of the lab at `dataDir` that exists on the host now. */
export async function inspectLab(dataDir: string): Promise<LabFootprint> {
  const abs = resolve(dataDir)
  const state = await readState(join(abs, 'lab.json'))
  const ids = [...new Set([labId(abs), ...(state ? [state.id] : [])])]
  return {
    ids,
    state,
    alive: (state?.processes ?? []).filter((p) => isAlive(p.pid, p.starttime)),
    namespaces: ids.flatMap(labNamespaces),
    mounts: listMountsUnder(abs),
  }
}

export interface DownResult {
  stopped: number
  namespaces: number
  mounts: number
  /** What became of the data dir: removed, absent already, or kept for files weft did not put there. */
  dir: 'removed' | 'absent' | 'kept'
}

export async function labDown(dataDir: string): Promise<DownResult> {
  const abs = resolve(dataDir)
  const found = await inspectLab(abs)
  // Agents first (they may tear their pods down), then the API server.
  const agents = found.alive.filter((p) => p.role === 'agent')
  await Promise.all(agents.map((p) => stopProcess(p.pid, p.starttime)))
  await Promise.all(found.alive.filter((p) => p.role !== 'agent').map((p) => stopProcess(p.pid, p.starttime)))
  // Whatever still runs inside the lab's namespaces is the lab's too: pod processes, an
  // agent whose pid never reached lab.json, a shell from `weft lab exec`.
  // Stopping a process can start another (a container's supervisor forks to drain its
  // logs), so look again until nothing is left.
  const inodes = netnsInodes(found.ids.flatMap(labNamespaces))
  let inside = 0
  for (let round = 0; round < 10; round++) {
    const procs = processesInNetns(inodes)
    if (procs.length === 0) break
    inside += procs.length
    await Promise.all(procs.map((p) => stopProcess(p.pid, p.starttime, round === 0 ? 2000 : 200)))
  }
  await unmountUnder(abs)
  // Nothing is deleted below a mount that would not come off: that would reach into what is mounted.
  const stuck = listMountsUnder(abs)
  if (stuck.length === 0) {
    for (const nodeDir of await nodeDataDirs(abs, found.state)) await removePods(nodeDir)
  }
  // What the agents' CNI services made in /run (left behind when an agent was killed).
  for (const inode of inodes) await removeServiceDir(serviceDir(DEFAULT_RUN_DIR, inode))
  for (const node of found.state?.nodes ?? []) await removeHostCgroupTree(labCgroupRoot(node.netns))
  let namespaces = 0
  for (const id of found.ids) namespaces += (await deleteLabNamespaces(id)).length
  if (stuck.length > 0) {
    throw new Error(`could not unmount ${stuck.join(', ')}; the lab's data dir ${abs} was left in place: unmount them (umount -l PATH) and run weft down again`)
  }
  return { stopped: found.alive.length + inside, namespaces, mounts: found.mounts.length, dir: await removeLabDir(abs) }
}


/** The agents' data dirs: those lab.json names and whatever is under nodes/. */
async function nodeDataDirs(abs: string, state: LabState | undefined): Promise<string[]> {
  const dirs = new Set((state?.nodes ?? []).map((n) => resolve(n.dataDir)).filter((d) => d.startsWith(`${abs}/`)))
  for (const name of await readdir(join(abs, 'nodes')).catch(() => [] as string[])) dirs.add(join(abs, 'nodes', name))
  return [...dirs]
}

/** Removes each pod directory of an agent (its mounts are gone by now). */
async function removePods(nodeDir: string): Promise<void> {
  for (const uid of await readdir(podsDir(nodeDir)).catch(() => [] as string[])) await rm(join(podsDir(nodeDir), uid), { recursive: true, force: true })
}

/** A CNI service's rendezvous directory, if that is what `dir` is (it holds the `req` FIFO). */
async function removeServiceDir(dir: string): Promise<void> {
  try {
    if (!lstatSync(dir).isDirectory() || !lstatSync(join(dir, 'req')).isFIFO()) return
  } catch {
    return
  }
  await rm(dir, { recursive: true, force: true })
}

/** Removes the lab's entries, then the dir if that left it empty. */
async function removeLabDir(abs: string): Promise<DownResult['dir']> {
  try {
    await readdir(abs)
  } catch {
    return 'absent'
  }
  for (const name of LAB_ENTRIES) await rm(join(abs, name), { recursive: true, force: true })
  try {
    await rmdir(abs)
    return 'removed'
  } catch {
    return 'kept'
  }
}
