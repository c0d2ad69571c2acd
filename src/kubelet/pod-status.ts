// The status a kubelet reports for a pod, from what runs and what the probes say. Pure.
import { podQOSClass } from '../api/qos.ts'
import type { V1Container, V1ContainerState, V1ContainerStatus, V1Pod, V1PodCondition, V1PodStatus } from '@kubernetes/client-node'
import type { PodPlan } from './pod-plan.ts'
import type { ContainerProbes, ObservedContainer, ObservedPod } from './pod-state.ts'

export interface StatusContext {
  hostIPs: string[]
  now: Date
  probes(name: string): ContainerProbes
  /** The pod's first start on this node. */
  startTime: Date
}

function ts(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z')
}

function stateOf(c: ObservedContainer | undefined, waiting: { reason: string; message?: string } | undefined): V1ContainerState {
  if (c?.running) return { running: { startedAt: ts(c.startedAt) as unknown as Date } }
  if (c && !waiting) {
    return {
      terminated: {
        exitCode: c.exitCode ?? 137,
        reason: c.reason ?? (c.exitCode === 0 ? 'Completed' : 'Error'),
        ...(c.message ? { message: c.message } : {}),
        startedAt: ts(c.startedAt) as unknown as Date,
        finishedAt: ts(c.finishedAt ?? c.startedAt) as unknown as Date,
        containerID: undefined,
      },
    }
  }
  return { waiting: waiting ?? { reason: 'ContainerCreating' } }
}

function lastStateOf(latest: ObservedContainer | undefined, previous: ObservedContainer | undefined, waiting: unknown): V1ContainerState {
  // A container waiting to restart shows its last run as lastState.
  const last = latest && !latest.running && waiting ? latest : previous
  if (!last || last.running) return {}
  return { terminated: { exitCode: last.exitCode ?? 137, reason: last.reason ?? (last.exitCode === 0 ? 'Completed' : 'Error'), ...(last.message ? { message: last.message } : {}), startedAt: ts(last.startedAt) as unknown as Date, finishedAt: ts(last.finishedAt ?? last.startedAt) as unknown as Date } }
}

function containerStatus(pod: V1Pod, spec: V1Container, observed: ObservedPod, plan: PodPlan, ctx: StatusContext): V1ContainerStatus & { ready: boolean } {
  const c = observed.containers[spec.name]
  const waiting = plan.waiting[spec.name]
  const probes = ctx.probes(spec.name)
  const running = c?.running === true && !waiting
  const started = running && (!spec.startupProbe || probes.startup === 'success')
  const ready = started && (!spec.readinessProbe || probes.readiness === 'success')
  const status: V1ContainerStatus = {
    name: spec.name,
    image: spec.image ?? '',
    imageID: spec.image ? `weft://${spec.image}` : '',
    ready,
    started,
    restartCount: c?.restartCount ?? 0,
    state: stateOf(c, waiting),
    lastState: lastStateOf(c, observed.previous[spec.name], waiting),
  }
  if (c) status.containerID = `weft://${pod.metadata?.uid}/${spec.name}/${c.restartCount}`
  return status as V1ContainerStatus & { ready: boolean }
}

function condition(type: string, ok: boolean, previous: V1PodCondition[] | undefined, now: Date, reason?: string): V1PodCondition {
  const status = ok ? 'True' : 'False'
  const before = previous?.find((c) => c.type === type)
  const lastTransitionTime = before?.status === status && before.lastTransitionTime ? before.lastTransitionTime : (ts(now) as unknown as Date)
  return { type, status, lastTransitionTime, ...(reason && !ok ? { reason } : {}) } as V1PodCondition
}

/** The conditions the kubelet sets; any other (a readiness gate's, DisruptionTarget) belongs to whoever set it and is kept as the API has it. */
const kubeletConditions = new Set(['PodReadyToStartContainers', 'Initialized', 'Ready', 'ContainersReady', 'PodScheduled'])

/** Upstream's messages for the readiness gates whose condition is missing or not True. */
function unreadyGates(pod: V1Pod, conditions: V1PodCondition[] | undefined): string[] {
  const unready: string[] = []
  for (const gate of pod.spec?.readinessGates ?? []) {
    const c = conditions?.find((x) => x.type === gate.conditionType)
    if (!c) unready.push(`corresponding condition of pod readiness gate "${gate.conditionType}" does not exist.`)
    else if (c.status !== 'True') unready.push(`the status of pod readiness gate "${gate.conditionType}" is not "True", but ${c.status}`)
  }
  return unready
}

/** Ready: the containers are ready and every readiness gate's condition is True. */
function readyCondition(pod: V1Pod, containersReady: boolean, terminal: boolean, prev: V1PodCondition[] | undefined, now: Date): V1PodCondition {
  if (!containersReady || terminal) return condition('Ready', false, prev, now, terminal ? 'PodCompleted' : 'ContainersNotReady')
  const unready = unreadyGates(pod, prev)
  if (unready.length > 0) return { ...condition('Ready', false, prev, now, 'ReadinessGatesNotReady'), message: unready.join(', ') }
  return condition('Ready', true, prev, now)
}

export function podStatus(pod: V1Pod, observed: ObservedPod, plan: PodPlan, ctx: StatusContext): V1PodStatus {
  const spec = pod.spec!
  const prev = pod.status?.conditions
  const init = (spec.initContainers ?? []).map((c) => containerStatus(pod, c, observed, plan, ctx))
  const apps = spec.containers.map((c) => containerStatus(pod, c, observed, plan, ctx))
  const initialized = (spec.initContainers ?? []).every((c) => observed.containers[c.name]?.exitCode === 0 && !observed.containers[c.name]?.running)
  const containersReady = apps.every((c) => c.ready)
  let phase: string
  if (plan.finished) phase = plan.finished
  else if (initialized && apps.some((c) => c.state?.running || observed.containers[c.name] !== undefined)) phase = 'Running'
  else phase = 'Pending'
  const ips = observed.sandbox?.ips ?? []
  const terminal = phase === 'Succeeded' || phase === 'Failed'
  const status: V1PodStatus = {
    phase,
    conditions: [
      condition('PodReadyToStartContainers', observed.sandbox !== undefined, prev, ctx.now),
      condition('Initialized', initialized, prev, ctx.now, 'ContainersNotInitialized'),
      readyCondition(pod, containersReady, terminal, prev, ctx.now),
      condition('ContainersReady', containersReady && !terminal, prev, ctx.now, terminal ? 'PodCompleted' : 'ContainersNotReady'),
      condition('PodScheduled', true, prev, ctx.now),
      // The status is written whole (a merge patch replaces the list): others' conditions go back as they are.
      ...(prev ?? []).filter((c) => !kubeletConditions.has(c.type)),
    ],
    hostIP: ctx.hostIPs[0],
    hostIPs: ctx.hostIPs.map((ip) => ({ ip })),
    startTime: ts(ctx.startTime) as unknown as Date,
    containerStatuses: apps,
    qosClass: podQOSClass(pod.spec),
  }
  if (init.length) status.initContainerStatuses = init
  // Ephemeral containers are never ready and have no started field (upstream's shape).
  const ephemeral = (spec.ephemeralContainers ?? []).map((c) => {
    const { started: _, ...rest } = containerStatus(pod, c as V1Container, observed, plan, ctx)
    return { ...rest, ready: false }
  })
  if (ephemeral.length) status.ephemeralContainerStatuses = ephemeral
  if (ips.length) {
    status.podIP = ips[0]
    status.podIPs = ips.map((ip) => ({ ip }))
  } else if (pod.status?.podIP && terminal) {
    status.podIP = pod.status.podIP
    status.podIPs = pod.status.podIPs
  }
  return status
}
