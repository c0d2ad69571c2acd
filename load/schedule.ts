// Open-loop schedule: when request n is meant to be sent. The rate r(t) of each phase is constant
// or a linear ramp; N(t) = ∫ r is the number of requests meant by time t, and request n (from 0)
// goes at the first moment N passes n: t_n = inf{t : N(t) > n}. So request 0 goes at 0, a phase of
// 10/s for 1 s sends 10, and after a phase of rate 0 the next request goes when the rate resumes.
import type { Phase } from './types.ts'

export interface Schedule {
  /** Sum of the phases' durations, ms (Infinity when the last phase is unbounded). */
  readonly durationMs: number
  /** Requests meant over the whole schedule (Infinity when unbounded). */
  readonly total: number
  /** Intended send time of request n, ms from the schedule's start. */
  sendTimeMs(n: number): number
  /** How many requests are meant at or before tMs (capped at total). */
  dueBy(tMs: number): number
  /** The rate (requests/s) at tMs. */
  rateAt(tMs: number): number
}

interface Segment {
  startMs: number
  durationMs: number
  /** Requests meant before this segment. */
  startCount: number
  /** Requests meant within it (may be fractional). */
  count: number
  /** Rate at the start and its change, per ms. */
  ratePerMs: number
  slopePerMs2: number
}

/** Slack so that dueBy(sendTimeMs(n)) counts n despite rounding. */
const relativeSlack = 1e-12
const absoluteSlack = 1e-9

export class ScheduleError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'ScheduleError'
  }
}

function checkPhase(phase: Phase, index: number, last: boolean): void {
  const where = `phase ${index + 1}${phase.name ? ` (${phase.name})` : ''}`
  if (!(phase.durationMs > 0) || (phase.durationMs === Infinity && !last)) {
    throw new ScheduleError(`${where}: duration must be a positive number of ms${last ? '' : ' (only the last phase may be unbounded)'}, got ${phase.durationMs}`)
  }
  if (typeof phase.rate !== 'number' || !Number.isFinite(phase.rate) || phase.rate < 0) {
    throw new ScheduleError(`${where}: rate must be a finite number ≥ 0 requests/s, got ${phase.rate}`)
  }
  if (phase.rateTo !== undefined) {
    if (typeof phase.rateTo !== 'number' || !Number.isFinite(phase.rateTo) || phase.rateTo < 0) throw new ScheduleError(`${where}: rateTo must be a finite number ≥ 0 requests/s, got ${phase.rateTo}`)
    if (phase.durationMs === Infinity && phase.rateTo !== phase.rate) throw new ScheduleError(`${where}: a ramp needs a bounded duration`)
  }
}

export function createSchedule(phases: Phase[]): Schedule {
  if (phases.length === 0) throw new ScheduleError('no phases')
  const segments: Segment[] = []
  let startMs = 0
  let startCount = 0
  phases.forEach((phase, index) => {
    checkPhase(phase, index, index === phases.length - 1)
    const from = (phase.rate as number) / 1000
    const to = (phase.rateTo ?? (phase.rate as number)) / 1000
    const slope = phase.durationMs === Infinity ? 0 : (to - from) / phase.durationMs
    const count = phase.durationMs === Infinity ? (from > 0 ? Infinity : 0) : ((from + to) / 2) * phase.durationMs
    segments.push({ startMs, durationMs: phase.durationMs, startCount, count, ratePerMs: from, slopePerMs2: slope })
    startMs += phase.durationMs
    startCount += count
  })
  const durationMs = startMs
  const totalCount = startCount
  const total = totalCount === Infinity ? Infinity : Math.ceil(totalCount * (1 - relativeSlack) - absoluteSlack)

  /** Requests meant within the segment by s ms into it. */
  const countWithin = (segment: Segment, s: number): number => segment.ratePerMs * s + (segment.slopePerMs2 * s * s) / 2

  /** The s at which countWithin(segment, s) = c, for 0 ≤ c ≤ segment.count. */
  const timeWithin = (segment: Segment, c: number): number => {
    if (c <= 0) return 0
    const a = segment.ratePerMs
    const k = segment.slopePerMs2 / 2
    if (k === 0) return c / a
    // k s² + a s − c = 0; this form is stable for k < 0 (ramp down) and a = 0 (ramp from zero).
    const discriminant = Math.max(0, a * a + 4 * k * c)
    return Math.min(segment.durationMs, (2 * c) / (a + Math.sqrt(discriminant)))
  }

  let lastSegment = 0
  const segmentForCount = (n: number): Segment => {
    // Requests are asked for mostly in order: start from the last segment found.
    let i = lastSegment
    if (n < segments[i].startCount) i = 0
    while (i < segments.length - 1 && (segments[i].count === 0 || n >= segments[i].startCount + segments[i].count)) i++
    // Rounding may carry the last request past the last segment that sends any.
    while (i > 0 && segments[i].count === 0) i--
    lastSegment = i
    return segments[i]
  }

  const segmentAtTime = (tMs: number): Segment => {
    let i = 0
    while (i < segments.length - 1 && tMs >= segments[i].startMs + segments[i].durationMs) i++
    return segments[i]
  }

  return {
    durationMs,
    total,
    sendTimeMs(n) {
      if (!(n >= 0 && n < total)) throw new ScheduleError(`request ${n} is outside the schedule (0..${total - 1})`)
      const segment = segmentForCount(n)
      return segment.startMs + timeWithin(segment, n - segment.startCount)
    },
    dueBy(tMs) {
      if (tMs < 0) return 0
      if (tMs >= durationMs) return total
      const segment = segmentAtTime(tMs)
      const s = tMs - segment.startMs
      const meant = segment.startCount + countWithin(segment, s)
      const sending = segment.ratePerMs + segment.slopePerMs2 * s > 0 || segment.slopePerMs2 > 0
      // While sending, request n is due once N(t) reaches n; while the rate is 0, only those N has passed.
      const due = sending ? Math.floor(meant * (1 + relativeSlack) + absoluteSlack) + 1 : Math.ceil(meant * (1 - relativeSlack) - absoluteSlack)
      return Math.min(total, due)
    },
    rateAt(tMs) {
      if (tMs < 0 || tMs >= durationMs) return 0
      const segment = segmentAtTime(tMs)
      return (segment.ratePerMs + segment.slopePerMs2 * (tMs - segment.startMs)) * 1000
    },
  }
}
