// lab.json: what a lab is made of, written before anything is started and updated as
// processes start, so `weft down` can undo a lab that crashed half-way.
import { readFile, rename, writeFile } from 'node:fs/promises'
import type { LabPlan } from './topology.ts'

export interface LabProcess {
  role: 'server' | 'agent' | 'publisher' | 'relay'
  name: string
  pid: number
  /** /proc/PID/stat field 22: tells a live process from a recycled pid. */
  starttime: string
}

export interface LabState {
  version: 1
  id: string
  dataDir: string
  labNetns: string
  socket: string
  kubeconfig: string
  url?: string
  nodes: { name: string; netns: string; ip: string; podNetnsPrefix: string; dataDir: string; log: string }[]
  processes: LabProcess[]
  createdAt: string
}

export function initialState(plan: LabPlan): LabState {
  return {
    version: 1,
    id: plan.id,
    dataDir: plan.dataDir,
    labNetns: plan.labNetns,
    socket: plan.socket,
    kubeconfig: plan.kubeconfig,
    nodes: plan.nodes.map(({ name, netns, ip, podNetnsPrefix, dataDir, log }) => ({ name, netns, ip, podNetnsPrefix, dataDir, log })),
    processes: [],
    createdAt: new Date().toISOString(),
  }
}

export async function writeState(path: string, state: LabState): Promise<void> {
  const tmp = `${path}.tmp`
  await writeFile(tmp, JSON.stringify(state, null, 2) + '\n')
  await rename(tmp, path)
}

/** The lab's state, or undefined when there is none (or it is unreadable, as after a crash mid-write). */
export async function readState(path: string): Promise<LabState | undefined> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch {
    return undefined
  }
  try {
    const state = JSON.parse(text) as LabState
    return state.version === 1 && typeof state.id === 'string' ? state : undefined
  } catch {
    return undefined
  }
}
