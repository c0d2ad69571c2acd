// What the kubelet knows of a pod on this node: the sandbox and the container processes
// it runs, as the pure planning and status functions see them.
import { createHash } from 'node:crypto'
import type { V1Container, V1PodSpec } from '@kubernetes/client-node'

export interface ObservedContainer {
  name: string
  running: boolean
  startedAt: Date
  finishedAt?: Date
  exitCode?: number
  /** Completed, Error, or why it could not run. */
  reason?: string
  /** The termination message. */
  message?: string
  restartCount: number
  specHash: string
}

export interface ObservedPod {
  sandbox?: { ips: string[] }
  /** The latest instance of each container (init and app) by name. */
  containers: Record<string, ObservedContainer>
  /** The instance before the latest, for lastState. */
  previous: Record<string, ObservedContainer>
  /** Containers that could not be started this time (bad env reference, missing command…). */
  startErrors: Record<string, { reason: string; message: string }>
}

export type ProbeResult = 'success' | 'failure'

export interface ContainerProbes {
  liveness?: ProbeResult
  readiness?: ProbeResult
  startup?: ProbeResult
}

/** Changes to these fields restart the container (as the kubelet's container hash does). */
export function containerSpecHash(c: V1Container): string {
  const { resources: _resources, ...rest } = c
  return createHash('sha256').update(JSON.stringify(rest)).digest('hex').slice(0, 16)
}

export function emptyObservedPod(): ObservedPod {
  return { containers: {}, previous: {}, startErrors: {} }
}

/** Every container of a pod spec by name: init, app and ephemeral (debug) containers. */
export function podContainers(spec: V1PodSpec | undefined): V1Container[] {
  return [...(spec?.initContainers ?? []), ...(spec?.containers ?? []), ...((spec?.ephemeralContainers ?? []) as V1Container[])]
}
