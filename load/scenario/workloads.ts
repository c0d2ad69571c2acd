// Actions on workloads: roll a Deployment out again (`kubectl rollout restart`, then what
// `kubectl rollout status` waits for), scale it, delete some of its pods.
import type { V1Deployment, V1Pod } from '@kubernetes/client-node'
import { isConflict, isNotFound } from '../../src/util/errors.ts'
import { FIELD_MANAGER, kinds, namespaceOf, type ActionContext } from './context.ts'
import type { ObjectRef } from './model.ts'
import { ActionFailed, listNames, pickRandom, waitUntil, type Progress } from './wait.ts'

export const RESTARTED_AT = 'kubectl.kubernetes.io/restartedAt'

async function getDeployment(ctx: ActionContext, ref: ObjectRef): Promise<V1Deployment> {
  return notFoundFails(ctx, ref, () => ctx.client.get<V1Deployment>(kinds.deployment, ref.name, namespaceOf(ctx, ref.namespace), { signal: ctx.signal }))
}

async function patchDeployment(ctx: ActionContext, ref: ObjectRef, patch: unknown, type: 'merge' | 'strategic'): Promise<V1Deployment> {
  return notFoundFails(ctx, ref, () => ctx.client.patch<V1Deployment>(kinds.deployment, ref.name, namespaceOf(ctx, ref.namespace), patch, type, { signal: ctx.signal, fieldManager: FIELD_MANAGER }))
}

async function notFoundFails<T>(ctx: ActionContext, ref: ObjectRef, call: () => Promise<T>): Promise<T> {
  try {
    return await call()
  } catch (err) {
    if (isNotFound(err)) throw new ActionFailed(`there is no Deployment ${ref.name} in namespace ${namespaceOf(ctx, ref.namespace)}`)
    throw err
  }
}

/** `kubectl rollout status`: done once the controller saw `generation` and every replica is new and available. */
export function rolloutProgress(d: V1Deployment, generation: number): Progress {
  const name = d.metadata?.name
  const status = d.status ?? {}
  if ((status.observedGeneration ?? 0) < generation) return { waiting: `the controller to see deployment ${name}'s new template` }
  const deadline = status.conditions?.find((c) => c.type === 'Progressing')
  if (deadline?.reason === 'ProgressDeadlineExceeded') throw new ActionFailed(`deployment ${name} exceeded its progress deadline`)
  const want = d.spec?.replicas ?? 1
  const updated = status.updatedReplicas ?? 0
  const replicas = status.replicas ?? 0
  const available = status.availableReplicas ?? 0
  if (updated < want) return { waiting: `deployment ${name}'s rollout: ${updated} out of ${want} new replicas have been updated` }
  if (replicas > updated) return { waiting: `deployment ${name}'s rollout: ${replicas - updated} old replicas are pending termination` }
  if (available < updated) return { waiting: `deployment ${name}'s rollout: ${available} of ${updated} updated replicas are available` }
  return { done: `deployment ${name} rolled out: ${updated} new replicas available` }
}

export async function rollout(ctx: ActionContext, ref: ObjectRef): Promise<string> {
  const current = await getDeployment(ctx, ref)
  if (current.spec?.paused) throw new ActionFailed(`deployment ${ref.name} is paused: resume it (kubectl rollout resume) before restarting it`)
  const patch = { spec: { template: { metadata: { annotations: { [RESTARTED_AT]: new Date().toISOString() } } } } }
  const patched = await patchDeployment(ctx, ref, patch, 'strategic')
  const generation = patched.metadata?.generation ?? 0
  return waitUntil(ctx, `deployment ${ref.name}'s rollout`, async () => rolloutProgress(await getDeployment(ctx, ref), generation))
}

/** Done once the controller saw the new replica count and exactly that many pods are ready. */
export function scaleProgress(d: V1Deployment, generation: number, replicas: number): Progress {
  const name = d.metadata?.name
  const status = d.status ?? {}
  if ((status.observedGeneration ?? 0) < generation) return { waiting: `the controller to see deployment ${name}'s new replica count` }
  const ready = status.readyReplicas ?? 0
  const current = status.replicas ?? 0
  if (current !== replicas) return { waiting: `deployment ${name} to have ${replicas} replicas (it has ${current})` }
  if (ready !== replicas) return { waiting: `deployment ${name}'s replicas to be ready: ${ready} of ${replicas}` }
  return { done: `deployment ${name} has ${replicas} ready replica${replicas === 1 ? '' : 's'}` }
}

export async function scale(ctx: ActionContext, ref: ObjectRef, replicas: number): Promise<string> {
  const patched = await patchDeployment(ctx, ref, { spec: { replicas } }, 'merge')
  const generation = patched.metadata?.generation ?? 0
  return waitUntil(ctx, `deployment ${ref.name} to scale to ${replicas}`, async () => scaleProgress(await getDeployment(ctx, ref), generation, replicas))
}

export function isActivePod(pod: V1Pod): boolean {
  return !pod.metadata?.deletionTimestamp && pod.status?.phase !== 'Succeeded' && pod.status?.phase !== 'Failed'
}

export async function deletePods(ctx: ActionContext, spec: { namespace?: string; selector: string; count: number; gracePeriodSeconds?: number }): Promise<string> {
  const namespace = namespaceOf(ctx, spec.namespace)
  const { items } = await ctx.client.list<V1Pod>(kinds.pod, { namespace, labelSelector: spec.selector, signal: ctx.signal })
  const active = items.filter(isActivePod)
  if (active.length < spec.count) {
    throw new ActionFailed(`${active.length === 0 ? 'no' : `only ${active.length}`} running pod${active.length === 1 ? '' : 's'} in namespace ${namespace} match ${spec.selector}; the action deletes ${spec.count}`)
  }
  const victims = pickRandom(active, spec.count)
  const gone = new Set<string>()
  for (const pod of victims) {
    const { name, uid } = pod.metadata!
    try {
      await ctx.client.delete(kinds.pod, name!, namespace, { signal: ctx.signal, preconditions: { uid }, ...(spec.gracePeriodSeconds !== undefined ? { gracePeriodSeconds: spec.gracePeriodSeconds } : {}) })
    } catch (err) {
      // Gone already (or replaced under the same name): what the action wanted.
      if (!isNotFound(err) && !isConflict(err)) throw err
      gone.add(uid!)
    }
  }
  const names = victims.map((p) => p.metadata!.name!)
  return waitUntil(ctx, `pods ${listNames(names)} to be gone`, async () => {
    const { items: now } = await ctx.client.list<V1Pod>(kinds.pod, { namespace, labelSelector: spec.selector, signal: ctx.signal })
    const uids = new Set(now.map((p) => p.metadata?.uid))
    const left = victims.filter((p) => !gone.has(p.metadata!.uid!) && uids.has(p.metadata!.uid))
    if (left.length > 0) return { waiting: `${left.length} deleted pod${left.length === 1 ? '' : 's'} to be gone: ${listNames(left.map((p) => p.metadata!.name!))}` }
    return { done: `deleted ${listNames(names)}; gone` }
  })
}
