// One pod's way from the agent seeing it to its first Ready status, step by step, as the
// kubelet's pod startup latency tracker logs it upstream ("Observed pod startup duration"):
// logged once per pod, with each step's time since the agent saw the pod, so a slow start
// shows where the time went (bench/podstartup breaks its figures down from these lines).

export type StartupStep =
  /** The sandbox's directories and namespaces exist. */
  | 'sandbox'
  /** The CNI ADD answered: the pod has its addresses. */
  | 'network'
  /** Hosts file, resolv.conf, cgroups and the sandbox record are written. */
  | 'sandboxReady'
  /** The first container's configuration is ready: the objects it needs read from the API (its service account token among them), its environment and volumes written. */
  | 'config'
  /** Every container of the first sync has started (the configuration of each read from the API first). */
  | 'containers'
  /** The first status with the containers running was written. */
  | 'runningStatus'
  /** The first status with Ready=True was written. */
  | 'ready'

export interface StartupTraceRecord {
  /** Wall-clock time (ms since the epoch) when the agent saw the pod. */
  seenAt: number
  /** Each step's time since then, in ms, in the order they happened. */
  steps: Partial<Record<StartupStep, number>>
}

export class StartupTrace {
  readonly #seenAt = Date.now()
  readonly #seen = performance.now()
  readonly #steps: Partial<Record<StartupStep, number>> = {}
  #done = false

  /** Records `step` the first time it happens; later ones (restarts) are not the startup. */
  mark(step: StartupStep): void {
    if (this.#done || step in this.#steps) return
    this.#steps[step] = Math.round((performance.now() - this.#seen) * 10) / 10
  }

  /** The record, once the pod is Ready (then never again); undefined before. */
  finish(): StartupTraceRecord | undefined {
    if (this.#done || !('ready' in this.#steps)) return undefined
    this.#done = true
    return { seenAt: this.#seenAt, steps: { ...this.#steps } }
  }
}
