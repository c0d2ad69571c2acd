// The kubelet's computePodActions: from a pod's spec and what runs, the steps that bring
// them together. Pure; the pod worker carries them out.
import type { V1Container, V1Pod } from '@kubernetes/client-node'
import { containerSpecHash, type ContainerProbes, type ObservedContainer, type ObservedPod } from './pod-state.ts'

export type PodStep =
  | { type: 'CreateSandbox' }
  | { type: 'StartContainer'; name: string; init: boolean }
  | { type: 'KillContainer'; name: string; reason: string }

export interface PodPlan {
  steps: PodStep[]
  /** Containers that wait, and why (CrashLoopBackOff with its message, PodInitializing…). */
  waiting: Record<string, { reason: string; message?: string }>
  /** Set when nothing will run again: the pod's final phase. */
  finished?: 'Succeeded' | 'Failed'
  /** The earliest time a backoff ends, so the worker can come back then. */
  retryAtMs?: number
}

export interface PlanContext {
  nowMs: number
  /** When a container's restart backoff ends (ms), if it is in one. */
  backoffUntil(name: string): number | undefined
  probes(name: string): ContainerProbes
}

function restartPolicy(pod: V1Pod): 'Always' | 'OnFailure' | 'Never' {
  const p = pod.spec?.restartPolicy
  return p === 'OnFailure' || p === 'Never' ? p : 'Always'
}

function shouldRestart(pod: V1Pod, c: ObservedContainer): boolean {
  const policy = restartPolicy(pod)
  return policy === 'Always' || (policy === 'OnFailure' && c.exitCode !== 0)
}

function startOrBackOff(plan: PodPlan, ctx: PlanContext, spec: V1Container, startError: { reason: string; message: string } | undefined, init: boolean): void {
  const until = ctx.backoffUntil(spec.name)
  if (until !== undefined && until > ctx.nowMs) {
    const seconds = Math.ceil((until - ctx.nowMs) / 1000)
    plan.waiting[spec.name] = startError ?? { reason: 'CrashLoopBackOff', message: `back-off ${seconds}s restarting failed container=${spec.name}` }
    plan.retryAtMs = Math.min(plan.retryAtMs ?? Infinity, until)
    return
  }
  plan.steps.push({ type: 'StartContainer', name: spec.name, init })
}

export function planPod(pod: V1Pod, observed: ObservedPod, ctx: PlanContext): PodPlan {
  const plan: PodPlan = { steps: [], waiting: {} }
  const spec = pod.spec
  if (!spec) return plan
  const policy = restartPolicy(pod)
  if (!observed.sandbox) {
    const anyRan = Object.keys(observed.containers).length > 0
    // A pod that ran to completion under Never does not get a new sandbox.
    if (anyRan && policy === 'Never') {
      plan.finished = Object.values(observed.containers).every((c) => c.exitCode === 0) ? 'Succeeded' : 'Failed'
      return plan
    }
    plan.steps.push({ type: 'CreateSandbox' })
  }
  const sandboxFresh = !observed.sandbox
  const seen = (name: string) => (sandboxFresh ? undefined : observed.containers[name])

  for (const init of spec.initContainers ?? []) {
    const c = seen(init.name)
    if (c?.running) {
      for (const app of spec.containers) plan.waiting[app.name] = { reason: 'PodInitializing' }
      return plan
    }
    if (c && c.exitCode === 0) continue
    if (c && policy === 'Never') {
      plan.finished = 'Failed'
      return plan
    }
    startOrBackOff(plan, ctx, init, observed.startErrors[init.name], true)
    for (const app of spec.containers) plan.waiting[app.name] = { reason: 'PodInitializing' }
    return plan
  }

  let done = 0
  let failed = 0
  for (const app of spec.containers) {
    const c = seen(app.name)
    if (c?.running) {
      if (c.specHash !== containerSpecHash(app)) {
        plan.steps.push({ type: 'KillContainer', name: app.name, reason: `Container ${app.name} definition changed, will be restarted` })
        plan.steps.push({ type: 'StartContainer', name: app.name, init: false })
      } else if (ctx.probes(app.name).liveness === 'failure') {
        plan.steps.push({ type: 'KillContainer', name: app.name, reason: `Container ${app.name} failed liveness probe, will be restarted` })
        if (policy !== 'Never') startOrBackOff(plan, ctx, app, undefined, false)
      }
      continue
    }
    if (!c) {
      startOrBackOff(plan, ctx, app, observed.startErrors[app.name], false)
      continue
    }
    if (shouldRestart(pod, c)) {
      startOrBackOff(plan, ctx, app, undefined, false)
      continue
    }
    done++
    if (c.exitCode !== 0) failed++
  }
  if (done === spec.containers.length) {
    plan.finished = failed > 0 ? 'Failed' : 'Succeeded'
    return plan
  }
  // Ephemeral (debug) containers: started once the pod's own run, never restarted.
  if (!sandboxFresh) {
    for (const e of (spec.ephemeralContainers ?? []) as V1Container[]) {
      if (!seen(e.name)) startOrBackOff(plan, ctx, e, observed.startErrors[e.name], false)
    }
  }
  return plan
}
