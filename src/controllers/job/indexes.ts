// Sets of completion indexes as ordered intervals, and their `0-2,4,6-7` form in
// status.completedIndexes and status.failedIndexes (upstream's orderedIntervals).

export interface Interval {
  first: number
  last: number
}

export type Intervals = Interval[]

/** Parses `0-2,4` leniently, as the controller reads its own status: bad pieces are skipped, indexes ≥ `completions` dropped. */
export function parseIndexes(text: string | undefined, completions: number): Intervals {
  if (!text) return []
  const out: Intervals = []
  for (const piece of text.split(',')) {
    const limits = piece.split('-')
    if (!/^[+-]?\d+$/.test(limits[0]!)) continue
    const first = Number(limits[0])
    if (first >= completions) break
    let last = first
    if (limits.length > 1) {
      if (!/^[+-]?\d+$/.test(limits[1]!)) continue
      last = Math.min(Number(limits[1]), completions - 1)
    }
    const prev = out[out.length - 1]
    if (prev && prev.last === first - 1) prev.last = last
    else out.push({ first, last })
  }
  return out
}

/** The union of two interval lists, adjacent intervals joined. */
export function merge(a: Intervals, b: Intervals): Intervals {
  const out: Intervals = []
  const add = (iv: Interval): void => {
    const prev = out[out.length - 1]
    if (!prev || iv.first > prev.last + 1) out.push({ ...iv })
    else if (prev.last < iv.last) prev.last = iv.last
  }
  let i = 0
  let j = 0
  while (i < a.length && j < b.length) add(a[i]!.first < b[j]!.first ? a[i++]! : b[j++]!)
  while (i < a.length) add(a[i++]!)
  while (j < b.length) add(b[j++]!)
  return out
}

export function withIndexes(intervals: Intervals, indexes: Iterable<number>): Intervals {
  const sorted = [...new Set(indexes)].sort((x, y) => x - y)
  return merge(intervals, sorted.map((i) => ({ first: i, last: i })))
}

export function total(intervals: Intervals): number {
  return intervals.reduce((n, iv) => n + iv.last - iv.first + 1, 0)
}

export function has(intervals: Intervals, index: number): boolean {
  return intervals.some((iv) => iv.first <= index && index <= iv.last)
}

/** `0-2,4,6,7`: two neighbours are written as a pair, longer runs as a range. */
export function formatIndexes(intervals: Intervals): string {
  return intervals.map((iv) => (iv.last === iv.first ? `${iv.first}` : iv.last === iv.first + 1 ? `${iv.first},${iv.last}` : `${iv.first}-${iv.last}`)).join(',')
}

/** Upstream's matchSucceededIndexesRule: the rule's indexes all succeeded, or at least `count` of them did. */
export function coveredBy(rule: Intervals, succeeded: Intervals, count: number | undefined): boolean {
  let contains = 0
  for (const r of rule) for (const s of succeeded) contains += Math.max(0, Math.min(r.last, s.last) - Math.max(r.first, s.first) + 1)
  return contains === total(rule) || (count !== undefined && contains >= count)
}
