// setReady: flips pods' readiness the Kubernetes way, through a pod readiness gate. The pod
// declares `spec.readinessGates: [{conditionType: …}]`; the action sets that condition in the
// pod's status, and the kubelet makes Ready follow it (Ready = containers ready AND every gate
// True), so the endpoints controller takes the pod out of (or back into) its Services.
import type { V1Pod, V1PodCondition } from '@kubernetes/client-node'
import { isNotFound } from '../../src/util/errors.ts'
import { FIELD_MANAGER, kinds, namespaceOf, type ActionContext } from './context.ts'
import { isActivePod } from './workloads.ts'
import { ActionFailed, listNames, pickRandom, waitUntil } from './wait.ts'

export interface SetReadySpec {
  namespace?: string
  selector: string
  count: number
  ready: boolean
  conditionType?: string
}

export const GATE_HINT = 'add spec.readinessGates: [{conditionType: weft.dev/ready}] to its pod template (the condition type is yours to choose) so that its readiness can be set'

/** The readiness gate the action sets on `pod`, or why it cannot. */
export function gateOf(pod: V1Pod, wanted: string | undefined): { conditionType: string } | { problem: string } {
  const name = `pod ${pod.metadata?.namespace}/${pod.metadata?.name}`
  const gates = (pod.spec?.readinessGates ?? []).map((g) => g.conditionType)
  if (gates.length === 0) return { problem: `${name} declares no readiness gate: ${GATE_HINT}` }
  if (wanted !== undefined) return gates.includes(wanted) ? { conditionType: wanted } : { problem: `${name} has no readiness gate ${wanted} (its gates: ${gates.join(', ')})` }
  if (gates.length > 1) return { problem: `${name} has several readiness gates (${gates.join(', ')}): say which with setReady's conditionType` }
  return { conditionType: gates[0] }
}

function conditionStatus(pod: V1Pod, type: string): string | undefined {
  return pod.status?.conditions?.find((c) => c.type === type)?.status
}

export async function patchGate(ctx: Pick<ActionContext, 'client' | 'runId' | 'signal'>, pod: { namespace: string; name: string }, conditionType: string, ready: boolean): Promise<V1Pod> {
  const condition: V1PodCondition = {
    type: conditionType,
    status: ready ? 'True' : 'False',
    reason: ready ? 'LoadScenarioReady' : 'LoadScenarioNotReady',
    message: `set by weft load (run ${ctx.runId})`,
    lastTransitionTime: new Date().toISOString() as unknown as Date,
  }
  // Strategic merge: the conditions list merges by type, so the kubelet's own stay as they are.
  return ctx.client.patch<V1Pod>(kinds.pod, pod.name, pod.namespace, { status: { conditions: [condition] } }, 'strategic', { subresource: 'status', signal: ctx.signal, fieldManager: FIELD_MANAGER })
}

export async function setReady(ctx: ActionContext, spec: SetReadySpec): Promise<string> {
  const namespace = namespaceOf(ctx, spec.namespace)
  const { items } = await ctx.client.list<V1Pod>(kinds.pod, { namespace, labelSelector: spec.selector, signal: ctx.signal })
  const active = items.filter(isActivePod)
  if (active.length === 0) throw new ActionFailed(`no running pods in namespace ${namespace} match ${spec.selector}`)
  const gated: { pod: V1Pod; conditionType: string }[] = []
  for (const pod of active) {
    const gate = gateOf(pod, spec.conditionType)
    if ('problem' in gate) throw new ActionFailed(gate.problem)
    gated.push({ pod, conditionType: gate.conditionType })
  }
  const want = spec.ready ? 'True' : 'False'
  const flippable = gated.filter(({ pod, conditionType }) => conditionStatus(pod, conditionType) !== want)
  if (flippable.length < spec.count) {
    throw new ActionFailed(`${flippable.length === 0 ? 'none' : `only ${flippable.length}`} of the ${gated.length} running pods matching ${spec.selector} in ${namespace} can be set ${spec.ready ? 'ready' : 'not ready'}: the others are already; the action sets ${spec.count}`)
  }
  const chosen = pickRandom(flippable, spec.count).map(({ pod, conditionType }) => ({ namespace, name: pod.metadata!.name!, uid: pod.metadata!.uid!, conditionType }))
  for (const pod of chosen) {
    await patchGate(ctx, pod, pod.conditionType, spec.ready)
    const key = `${namespace}/${pod.name}`
    if (spec.ready) ctx.ledger.unready.delete(key)
    else ctx.ledger.unready.set(key, pod)
  }
  const names = chosen.map((p) => p.name)
  const gone = new Set<string>()
  return waitUntil(ctx, `pods ${listNames(names)} to be ${spec.ready ? 'ready' : 'not ready'}`, async () => {
    const pending: string[] = []
    for (const chosenPod of chosen) {
      if (gone.has(chosenPod.name)) continue
      let pod: V1Pod
      try {
        pod = await ctx.client.get<V1Pod>(kinds.pod, chosenPod.name, namespace, { signal: ctx.signal })
      } catch (err) {
        if (!isNotFound(err)) throw err
        gone.add(chosenPod.name)
        continue
      }
      if (pod.metadata?.uid !== chosenPod.uid) {
        gone.add(chosenPod.name)
        continue
      }
      // A status write from a stale copy can put the old value back: set it again.
      if (conditionStatus(pod, chosenPod.conditionType) !== want) await patchGate(ctx, chosenPod, chosenPod.conditionType, spec.ready)
      if (conditionStatus(pod, 'Ready') !== want) pending.push(chosenPod.name)
    }
    if (pending.length > 0) return { waiting: `the kubelet to make ${listNames(pending)} ${spec.ready ? 'Ready' : 'not Ready'} (readiness gate set)` }
    const kept = names.filter((n) => !gone.has(n))
    if (kept.length === 0) throw new ActionFailed(`${listNames(names)} went away before the kubelet made them ${spec.ready ? 'Ready' : 'not Ready'}`)
    const lost = gone.size > 0 ? `; ${listNames([...gone])} went away meanwhile` : ''
    return { done: `${listNames(kept)} ${spec.ready ? 'Ready' : 'not Ready'} by readiness gate${lost}` }
  })
}
