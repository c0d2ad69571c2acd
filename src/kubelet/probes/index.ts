export { runProbe, PROBE_USER_AGENT, type ProbeOutcome, type ProbeResult, type ProbeTarget } from './run-probe.ts'
export { initialResult, probeTimings, ProbeState, type ProbeKind, type ProbeTimings } from './probe-state.ts'
export { ProbeWorker, systemClock, type Clock, type ProbeWorkerOptions } from './probe-worker.ts'
