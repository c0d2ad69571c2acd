// ResourceList arithmetic (k8s.io/apiserver/pkg/quota/v1/resources.go): maps of resource
// name to quantity, added, subtracted, masked and compared as the quota system does.
import { isQuantity } from '../api/quantity.ts'
import { addQuantities, compareQuantities, formatQuantity, subtractQuantities, toQuantity, zeroQuantity, type Quantity } from '../api/resource-quantity.ts'

export type ResourceList = Map<string, Quantity>

/**
 * Reads a JSON resource list. The API server refuses a value that is not a quantity when it
 * decodes an object, so only an object stored before it checked can hold one: such a value
 * counts as absent rather than stopping every quota of its namespace.
 */
export function readResourceList(raw: unknown): ResourceList {
  const list: ResourceList = new Map()
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return list
  for (const [name, value] of Object.entries(raw)) {
    if ((typeof value === 'string' || typeof value === 'number') && isQuantity(value)) list.set(name, toQuantity(value))
  }
  return list
}

/** The JSON form, names sorted, each quantity in canonical text. */
export function writeResourceList(list: ResourceList): Record<string, string> {
  const out: Record<string, string> = {}
  for (const name of [...list.keys()].sort()) out[name] = formatQuantity(list.get(name)!)
  return out
}

export function resourceNames(list: ResourceList): string[] {
  return [...list.keys()]
}

/** a + b, key by key. */
export function addLists(a: ResourceList, b: ResourceList): ResourceList {
  const out: ResourceList = new Map(a)
  for (const [name, q] of b) {
    const mine = out.get(name)
    out.set(name, mine ? addQuantities(mine, q) : q)
  }
  return out
}

/** a − b for the names in a (names only in b are left out). */
function subtractLists(a: ResourceList, b: ResourceList): ResourceList {
  const out: ResourceList = new Map()
  for (const [name, q] of a) {
    const other = b.get(name)
    out.set(name, other ? subtractQuantities(q, other) : q)
  }
  return out
}

/** a − b where a negative difference, and a name only in b, is zero. */
export function subtractNonNegative(a: ResourceList, b: ResourceList): ResourceList {
  const out: ResourceList = new Map()
  for (const [name, q] of subtractLists(a, b)) out.set(name, q.nanos > 0n ? q : zeroQuantity())
  for (const name of b.keys()) if (!out.has(name)) out.set(name, zeroQuantity())
  return out
}

/** Only the entries named. */
export function mask(list: ResourceList, names: Iterable<string>): ResourceList {
  const keep = new Set(names)
  const out: ResourceList = new Map()
  for (const [name, q] of list) if (keep.has(name)) out.set(name, q)
  return out
}

export function removeZeros(list: ResourceList): ResourceList {
  const out: ResourceList = new Map()
  for (const [name, q] of list) if (q.nanos !== 0n) out.set(name, q)
  return out
}

export function negativeNames(list: ResourceList): string[] {
  return [...list].filter(([, q]) => q.nanos < 0n).map(([name]) => name)
}

/** Same names, equal values. */
export function listsEqual(a: ResourceList, b: ResourceList): boolean {
  if (a.size !== b.size) return false
  for (const [name, q] of a) {
    const other = b.get(name)
    if (!other || compareQuantities(q, other) !== 0) return false
  }
  return true
}

/** The names whose value in a is above b's; names b lacks are not limited. */
export function exceeding(a: ResourceList, b: ResourceList): string[] {
  const over: string[] = []
  for (const [name, limit] of b) {
    const value = a.get(name)
    if (value && compareQuantities(value, limit) > 0) over.push(name)
  }
  return over
}

/** `name=value` pairs sorted by name, comma-separated, as quota errors print them. */
export function prettyPrint(list: ResourceList): string {
  return [...list.keys()]
    .sort()
    .map((name) => `${name}=${formatQuantity(list.get(name)!)}`)
    .join(',')
}
