// From desired state to one nftables transaction: the full sync (the whole table made
// exactly as desired) and the partial sync (only the elements, and the rare chains and
// sets, of the changed Service ports; a shared pick chain comes with its first user and
// goes with its last).
import type { TableObjects } from '../../src/netfilter/client.ts'
import { Transaction, type NftFamily } from '../../src/netfilter/transaction.ts'
import type { BaseRules, CheckedServiceRules, NftElement } from './rules.ts'

/** Elements per `add element` command in a full sync (keeps nft's input lines short). */
const ELEMENT_CHUNK = 1000

/**
 * For operations made only of the names and text of CheckedServiceRules (elements as
 * rendered, `key : value`): Transaction does not check them again. Everything else (the base
 * rules, names listed from the kernel, bare element keys to delete) it checks as usual.
 */
const CHECKED = { checked: true }

/**
 * The shared maps' and sets' elements with the Service ports that put them there: several
 * ports share a ClusterIP in `cluster-ips`, and two ports may claim the same key (then the
 * smallest port id wins, the same in every sync).
 */
export class ElementIndex {
  // By set, then key. Nearly every element has one owner: it is kept in the slot itself, and
  // a map of the other claimants made only when there are some (~10 elements a port).
  private readonly sets = new Map<string, Map<string, Slot>>()
  private count = 0

  get size(): number {
    return this.count
  }

  add(id: string, el: NftElement): void {
    let slots = this.sets.get(el.set)
    if (!slots) this.sets.set(el.set, (slots = new Map()))
    const slot = slots.get(el.key)
    if (!slot) {
      slots.set(el.key, { id, value: el.value })
      this.count++
    } else if (slot.id === id) slot.value = el.value
    else (slot.others ??= new Map()).set(id, el.value)
  }

  remove(id: string, el: NftElement): void {
    const slots = this.sets.get(el.set)
    const slot = slots?.get(el.key)
    if (!slot) return
    if (slot.id !== id) {
      slot.others?.delete(id)
      return
    }
    const next = slot.others?.entries().next().value
    if (!next) {
      slots!.delete(el.key)
      this.count--
      return
    }
    slot.others!.delete(next[0])
    slot.id = next[0]
    slot.value = next[1]
  }

  /** The value the kernel should hold for `set key`; undefined when no port wants it. */
  value(set: string, key: string): string | undefined {
    const slot = this.sets.get(set)?.get(key)
    return slot && slotValue(slot)
  }

  /** Every element as the kernel should hold it, rendered (`key : value`), by set. */
  *rendered(): Generator<[string, string[]]> {
    for (const [set, slots] of this.sets) {
      if (slots.size === 0) continue
      const out: string[] = []
      for (const [key, slot] of slots) out.push(renderElement(key, slotValue(slot)))
      yield [set, out]
    }
  }
}

interface Slot {
  id: string
  value: string
  others?: Map<string, string>
}

/** Of the ports that claim a slot, the smallest id wins (the same in every sync). */
function slotValue(slot: Slot): string {
  if (!slot.others?.size) return slot.value
  let best = slot.id
  let value = slot.value
  for (const [id, v] of slot.others) {
    if (id < best) {
      best = id
      value = v
    }
  }
  return value
}

/** The shared pick chains with the Service ports that use them. */
export class SharedChains {
  private readonly chains = new Map<string, { rules: readonly string[]; owners: Set<string> }>()

  get size(): number {
    return this.chains.size
  }

  has(name: string): boolean {
    return this.chains.has(name)
  }

  add(id: string, name: string, rules: readonly string[]): void {
    const c = this.chains.get(name)
    if (c) c.owners.add(id)
    else this.chains.set(name, { rules, owners: new Set([id]) })
  }

  remove(id: string, name: string): void {
    const c = this.chains.get(name)
    if (!c) return
    c.owners.delete(id)
    if (c.owners.size === 0) this.chains.delete(name)
  }

  rules(name: string): readonly string[] | undefined {
    return this.chains.get(name)?.rules
  }

  *entries(): Generator<[string, readonly string[]]> {
    for (const [name, c] of this.chains) yield [name, c.rules]
  }
}

export function renderElement(key: string, value: string): string {
  return value === '' ? key : `${key} : ${value}`
}

function sameRules(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

export interface ServiceChange {
  id: string
  /** What the kernel has now (undefined: the port was not programmed). */
  before?: CheckedServiceRules
  /** What it should have (undefined: the port is gone). */
  after?: CheckedServiceRules
}

const NONE = { chains: new Map(), sets: new Map(), shared: new Map(), elements: [], endpointIPs: [] } as unknown as CheckedServiceRules

/**
 * Appends to `tx` what turns the `before` of each change into its `after`, and updates
 * `index` to match. Unchanged chains are left alone; changed ones are flushed and
 * rewritten; removed chains are flushed first (with the changed ones, so that nothing
 * refers to a set being replaced), their map elements removed, then they and removed sets
 * are deleted in the same transaction (the kernels weft supports release a verdict-map reference at once).
 */
export function partialSync(tx: Transaction, changes: Iterable<ServiceChange>, index: ElementIndex, shared: SharedChains): void {
  const newChains: string[] = []
  const changedChains: string[] = []
  const rules: Array<[string, string[]]> = []
  const removedChains: string[] = []
  const newSets: Array<[string, string]> = []
  const replacedSets: string[] = []
  const removedSets: string[] = []
  const touched = new Map<string, { set: string; key: string; before: string | undefined }>()
  /** Shared chains a change touched, and whether the table had them before. */
  const sharedBefore = new Map<string, boolean>()

  for (const { id, before = NONE, after = NONE } of changes) {
    // A set whose spec changed is replaced, so every rule that names it is rewritten first.
    let rewriteAll = false
    for (const [name, spec] of after.sets) {
      const old = before.sets.get(name)
      if (old === spec) continue
      if (old === undefined) newSets.push([name, spec])
      else {
        replacedSets.push(name)
        newSets.push([name, spec])
        rewriteAll = true
      }
    }
    for (const name of before.sets.keys()) if (!after.sets.has(name)) removedSets.push(name)
    for (const [name, chainRules] of after.chains) {
      const old = before.chains.get(name)
      if (old === undefined) newChains.push(name)
      else if (rewriteAll || !sameRules(old, chainRules)) changedChains.push(name)
      else continue
      rules.push([name, chainRules])
    }
    for (const name of before.chains.keys()) if (!after.chains.has(name)) removedChains.push(name)
    for (const name of before.shared.keys()) {
      if (!sharedBefore.has(name)) sharedBefore.set(name, shared.has(name))
      shared.remove(id, name)
    }
    for (const [name, chainRules] of after.shared) {
      if (!sharedBefore.has(name)) sharedBefore.set(name, shared.has(name))
      shared.add(id, name, chainRules)
    }

    for (const el of before.elements) {
      const k = `${el.set} ${el.key}`
      if (!touched.has(k)) touched.set(k, { set: el.set, key: el.key, before: index.value(el.set, el.key) })
      index.remove(id, el)
    }
    for (const el of after.elements) {
      const k = `${el.set} ${el.key}`
      if (!touched.has(k)) touched.set(k, { set: el.set, key: el.key, before: index.value(el.set, el.key) })
      index.add(id, el)
    }
  }

  for (const [name, had] of sharedBefore) {
    const chainRules = shared.rules(name)
    if (had && !chainRules) removedChains.push(name)
    else if (!had && chainRules) {
      newChains.push(name)
      rules.push([name, [...chainRules]])
    }
  }
  for (const name of newChains) tx.push({ verb: 'add', kind: 'chain', name }, CHECKED)
  for (const name of changedChains) tx.push({ verb: 'flush', kind: 'chain', name }, CHECKED)
  for (const name of removedChains) tx.push({ verb: 'flush', kind: 'chain', name }, CHECKED)
  for (const name of replacedSets) tx.push({ verb: 'delete', kind: 'set', name }, CHECKED)
  for (const [name, spec] of newSets) tx.push({ verb: 'add', kind: 'set', name, spec }, CHECKED)
  for (const [chain, chainRules] of rules) for (const rule of chainRules) tx.push({ verb: 'add', kind: 'rule', chain, rule }, CHECKED)

  const deletes = new Map<string, string[]>()
  const adds = new Map<string, string[]>()
  const push = (m: Map<string, string[]>, set: string, el: string): void => {
    const list = m.get(set)
    if (list) list.push(el)
    else m.set(set, [el])
  }
  for (const { set, key, before } of touched.values()) {
    const after = index.value(set, key)
    if (before === after) continue
    if (before !== undefined) push(deletes, set, key)
    if (after !== undefined) push(adds, set, renderElement(key, after))
  }
  // A bare key was checked only as part of `key : value`: deletions are checked again.
  for (const [set, els] of deletes) tx.deleteElements(set, els)
  for (const [set, elements] of adds) tx.push({ verb: 'add', kind: 'element', set, elements }, CHECKED)

  for (const name of removedChains) tx.push({ verb: 'delete', kind: 'chain', name }, CHECKED)
  for (const name of removedSets) tx.push({ verb: 'delete', kind: 'set', name }, CHECKED)
}

export interface FullSyncInput {
  family: NftFamily
  table: string
  base: BaseRules
  services: Iterable<CheckedServiceRules>
  /** What the table holds now (from NftClient.listTable); undefined when it does not exist. */
  existing: TableObjects | undefined
  /** The elements of every service (as built into an ElementIndex). */
  index: ElementIndex
  /** The shared pick chains the services use. */
  shared: SharedChains
  /** Affinity set specs as last applied, to replace the sets whose timeout changed. */
  previousSets?: ReadonlyMap<string, string>
  /** Deletes and recreates the base chains (the first sync of a process: their priorities may have changed). */
  recreateBaseChains?: boolean
}

/**
 * One transaction that makes the table exactly the desired state: `flush table` empties
 * every chain (set and map elements stay), the shared maps and sets are flushed and
 * refilled, objects that are not wanted are deleted, and ClientIP-affinity sets that are
 * still wanted keep their contents.
 */
export function fullSync(input: FullSyncInput): Transaction {
  const { base, existing } = input
  const tx = new Transaction(input.family, input.table)
  tx.addTable()
  if (existing) tx.push({ verb: 'flush', kind: 'table' })
  if (input.recreateBaseChains && existing) {
    for (const c of base.baseChains) {
      tx.addChain(c.name)
      tx.deleteChain(c.name)
    }
  }
  for (const c of base.baseChains) tx.addChain(c.name, c.spec)
  for (const name of base.chains.keys()) tx.addChain(name)
  for (const [name, { kind, spec }] of base.sets) {
    if (kind === 'map') tx.addMap(name, spec)
    else tx.addSet(name, spec)
    if (existing) tx.push({ verb: 'flush', kind, name })
  }

  const wantedChains = new Set<string>()
  const wantedSets = new Map<string, string>()
  const services = [...input.services]
  for (const [name] of input.shared.entries()) wantedChains.add(name)
  for (const s of services) {
    for (const name of s.chains.keys()) wantedChains.add(name)
    for (const [name, spec] of s.sets) wantedSets.set(name, spec)
  }
  if (existing) {
    for (const name of [...existing.sets, ...existing.maps]) {
      if (base.sets.has(name)) continue
      const spec = wantedSets.get(name)
      const previous = input.previousSets?.get(name)
      if (spec === undefined || (previous !== undefined && previous !== spec)) tx.deleteSet(name)
    }
    for (const name of existing.chains) {
      if (!wantedChains.has(name) && !base.chains.has(name) && !base.baseChains.some((c) => c.name === name)) tx.deleteChain(name)
    }
  }
  for (const [name, spec] of wantedSets) tx.push({ verb: 'add', kind: 'set', name, spec }, CHECKED)
  for (const name of wantedChains) tx.push({ verb: 'add', kind: 'chain', name }, CHECKED)

  for (const c of base.baseChains) for (const rule of c.rules) tx.addRule(c.name, rule)
  for (const [name, rules] of base.chains) for (const rule of rules) tx.addRule(name, rule)
  for (const [chain, rules] of input.shared.entries()) for (const rule of rules) tx.push({ verb: 'add', kind: 'rule', chain, rule }, CHECKED)
  for (const s of services) for (const [chain, rules] of s.chains) for (const rule of rules) tx.push({ verb: 'add', kind: 'rule', chain, rule }, CHECKED)

  for (const [set, els] of input.index.rendered()) {
    for (let i = 0; i < els.length; i += ELEMENT_CHUNK) tx.push({ verb: 'add', kind: 'element', set, elements: els.slice(i, i + ELEMENT_CHUNK) }, CHECKED)
  }
  return tx
}
