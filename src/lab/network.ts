// The lab's namespaces: an underlay bridge in `wl-<id>`, one namespace per node wired to it.
import { statSync } from 'node:fs'
import { addNetns, deleteNetns, ipBatch, listNetns, netnsPath, setSysctl } from '../netlink/index.ts'
import { isLabNetns, labNetnsCommands, nodeNetnsCommands, type LabPlan } from './topology.ts'

export async function createTopology(plan: LabPlan): Promise<void> {
  await addNetns(plan.labNetns)
  for (const node of plan.nodes) await addNetns(node.netns)
  await ipBatch(labNetnsCommands(plan), plan.labNetns)
  await Promise.all(
    plan.nodes.map(async (node) => {
      await ipBatch(nodeNetnsCommands(node), node.netns)
      await setSysctl('net.ipv4.ip_forward', '1', node.netns)
    }),
  )
}

/** The lab's namespaces that exist now (lab, nodes, and pod sandboxes the agents made). */
export function labNamespaces(id: string): string[] {
  return listNetns().filter((name) => isLabNetns(id, name))
}

/** Namespace inodes, to find the processes inside them. */
export function netnsInodes(names: readonly string[]): Set<number> {
  const inodes = new Set<number>()
  for (const name of names) {
    try {
      inodes.add(statSync(netnsPath(name)).ino)
    } catch {
      // Gone meanwhile.
    }
  }
  return inodes
}

/** Deletes the lab's namespaces, pods first; deleting a namespace removes the links in it. */
export async function deleteLabNamespaces(id: string): Promise<string[]> {
  const names = labNamespaces(id).sort((a, b) => b.length - a.length)
  for (const name of names) await deleteNetns(name)
  return names
}
