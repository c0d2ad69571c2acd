// The two transactions of the NetworkPolicy table: the full one (the table deleted and
// written again, atomically) and the incremental one (only what diffCompiled says changed,
// ordered so that nothing refers to an object that does not exist yet or any more).
import { Transaction } from '../../src/netfilter/transaction.ts'
import type { CompiledDiff } from '../diff.ts'
import type { CompiledNode, Family, PeerSet } from '../model.ts'
import { FAMILY, nodeIPsSet, peerSet, TABLE, verdictMap, type Direction } from './names.ts'
import { baseSets, DIRECTIONS, elementTexts, FAMILIES, FORWARD_CHAIN, FORWARD_SPEC, forwardRules, nodeIPElements, podDirections, setElements, setSpec, vmapElement, type NetpolRenderOptions, type PodDirection } from './rules.ts'

/** Elements per `add element` command, so no line grows without bound. */
const ELEMENT_CHUNK = 1000

function addElements(tx: Transaction, set: string, els: readonly string[]): void {
  for (let i = 0; i < els.length; i += ELEMENT_CHUNK) tx.addElements(set, els.slice(i, i + ELEMENT_CHUNK))
}

function deleteElements(tx: Transaction, set: string, els: readonly string[]): void {
  for (let i = 0; i < els.length; i += ELEMENT_CHUNK) tx.deleteElements(set, els.slice(i, i + ELEMENT_CHUNK))
}

function addPeerSet(tx: Transaction, set: PeerSet): void {
  for (const f of FAMILIES) {
    tx.addSet(peerSet(set.name, f), setSpec(set, f))
    addElements(tx, peerSet(set.name, f), setElements(set, f))
  }
}

const ipsOf = (d: { v4: string[]; v6: string[] }, f: Family) => (f === 4 ? d.v4 : d.v6)

/** The whole table for `state`: `add table` + `delete table` (whatever was there goes) and everything again. */
export function fullTransaction(state: CompiledNode, opts: NetpolRenderOptions): Transaction {
  // Rendered first, so that invalid data throws before anything is built.
  const pods = [...state.pods.values()].map((p) => podDirections(p, state.sets, opts))
  const tx = new Transaction(FAMILY, TABLE)
  tx.addTable().push({ verb: 'delete', kind: 'table' }).addTable()
  for (const s of baseSets()) {
    if (s.kind === 'map') tx.addMap(s.name, s.spec)
    else tx.addSet(s.name, s.spec)
  }
  for (const f of FAMILIES) addElements(tx, nodeIPsSet(f), nodeIPElements(state, f))
  for (const set of state.sets.values()) addPeerSet(tx, set)
  for (const dirs of pods) {
    for (const d of dirs) {
      tx.addChain(d.chain)
      for (const r of d.rules) tx.addRule(d.chain, r)
    }
  }
  const vmaps = new Map<string, string[]>()
  for (const dirs of pods) {
    for (const d of dirs) {
      for (const f of FAMILIES) {
        const name = verdictMap(d.dir, f)
        const list = vmaps.get(name) ?? []
        for (const ip of ipsOf(d, f)) list.push(vmapElement(ip, d.chain))
        vmaps.set(name, list)
      }
    }
  }
  for (const [name, els] of vmaps) addElements(tx, name, els)
  tx.addChain(FORWARD_CHAIN, FORWARD_SPEC)
  for (const r of forwardRules()) tx.addRule(FORWARD_CHAIN, r)
  return tx
}

/**
 * Only the changes from `before` (what the kernel holds) to `after`, as `diff` lists them:
 * 1. the node's addresses (set flushed and refilled), 2. new peer sets with their elements,
 * 3. element changes of existing sets (deletes first), 4. verdict map elements that go
 * (removed pods, addresses a pod lost, directions no longer isolated), 5. new chains, and the
 * chains of changed pods whose rules differ, flushed and refilled, 6. verdict map elements that come, 7. chains
 * and 8. sets that go. A pod that starts matching a selector is step 3 alone.
 */
export function incrementalTransaction(before: CompiledNode, after: CompiledNode, diff: CompiledDiff, opts: NetpolRenderOptions): Transaction {
  const tx = new Transaction(FAMILY, TABLE)
  const newPods = [...diff.podsAdded, ...diff.podsChanged]
  const rendered = new Map<string, PodDirection[]>(newPods.map((p) => [p.uid, podDirections(p, after.sets, opts)]))

  if (diff.nodeIPsChanged) {
    for (const f of FAMILIES) {
      const els = nodeIPElements(after, f)
      tx.push({ verb: 'flush', kind: 'set', name: nodeIPsSet(f) })
      addElements(tx, nodeIPsSet(f), els)
    }
  }
  for (const set of diff.setsAdded) addPeerSet(tx, set)
  for (const ch of diff.setsChanged) {
    const set = after.sets.get(ch.name)
    const intervals = set?.kind === 'addresses' && set.intervals
    for (const f of FAMILIES) deleteElements(tx, peerSet(ch.name, f), elementTexts(ch.kind, intervals, f === 4 ? ch.remove.v4 : ch.remove.v6, f))
    for (const f of FAMILIES) addElements(tx, peerSet(ch.name, f), elementTexts(ch.kind, intervals, f === 4 ? ch.add.v4 : ch.add.v6, f))
  }

  // Per pod and direction: what the vmaps hold now, and what they must hold.
  const touched = [...diff.podsRemoved, ...newPods.map((p) => p.uid)]
  const vmapDeletes = new Map<string, string[]>()
  const vmapAdds = new Map<string, string[]>()
  const chainsGone: string[] = []
  const push = (m: Map<string, string[]>, k: string, v: string) => {
    const l = m.get(k)
    if (l) l.push(v)
    else m.set(k, [v])
  }
  // What the kernel holds for each pod touched: rendered again from `before` (it rendered once).
  const applied = new Map<string, Map<Direction, PodDirection>>()
  for (const uid of touched) {
    const p = before.pods.get(uid)
    applied.set(uid, new Map((p ? podDirections(p, before.sets, opts) : []).map((d) => [d.dir, d])))
  }
  for (const uid of touched) {
    const old = applied.get(uid)!
    const now = new Map((rendered.get(uid) ?? []).map((d) => [d.dir, d]))
    for (const dir of DIRECTIONS) {
      const o = old.get(dir)
      const n = now.get(dir)
      for (const f of FAMILIES) {
        const had = new Set(o ? ipsOf(o, f) : [])
        const has = new Set(n ? ipsOf(n, f) : [])
        for (const ip of had) if (!has.has(ip)) push(vmapDeletes, verdictMap(dir, f), vmapElement(ip, o!.chain))
        for (const ip of has) if (!had.has(ip)) push(vmapAdds, verdictMap(dir, f), vmapElement(ip, n!.chain))
      }
      if (o && !n) chainsGone.push(o.chain)
    }
  }
  for (const [name, els] of vmapDeletes) deleteElements(tx, name, els)
  for (const uid of newPods.map((p) => p.uid)) {
    const old = applied.get(uid)!
    for (const d of rendered.get(uid)!) {
      const o = old.get(d.dir)
      if (o && o.rules.length === d.rules.length && o.rules.every((r, i) => r === d.rules[i])) continue
      if (o) tx.flushChain(d.chain)
      else tx.addChain(d.chain)
      for (const r of d.rules) tx.addRule(d.chain, r)
    }
  }
  for (const [name, els] of vmapAdds) addElements(tx, name, els)
  for (const chain of chainsGone) tx.deleteChain(chain)
  for (const name of diff.setsRemoved) for (const f of FAMILIES) tx.deleteSet(peerSet(name, f))
  return tx
}

/** How many elements a transaction adds and deletes. */
export function elementCounts(tx: Transaction): { added: number; removed: number } {
  let added = 0
  let removed = 0
  for (const op of tx.operations) {
    if (op.kind !== 'element') continue
    if (op.verb === 'add') added += op.elements.length
    else removed += op.elements.length
  }
  return { added, removed }
}
