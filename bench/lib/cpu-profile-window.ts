// Cuts a V8 .cpuprofile down to its last `lastMs` milliseconds, so hot spots of a measured
// phase leave out the process's start-up (module loading, compilation) before it.
import { readFileSync, writeFileSync } from 'node:fs'

interface Profile {
  startTime: number
  endTime: number
  samples?: number[]
  timeDeltas?: number[]
}

/** Writes the window to `<file>.last-<lastMs>ms.cpuprofile` and returns that path. */
export function profileTail(file: string, lastMs: number): string {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile
  const samples = profile.samples ?? []
  const deltas = profile.timeDeltas ?? []
  const from = profile.endTime - lastMs * 1000
  let t = profile.startTime
  let first = samples.length
  for (let i = 0; i < samples.length; i++) {
    t += deltas[i] ?? 0
    if (t >= from) {
      first = i
      break
    }
  }
  const out = `${file}.last-${Math.round(lastMs)}ms.cpuprofile`
  writeFileSync(out, JSON.stringify({ ...profile, startTime: Math.max(profile.startTime, from), samples: samples.slice(first), timeDeltas: deltas.slice(first) }))
  return out
}

/** A span of the monotonic clock (`process.hrtime`, which V8's profile timestamps use), µs. */
export interface ClockWindow {
  fromUs: number
  toUs: number
}

/** The current monotonic time in µs, comparable with a V8 profile's timestamps from another process on this machine. */
export function monotonicUs(): number {
  return Number(process.hrtime.bigint() / 1000n)
}

/**
 * Keeps only the samples taken inside `windows` (each keeps its own duration) and writes
 * the result to `<file>.<label>.cpuprofile`; returns that path and how many samples it kept.
 */
export function profileWindows(file: string, windows: readonly ClockWindow[], label: string): { path: string; kept: number } {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile
  const samples = profile.samples ?? []
  const deltas = profile.timeDeltas ?? []
  const keptSamples: number[] = []
  const keptDeltas: number[] = [0]
  let t = profile.startTime
  for (let i = 0; i < samples.length; i++) {
    t += deltas[i] ?? 0
    if (!windows.some((w) => t >= w.fromUs && t < w.toUs)) continue
    keptSamples.push(samples[i])
    keptDeltas.push(deltas[i + 1] ?? 0)
  }
  keptDeltas.pop()
  const out = `${file}.${label}.cpuprofile`
  writeFileSync(out, JSON.stringify({ ...profile, samples: keptSamples, timeDeltas: keptDeltas }))
  return { path: out, kept: keptSamples.length }
}
