// What changed between two compiled states of a node: the incremental sync adds and removes
// set elements, and rewrites only the pods whose addresses or entries changed.
import type { AddressPort, CompiledNode, LocalPod, PeerSet } from './model.ts'

export interface SetElementsChange {
  name: string
  kind: PeerSet['kind']
  add: { v4: (string | AddressPort)[]; v6: (string | AddressPort)[] }
  remove: { v4: (string | AddressPort)[]; v6: (string | AddressPort)[] }
}

export interface CompiledDiff {
  setsAdded: PeerSet[]
  /** Names. */
  setsRemoved: string[]
  setsChanged: SetElementsChange[]
  podsAdded: LocalPod[]
  /** Uids. */
  podsRemoved: string[]
  /** The new state of pods whose addresses or entries changed. */
  podsChanged: LocalPod[]
  /** The node's own addresses changed (the always-allowed node traffic). */
  nodeIPsChanged: boolean
}

function elementKey(e: string | AddressPort): string {
  return typeof e === 'string' ? e : `${e.ip} ${e.protocol} ${e.port}`
}

function delta(before: readonly (string | AddressPort)[], after: readonly (string | AddressPort)[]) {
  // Most sets are as they were: the same elements in the same (sorted) order.
  if (before.length === after.length && before.every((e, i) => elementKey(e) === elementKey(after[i]!))) return { add: [], remove: [] }
  const b = new Set(before.map(elementKey))
  const a = new Set(after.map(elementKey))
  return { add: after.filter((e) => !b.has(elementKey(e))), remove: before.filter((e) => !a.has(elementKey(e))) }
}

/** A pod's addresses and entries as text, worked out once per object (the `after` of one diff is the `before` of the next). */
const podTexts = new WeakMap<LocalPod, string>()

function podText(p: LocalPod): string {
  let text = podTexts.get(p)
  if (text === undefined) podTexts.set(p, (text = JSON.stringify([p.ips, p.ingress, p.egress])))
  return text
}

export function diffCompiled(before: CompiledNode, after: CompiledNode): CompiledDiff {
  const d: CompiledDiff = { setsAdded: [], setsRemoved: [], setsChanged: [], podsAdded: [], podsRemoved: [], podsChanged: [], nodeIPsChanged: JSON.stringify(before.nodeIPs) !== JSON.stringify(after.nodeIPs) }
  for (const [name, set] of after.sets) {
    const old = before.sets.get(name)
    if (!old) {
      d.setsAdded.push(set)
      continue
    }
    if (old === set) continue
    const v4 = delta(old.v4, set.v4)
    const v6 = delta(old.v6, set.v6)
    if (v4.add.length + v4.remove.length + v6.add.length + v6.remove.length) {
      d.setsChanged.push({ name, kind: set.kind, add: { v4: v4.add, v6: v6.add }, remove: { v4: v4.remove, v6: v6.remove } })
    }
  }
  for (const name of before.sets.keys()) if (!after.sets.has(name)) d.setsRemoved.push(name)
  for (const [uid, pod] of after.pods) {
    const old = before.pods.get(uid)
    if (!old) d.podsAdded.push(pod)
    else if (old !== pod && podText(old) !== podText(pod)) d.podsChanged.push(pod)
  }
  for (const uid of before.pods.keys()) if (!after.pods.has(uid)) d.podsRemoved.push(uid)
  return d
}

export function isEmptyDiff(d: CompiledDiff): boolean {
  return !d.setsAdded.length && !d.setsRemoved.length && !d.setsChanged.length && !d.podsAdded.length && !d.podsRemoved.length && !d.podsChanged.length && !d.nodeIPsChanged
}
