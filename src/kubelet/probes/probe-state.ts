// The pure part of a probe worker, with kubelet's rules: no attempts before
// initialDelaySeconds, one every periodSeconds, the reported result flips only after
// successThreshold successes or failureThreshold failures in a row, and a liveness or
// startup failure puts the probe on hold until the container is restarted (reset).
import type { V1Probe } from '@kubernetes/client-node'
import type { ProbeResult } from './run-probe.ts'

export type ProbeKind = 'liveness' | 'readiness' | 'startup'

export interface ProbeTimings {
  initialDelayMs: number
  periodMs: number
  timeoutMs: number
  successThreshold: number
  failureThreshold: number
}

/** The probe's timings with Kubernetes' defaults filled in. */
export function probeTimings(probe: V1Probe, kind: ProbeKind): ProbeTimings {
  return {
    initialDelayMs: (probe.initialDelaySeconds ?? 0) * 1000,
    periodMs: (probe.periodSeconds || 10) * 1000,
    timeoutMs: (probe.timeoutSeconds || 1) * 1000,
    // Validation requires 1 for liveness and startup probes; enforce it here too.
    successThreshold: kind === 'readiness' ? probe.successThreshold || 1 : 1,
    failureThreshold: probe.failureThreshold || 3,
  }
}

/** What a probe reports before its first decisive result (kubelet: ready=false, live=true). */
export function initialResult(kind: ProbeKind): ProbeResult | undefined {
  if (kind === 'readiness') return 'failure'
  if (kind === 'liveness') return 'success'
  return undefined
}

export class ProbeState {
  readonly kind: ProbeKind
  readonly timings: ProbeTimings
  /** The reported result; undefined = unknown (a startup probe that has not decided). */
  result: ProbeResult | undefined
  /** No more attempts until reset: liveness/startup failed, or startup succeeded. */
  onHold = false
  private startedAt: number
  private lastAttempt: number | undefined
  private lastResult: ProbeResult | undefined
  private resultRun = 0

  constructor(kind: ProbeKind, probe: V1Probe, containerStartedAt: number) {
    this.kind = kind
    this.timings = probeTimings(probe, kind)
    this.startedAt = containerStartedAt
    this.result = initialResult(kind)
  }

  /** A new container instance: back to the initial result and the initial delay. */
  reset(containerStartedAt: number): void {
    this.startedAt = containerStartedAt
    this.result = initialResult(this.kind)
    this.onHold = false
    this.lastAttempt = undefined
    this.lastResult = undefined
    this.resultRun = 0
  }

  /** When the next attempt is due (ms, same clock as the start time); undefined on hold. */
  nextAttemptAt(): number | undefined {
    if (this.onHold) return undefined
    const first = this.startedAt + this.timings.initialDelayMs
    return this.lastAttempt === undefined ? first : Math.max(first, this.lastAttempt + this.timings.periodMs)
  }

  /** Marks the start of an attempt (the period counts from attempt to attempt). */
  attempt(now: number): void {
    this.lastAttempt = now
  }

  /** Records an attempt's result; true when the reported result changed. */
  record(result: ProbeResult): boolean {
    if (this.onHold) return false
    if (result === this.lastResult) this.resultRun++
    else {
      this.lastResult = result
      this.resultRun = 1
    }
    const needed = result === 'success' ? this.timings.successThreshold : this.timings.failureThreshold
    if (this.resultRun < needed) return false
    const changed = this.result !== result
    this.result = result
    if (result === 'failure' && this.kind !== 'readiness') {
      this.onHold = true
      this.resultRun = 0
    }
    if (result === 'success' && this.kind === 'startup') this.onHold = true
    return changed
  }
}
