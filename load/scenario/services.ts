// addServices / removeServices: N ClusterIP Services created (and deleted) concurrently, 32 at a
// time, labelled with the run's id and their prefix so that removal and cleanup find exactly them.
import type { V1Service } from '@kubernetes/client-node'
import { isNotFound } from '../../src/util/errors.ts'
import { FIELD_MANAGER, kinds, MAX_CONCURRENT_REQUESTS, namespaceOf, PREFIX_LABEL, RUN_LABEL, type ActionContext } from './context.ts'
import { ActionFailed, eachLimited, waitUntil } from './wait.ts'

export interface AddServicesSpec {
  namespace?: string
  prefix: string
  count: number
  port: number
  targetPort?: number | string
  selector?: Record<string, string>
}

export function loadService(spec: AddServicesSpec, runId: string, index: number): V1Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: `${spec.prefix}-${index}`, labels: { [RUN_LABEL]: runId, [PREFIX_LABEL]: spec.prefix } },
    spec: {
      type: 'ClusterIP',
      ports: [{ protocol: 'TCP', port: spec.port, targetPort: spec.targetPort ?? spec.port }],
      ...(spec.selector ? { selector: spec.selector } : {}),
    },
  }
}

export async function addServices(ctx: ActionContext, spec: AddServicesSpec): Promise<string> {
  const namespace = namespaceOf(ctx, spec.namespace)
  const indexes = Array.from({ length: spec.count }, (_, i) => i)
  const failures: string[] = []
  let created = 0
  await eachLimited(indexes, MAX_CONCURRENT_REQUESTS, ctx.signal, async (i) => {
    const service = loadService(spec, ctx.runId, i)
    try {
      await ctx.client.create(kinds.service, service, { namespace, signal: ctx.signal, fieldManager: FIELD_MANAGER })
      created++
    } catch (err) {
      if (!ctx.signal.aborted) failures.push(`${service.metadata!.name}: ${(err as Error).message}`)
    }
  })
  const summary = `created ${created} of ${spec.count} Services ${spec.prefix}-0…${spec.prefix}-${spec.count - 1} in ${namespace}`
  if (failures.length > 0) throw new ActionFailed(`${summary}; ${failures.length} failed, the first: ${failures[0]}`)
  if (created < spec.count) throw new ActionFailed(`${summary}: stopped`)
  return summary
}

export async function removeServices(ctx: ActionContext, spec: { namespace?: string; prefix: string }): Promise<string> {
  const namespace = namespaceOf(ctx, spec.namespace)
  const labelSelector = `${RUN_LABEL}=${ctx.runId},${PREFIX_LABEL}=${spec.prefix}`
  const { items } = await ctx.client.listAll<V1Service>(kinds.service, { namespace, labelSelector, signal: ctx.signal })
  const failures: string[] = []
  await eachLimited(items, MAX_CONCURRENT_REQUESTS, ctx.signal, async (service) => {
    try {
      await ctx.client.delete(kinds.service, service.metadata!.name!, namespace, { signal: ctx.signal })
    } catch (err) {
      if (!isNotFound(err) && !ctx.signal.aborted) failures.push(`${service.metadata!.name}: ${(err as Error).message}`)
    }
  })
  if (failures.length > 0) throw new ActionFailed(`could not delete ${failures.length} of ${items.length} Services, the first: ${failures[0]}`)
  return waitUntil(ctx, `the Services ${spec.prefix}-* to be gone`, async () => {
    const left = (await ctx.client.list<V1Service>(kinds.service, { namespace, labelSelector, limit: 1, signal: ctx.signal })).items.length
    if (left > 0) return { waiting: `the Services ${spec.prefix}-* in ${namespace} to be gone` }
    return { done: `removed ${items.length} Services ${spec.prefix}-* from ${namespace}` }
  })
}

/** Every Service the run added, in any namespace: deleted. Answers what it removed and what failed. */
export async function removeRunServices(ctx: Pick<ActionContext, 'client' | 'runId' | 'signal'>): Promise<{ removed: number; failures: string[] }> {
  const { items } = await ctx.client.listAll<V1Service>(kinds.service, { labelSelector: `${RUN_LABEL}=${ctx.runId}`, signal: ctx.signal })
  const failures: string[] = []
  let removed = 0
  await eachLimited(items, MAX_CONCURRENT_REQUESTS, ctx.signal, async (service) => {
    try {
      await ctx.client.delete(kinds.service, service.metadata!.name!, service.metadata!.namespace, { signal: ctx.signal })
      removed++
    } catch (err) {
      if (!isNotFound(err)) failures.push(`service ${service.metadata!.namespace}/${service.metadata!.name}: ${(err as Error).message}`)
    }
  })
  return { removed, failures }
}
