// Bindings by the callers their subjects name, so a request only looks at the bindings that
// can apply to it. A User or ServiceAccount subject is filed under the username it matches
// (`system:serviceaccount:<ns>:<name>` for a ServiceAccount, which is exactly upstream's
// serviceaccount.MatchesUsername), a Group subject under the group name.
import type { UserInfo } from '../types.ts'
import type { ParsedBinding, Subject } from './objects.ts'

export const SERVICE_ACCOUNT_USERNAME_PREFIX = 'system:serviceaccount:'

/** A binding as the index holds it: `seq` orders bindings by first arrival, for stable answers. */
export interface IndexedBinding {
  binding: ParsedBinding
  seq: number
}

interface Keys {
  users: string[]
  groups: string[]
}

/** The username a subject matches, or undefined when it matches none (upstream appliesToUser). */
export function subjectUsername(subject: Subject, bindingNamespace: string): string | undefined {
  switch (subject.kind) {
    case 'User':
      return subject.name
    case 'ServiceAccount': {
      const ns = subject.namespace !== '' ? subject.namespace : bindingNamespace
      if (ns === '') return undefined
      return `${SERVICE_ACCOUNT_USERNAME_PREFIX}${ns}:${subject.name}`
    }
    default:
      return undefined
  }
}

/** Upstream's appliesToUser for one subject. */
export function subjectApplies(subject: Subject, user: UserInfo, bindingNamespace: string): boolean {
  if (subject.kind === 'Group') return user.groups.includes(subject.name)
  const username = subjectUsername(subject, bindingNamespace)
  return username !== undefined && username === user.username
}

/** The index of the first subject that applies to `user`, or -1 (upstream appliesTo). */
export function firstApplyingSubject(binding: ParsedBinding, user: UserInfo): number {
  for (let i = 0; i < binding.subjects.length; i++) {
    if (subjectApplies(binding.subjects[i], user, binding.namespace)) return i
  }
  return -1
}

function keysOf(binding: ParsedBinding): Keys {
  const users = new Set<string>()
  const groups = new Set<string>()
  for (const s of binding.subjects) {
    if (s.kind === 'Group') groups.add(s.name)
    else {
      const u = subjectUsername(s, binding.namespace)
      if (u !== undefined) users.add(u)
    }
  }
  return { users: [...users], groups: [...groups] }
}

function addTo(map: Map<string, Set<IndexedBinding>>, key: string, entry: IndexedBinding): void {
  let set = map.get(key)
  if (!set) map.set(key, (set = new Set()))
  set.add(entry)
}

function removeFrom(map: Map<string, Set<IndexedBinding>>, key: string, entry: IndexedBinding): void {
  const set = map.get(key)
  if (!set) return
  set.delete(entry)
  if (set.size === 0) map.delete(key)
}

/** The bindings of one scope (cluster-wide, or one namespace) by name and by subject. */
export class SubjectIndex {
  readonly #byName = new Map<string, IndexedBinding>()
  readonly #byUser = new Map<string, Set<IndexedBinding>>()
  readonly #byGroup = new Map<string, Set<IndexedBinding>>()
  readonly #keys = new Map<IndexedBinding, Keys>()

  get size(): number {
    return this.#byName.size
  }

  /** Adds or replaces a binding; a replaced binding keeps its place in the order. */
  put(binding: ParsedBinding, nextSeq: () => number): void {
    const old = this.#byName.get(binding.name)
    const entry: IndexedBinding = { binding, seq: old ? old.seq : nextSeq() }
    if (old) this.#unfile(old)
    this.#byName.set(binding.name, entry)
    const keys = keysOf(binding)
    this.#keys.set(entry, keys)
    for (const u of keys.users) addTo(this.#byUser, u, entry)
    for (const g of keys.groups) addTo(this.#byGroup, g, entry)
  }

  delete(name: string): boolean {
    const old = this.#byName.get(name)
    if (!old) return false
    this.#unfile(old)
    this.#byName.delete(name)
    return true
  }

  get(name: string): ParsedBinding | undefined {
    return this.#byName.get(name)?.binding
  }

  /** Every binding, in arrival order. */
  all(): ParsedBinding[] {
    return [...this.#byName.values()].sort((a, b) => a.seq - b.seq).map((e) => e.binding)
  }

  /** The bindings with a subject that can apply to `user`, in arrival order. */
  candidates(user: UserInfo): IndexedBinding[] {
    const found = new Set<IndexedBinding>()
    const byUser = this.#byUser.get(user.username)
    if (byUser) for (const e of byUser) found.add(e)
    for (const g of user.groups) {
      const byGroup = this.#byGroup.get(g)
      if (byGroup) for (const e of byGroup) found.add(e)
    }
    const list = [...found]
    if (list.length > 1) list.sort((a, b) => a.seq - b.seq)
    return list
  }

  #unfile(entry: IndexedBinding): void {
    const keys = this.#keys.get(entry)
    if (!keys) return
    for (const u of keys.users) removeFrom(this.#byUser, u, entry)
    for (const g of keys.groups) removeFrom(this.#byGroup, g, entry)
    this.#keys.delete(entry)
  }
}
