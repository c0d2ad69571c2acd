// An in-memory nftables for unit tests. It applies transactions all or nothing with the
// kernel's rules as nft 1.0.6 shows them (checked by test/netfilter/fake-vs-nft.test.ts):
// `add` of an existing object is a no-op, `create` fails; flushing or deleting a missing
// object fails; a chain or set still referenced by a rule or a verdict-map element cannot
// be deleted (a chain's own rules go with it); `flush table` empties every chain but
// leaves set and map elements; a map key bound to another value cannot be re-added.
import type { NftClient, TableObjects } from './client.ts'
import { NftError, type NftErrorCode } from './nft.ts'
import { renderOperation, type NftFamily, type NftOperation, type Transaction } from './transaction.ts'

interface FakeRule {
  text: string
  chains: string[]
  sets: string[]
}

interface FakeChain {
  spec: string | undefined
  rules: FakeRule[]
}

interface FakeSet {
  kind: 'set' | 'map'
  spec: string
  /** key → value (undefined for sets). */
  elements: Map<string, string | undefined>
}

interface FakeTable {
  chains: Map<string, FakeChain>
  sets: Map<string, FakeSet>
  /** How many rules (its own included) and map elements point at each chain. */
  chainRefs: Map<string, number>
  /** How many rules name each set or map with `@name`. */
  setRefs: Map<string, number>
}

const chainRefRe = /\b(?:jump|goto)\s+"?([^\s",;{}]+)"?/g
// `@ll,`, `@nh,`, `@th,` and `@ih,` start raw payload expressions (`@th,64,128`), not set names.
const setRefRe = /@(?!(?:ll|nh|th|ih),)"?([^\s",;{}]+)"?/g

const commentRe = /\bcomment\s+"[^"]*"/g

function chainRefs(text: string): string[] {
  return [...text.replace(commentRe, '').matchAll(chainRefRe)].map((m) => m[1]!)
}

function setRefs(text: string): string[] {
  return [...text.replace(commentRe, '').matchAll(setRefRe)].map((m) => m[1]!)
}

/** Splits `key : value`; the separator is a colon with spaces around it (IPv6 keys keep their colons). */
function splitElement(element: string): [string, string | undefined] {
  const i = element.indexOf(' : ')
  return i < 0 ? [element.trim(), undefined] : [element.slice(0, i).trim(), element.slice(i + 3).trim()]
}

/** Whitespace-insensitive form of a spec, for comparing `add` of an existing set or chain. */
function normalizeSpec(spec: string): string {
  return spec
    .replace(/\s+/g, ' ')
    .replace(/\s*;\s*/g, ';')
    .replace(/;+$/, '')
    .trim()
}

function withoutPolicy(spec: string): string {
  return normalizeSpec(spec.replace(/\bpolicy\s+\w+\s*;?/, ''))
}

function bump(refs: Map<string, number>, name: string, by: number): void {
  const n = (refs.get(name) ?? 0) + by
  if (n > 0) refs.set(name, n)
  else refs.delete(name)
}

function emptyTable(): FakeTable {
  return { chains: new Map(), sets: new Map(), chainRefs: new Map(), setRefs: new Map() }
}

/** A copy-on-write working copy of a table: objects are cloned the first time they change. */
class Working {
  readonly table: FakeTable
  private readonly ownChains = new Set<string>()
  private readonly ownSets = new Set<string>()

  constructor(base: FakeTable) {
    this.table = {
      chains: new Map(base.chains),
      sets: new Map(base.sets),
      chainRefs: new Map(base.chainRefs),
      setRefs: new Map(base.setRefs),
    }
  }

  chain(name: string): FakeChain {
    const c = this.table.chains.get(name)!
    if (this.ownChains.has(name)) return c
    const copy = { spec: c.spec, rules: [...c.rules] }
    this.table.chains.set(name, copy)
    this.ownChains.add(name)
    return copy
  }

  set(name: string): FakeSet {
    const s = this.table.sets.get(name)!
    if (this.ownSets.has(name)) return s
    const copy = { kind: s.kind, spec: s.spec, elements: new Map(s.elements) }
    this.table.sets.set(name, copy)
    this.ownSets.add(name)
    return copy
  }

  newChain(name: string, spec: string | undefined): void {
    this.table.chains.set(name, { spec, rules: [] })
    this.ownChains.add(name)
  }

  newSet(name: string, kind: 'set' | 'map', spec: string): void {
    this.table.sets.set(name, { kind, spec, elements: new Map() })
    this.ownSets.add(name)
  }
}

export class FakeNft implements NftClient {
  /** Every transaction that committed, in order. */
  readonly applied: Transaction[] = []
  private readonly tables = new Map<string, FakeTable>()

  async apply(tx: Transaction): Promise<void> {
    this.applySync(tx)
  }

  /** `apply` without the promise, for tests that drive the fake step by step. */
  applySync(tx: Transaction): void {
    if (tx.size === 0) return
    const key = `${tx.family} ${tx.table}`
    const base = this.tables.get(key)
    let work: Working | undefined = base && new Working(base)
    for (const op of tx.operations) {
      const fail = (code: NftErrorCode, reason: string): never => {
        throw new NftError(code, `${renderOperation(tx.family, tx.table, op)}: ${reason}`)
      }
      if (op.kind === 'table') {
        work = applyTableOp(work, op.verb, fail)
        continue
      }
      if (!work) return fail('ENOENT', `No such file or directory (table ${key} does not exist)`)
      applyOp(work, op, fail)
    }
    if (work) this.tables.set(key, work.table)
    else this.tables.delete(key)
    this.applied.push(tx)
  }

  async listTable(family: NftFamily, table: string): Promise<TableObjects | undefined> {
    const t = this.tables.get(`${family} ${table}`)
    if (!t) return undefined
    const sets: string[] = []
    const maps: string[] = []
    const setTimeouts: Record<string, number> = {}
    for (const [name, s] of t.sets) {
      if (s.kind === 'map') {
        maps.push(name)
        continue
      }
      sets.push(name)
      const timeout = /\btimeout (\d+)([smhd]?)\b/.exec(s.spec)
      if (timeout) setTimeouts[name] = Number(timeout[1]) * ({ '': 1, s: 1, m: 60, h: 3600, d: 86400 } as Record<string, number>)[timeout[2]!]!
    }
    return { chains: [...t.chains.keys()].sort(), sets: sets.sort(), maps: maps.sort(), setTimeouts }
  }

  /** The rules of a chain in order; undefined when the table or chain does not exist. */
  rules(family: NftFamily, table: string, chain: string): string[] | undefined {
    return this.tables
      .get(`${family} ${table}`)
      ?.chains.get(chain)
      ?.rules.map((r) => r.text)
  }

  /** The elements of a set or map, sorted, maps as `key : value`; undefined when missing. */
  elements(family: NftFamily, table: string, set: string): string[] | undefined {
    const s = this.tables.get(`${family} ${table}`)?.sets.get(set)
    return s && elementLines(s)
  }

  /** Whether the table exists. */
  hasTable(family: NftFamily, table: string): boolean {
    return this.tables.has(`${family} ${table}`)
  }

  /**
   * The table as canonical `nft -f` input (empty when it does not exist): the table, chains
   * sorted by name, sets and maps sorted by name, then each chain's rules in order, then
   * each set's elements sorted, one per line.
   */
  dump(family: NftFamily, table: string): string {
    const t = this.tables.get(`${family} ${table}`)
    if (!t) return ''
    const where = `${family} ${table}`
    const lines = [`add table ${where}`]
    const chains = [...t.chains.keys()].sort()
    const sets = [...t.sets.keys()].sort()
    for (const name of chains) {
      const spec = t.chains.get(name)!.spec
      lines.push(spec ? `add chain ${where} ${name} { ${spec} }` : `add chain ${where} ${name}`)
    }
    for (const name of sets) {
      const s = t.sets.get(name)!
      lines.push(`add ${s.kind} ${where} ${name} { ${s.spec} }`)
    }
    for (const name of chains) for (const r of t.chains.get(name)!.rules) lines.push(`add rule ${where} ${name} ${r.text}`)
    for (const name of sets) for (const e of elementLines(t.sets.get(name)!)) lines.push(`add element ${where} ${name} { ${e} }`)
    return lines.join('\n') + '\n'
  }
}

type Fail = (code: NftErrorCode, reason: string) => never

function elementLines(s: FakeSet): string[] {
  return [...s.elements].map(([k, v]) => (v === undefined ? k : `${k} : ${v}`)).sort()
}

function applyTableOp(work: Working | undefined, verb: 'add' | 'create' | 'flush' | 'delete', fail: Fail): Working | undefined {
  switch (verb) {
    case 'add':
      return work ?? new Working(emptyTable())
    case 'create':
      if (work) fail('EEXIST', 'File exists')
      return new Working(emptyTable())
    case 'flush':
      if (!work) return fail('ENOENT', 'No such file or directory')
      for (const name of [...work.table.chains.keys()]) flushChain(work, name)
      return work
    case 'delete':
      if (!work) return fail('ENOENT', 'No such file or directory')
      return undefined
  }
}

function applyOp(work: Working, op: Exclude<NftOperation, { kind: 'table' }>, fail: Fail): void {
  const t = work.table
  switch (op.kind) {
    case 'chain': {
      const existing = t.chains.get(op.name)
      if (op.verb === 'add' || op.verb === 'create') {
        const spec = op.spec?.trim() || undefined
        if (!existing) return work.newChain(op.name, spec)
        if (op.verb === 'create') return fail('EEXIST', 'File exists')
        if (spec === undefined) return
        if (existing.spec === undefined) {
          // The kernel rejects the policy first, then the hook.
          if (/\bpolicy\b/.test(spec)) return fail('EOPNOTSUPP', 'Operation not supported (a regular chain has no policy)')
          return fail('EEXIST', 'File exists (a regular chain cannot become a base chain)')
        }
        if (withoutPolicy(existing.spec) !== withoutPolicy(spec)) return fail('EOPNOTSUPP', 'Operation not supported (a base chain keeps its type, hook and priority)')
        work.chain(op.name).spec = spec
        return
      }
      if (!existing) return fail('ENOENT', 'No such file or directory')
      if (op.verb === 'flush') return flushChain(work, op.name)
      if (t.chainRefs.has(op.name)) return fail('EBUSY', 'Device or resource busy (the chain is still the target of a jump, goto or map element)')
      flushChain(work, op.name)
      t.chains.delete(op.name)
      return
    }
    case 'set':
    case 'map': {
      const existing = t.sets.get(op.name)
      if (op.verb === 'add' || op.verb === 'create') {
        if (!existing) return work.newSet(op.name, op.kind, op.spec.trim())
        if (op.verb === 'create') return fail('EEXIST', 'File exists')
        if (existing.kind !== op.kind || normalizeSpec(existing.spec) !== normalizeSpec(op.spec)) return fail('EEXIST', `File exists (a different ${existing.kind} of that name exists)`)
        return
      }
      // nft finds a set to delete under either word, but flushes only the right kind.
      if (!existing || (op.verb === 'flush' && existing.kind !== op.kind)) return fail('ENOENT', 'No such file or directory')
      if (op.verb === 'flush') return flushSet(work, op.name)
      if (t.setRefs.has(op.name)) return fail('EBUSY', `Device or resource busy (a rule still uses @${op.name})`)
      flushSet(work, op.name)
      t.sets.delete(op.name)
      return
    }
    case 'rule': {
      if (!t.chains.has(op.chain)) return fail('ENOENT', `No such file or directory (chain ${op.chain} does not exist)`)
      const chains = chainRefs(op.rule)
      const sets = setRefs(op.rule)
      for (const c of chains) if (!t.chains.has(c)) fail('ENOENT', `No such file or directory (chain ${c} does not exist)`)
      for (const s of sets) if (!t.sets.has(s)) fail('ENOENT', `No such file or directory (set ${s} does not exist)`)
      work.chain(op.chain).rules.push({ text: op.rule.trim(), chains, sets })
      for (const c of chains) bump(t.chainRefs, c, 1)
      for (const s of sets) bump(t.setRefs, s, 1)
      return
    }
    case 'element': {
      const existing = t.sets.get(op.set)
      if (!existing) return fail('ENOENT', `No such file or directory (set ${op.set} does not exist)`)
      const s = work.set(op.set)
      for (const element of op.elements) {
        const [key, value] = splitElement(element)
        if (op.verb === 'delete') {
          if (!s.elements.has(key)) fail('ENOENT', `No such file or directory (no element ${key})`)
          releaseElement(t, s.elements.get(key))
          s.elements.delete(key)
          continue
        }
        if (s.kind === 'map' && value === undefined) fail('EINVAL', `Invalid argument (map element ${key} has no value)`)
        if (s.kind === 'set' && value !== undefined) fail('EINVAL', 'Invalid argument (set is not a map)')
        if (s.elements.has(key)) {
          if (s.elements.get(key) !== value) fail('EEXIST', `File exists (${key} is already mapped to ${s.elements.get(key)})`)
          continue
        }
        for (const c of value ? chainRefs(value) : []) {
          if (!t.chains.has(c)) fail('ENOENT', `No such file or directory (chain ${c} does not exist)`)
          bump(t.chainRefs, c, 1)
        }
        s.elements.set(key, value)
      }
      return
    }
  }
}

function flushChain(work: Working, name: string): void {
  const t = work.table
  if (t.chains.get(name)!.rules.length === 0) return
  const c = work.chain(name)
  for (const r of c.rules) {
    for (const ref of r.chains) bump(t.chainRefs, ref, -1)
    for (const ref of r.sets) bump(t.setRefs, ref, -1)
  }
  c.rules = []
}

function releaseElement(t: FakeTable, value: string | undefined): void {
  if (value) for (const c of chainRefs(value)) bump(t.chainRefs, c, -1)
}

function flushSet(work: Working, name: string): void {
  const t = work.table
  if (t.sets.get(name)!.elements.size === 0) return
  const s = work.set(name)
  for (const v of s.elements.values()) releaseElement(t, v)
  s.elements.clear()
}
