// Reads a V8 .cpuprofile (node --cpu-prof) and ranks functions by self time, so a
// benchmark can say where a process spent its CPU.
import { readFileSync } from 'node:fs'
import { relative } from 'node:path'

interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
  hitCount?: number
  children?: number[]
}

interface Profile {
  nodes: ProfileNode[]
  startTime: number
  endTime: number
  samples?: number[]
  timeDeltas?: number[]
}

export interface HotSpot {
  name: string
  /** Share of all samples (0..1), idle excluded. */
  share: number
  ms: number
}

/**
 * The `top` functions by self time, or with `inclusive` by time with the function
 * anywhere on the stack; `(idle)` and `(program)` samples are left out of the total.
 */
export function hotSpots(file: string, top = 20, root = process.cwd(), inclusive = false): { busyMs: number; spots: HotSpot[] } {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const parent = new Map<number, number>()
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const nameOf = (id: number): string => {
    const frame = byId.get(id)!.callFrame
    const url = frame.url.startsWith('file://') ? relative(root, new URL(frame.url).pathname) : frame.url
    return `${frame.functionName || '(anonymous)'}${url ? ` ${url}:${frame.lineNumber + 1}` : ''}`
  }
  const timeUs = new Map<number, number>()
  const samples = profile.samples ?? []
  const deltas = profile.timeDeltas ?? []
  for (let i = 0; i < samples.length; i++) {
    // A sample's time is the delta to the next sample.
    timeUs.set(samples[i], (timeUs.get(samples[i]) ?? 0) + (deltas[i + 1] ?? 0))
  }
  const byName = new Map<string, number>()
  let busy = 0
  for (const [id, us] of timeUs) {
    const fn = byId.get(id)!.callFrame.functionName
    if (fn === '(idle)' || fn === '(program)') continue
    busy += us
    const names = new Set<string>()
    for (let at: number | undefined = id; at !== undefined; at = inclusive ? parent.get(at) : undefined) names.add(nameOf(at))
    for (const name of names) byName.set(name, (byName.get(name) ?? 0) + us)
  }
  const spots = [...byName]
    .filter(([name]) => !name.startsWith('(root)'))
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([name, us]) => ({ name, share: busy ? us / busy : 0, ms: us / 1000 }))
  return { busyMs: busy / 1000, spots }
}
