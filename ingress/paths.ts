// Ingress path matching (networking.k8s.io/v1 HTTPIngressPath) and a per-host path index.
//
// Exact: the request path equals the rule path, character for character.
// Prefix: the rule path's elements (split on '/', empty elements ignored, so a trailing
// slash on either side does not matter) are an element-wise prefix of the request path's.
// ImplementationSpecific: weft treats it as Prefix.
// Both request and rule paths arrive normalised (normalize-path.ts: unreserved escapes decoded,
// dot segments removed); `%2F` stays encoded, so `/foo%2Fbar` is the single element `foo%2Fbar`.

export type PathType = 'Exact' | 'Prefix' | 'ImplementationSpecific'

export const pathTypes: readonly PathType[] = ['Exact', 'Prefix', 'ImplementationSpecific']

export function isPathType(value: unknown): value is PathType {
  return value === 'Exact' || value === 'Prefix' || value === 'ImplementationSpecific'
}

/** The non-empty '/'-separated elements: `/aaa//bbb/` → `['aaa', 'bbb']`. */
export function pathElements(path: string): string[] {
  return path.split('/').filter((e) => e !== '')
}

/** The path of a request target without its query string; undefined when it is not absolute (does not start with '/'). */
export function requestPath(target: string): string | undefined {
  const q = target.indexOf('?')
  const path = q === -1 ? target : target.slice(0, q)
  return path.charCodeAt(0) === 47 /* '/' */ ? path : undefined
}

export function pathMatches(type: PathType, rulePath: string, requestPathValue: string): boolean {
  if (!requestPathValue.startsWith('/') || !rulePath.startsWith('/')) return false
  if (type === 'Exact') return rulePath === requestPathValue
  const rule = pathElements(rulePath)
  const req = pathElements(requestPathValue)
  if (rule.length > req.length) return false
  return rule.every((e, i) => e === req[i])
}

interface TrieNode<T> {
  children: Map<string, TrieNode<T>> | undefined
  prefix: T | undefined
}

/**
 * Paths of one host group. `add` in precedence order: for a given Exact path or Prefix
 * element sequence, the first value added wins. `lookup` returns the longest match:
 * an Exact match (which equals the whole request path, so it is never shorter than any
 * Prefix match) first, else the Prefix match with the most path elements.
 * Cost: one Map lookup per request path element.
 */
export class PathIndex<T> {
  readonly #exact = new Map<string, T>()
  readonly #root: TrieNode<T> = { children: undefined, prefix: undefined }
  #size = 0

  get size(): number {
    return this.#size
  }

  /** Returns the value now holding the slot: `value`, or the earlier one that shadows it. */
  add(type: PathType, path: string, value: T): T {
    if (type === 'Exact') {
      const held = this.#exact.get(path)
      if (held !== undefined) return held
      this.#exact.set(path, value)
      this.#size++
      return value
    }
    let node = this.#root
    for (const element of pathElements(path)) {
      node.children ??= new Map()
      let child = node.children.get(element)
      if (!child) {
        child = { children: undefined, prefix: undefined }
        node.children.set(element, child)
      }
      node = child
    }
    if (node.prefix !== undefined) return node.prefix
    node.prefix = value
    this.#size++
    return value
  }

  /** `path` must be absolute and without a query string (see requestPath). */
  lookup(path: string): T | undefined {
    const exact = this.#exact.get(path)
    if (exact !== undefined) return exact
    let node = this.#root
    let best = node.prefix
    let start = 1
    const end = path.length
    while (start <= end && node.children) {
      let stop = path.indexOf('/', start)
      if (stop === -1) stop = end
      if (stop > start) {
        const child = node.children.get(path.slice(start, stop))
        if (!child) break
        node = child
        if (node.prefix !== undefined) best = node.prefix
      }
      start = stop + 1
    }
    return best
  }
}
