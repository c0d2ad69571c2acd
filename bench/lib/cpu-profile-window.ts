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
