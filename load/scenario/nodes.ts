// Actions on nodes: cordon and uncordon (spec.unschedulable), and drain as
// `kubectl drain --ignore-daemonsets --delete-emptydir-data` does it: cordon, then evict every
// pod but DaemonSet and mirror pods through the Eviction API (a budget's 429 is retried), then
// wait until the evicted pods are gone.
import type { V1Node, V1Pod } from '@kubernetes/client-node'
import { isApiError, isNotFound } from '../../src/util/errors.ts'
import { FIELD_MANAGER, kinds, MAX_CONCURRENT_REQUESTS, type ActionContext } from './context.ts'
import { sleep } from '../../src/client/index.ts'
import { ActionFailed, eachLimited, listNames, StoppedWaiting, waitUntil } from './wait.ts'

const MIRROR_ANNOTATION = 'kubernetes.io/config.mirror'

async function getNode(ctx: ActionContext, name: string): Promise<V1Node> {
  try {
    return await ctx.client.get<V1Node>(kinds.node, name, undefined, { signal: ctx.signal })
  } catch (err) {
    if (isNotFound(err)) throw new ActionFailed(`there is no node ${name}`)
    throw err
  }
}

/** Marks the node unschedulable; the ledger remembers it when it was schedulable before. */
export async function cordon(ctx: ActionContext, name: string): Promise<string> {
  const node = await getNode(ctx, name)
  if (node.spec?.unschedulable) return `node ${name} was cordoned already`
  await ctx.client.patch(kinds.node, name, undefined, { spec: { unschedulable: true } }, 'merge', { signal: ctx.signal, fieldManager: FIELD_MANAGER })
  ctx.ledger.cordoned.add(name)
  return `node ${name} cordoned`
}

export async function uncordon(ctx: ActionContext, name: string): Promise<string> {
  const node = await getNode(ctx, name)
  ctx.ledger.cordoned.delete(name)
  if (!node.spec?.unschedulable) return `node ${name} was schedulable already`
  await ctx.client.patch(kinds.node, name, undefined, { spec: { unschedulable: null } }, 'merge', { signal: ctx.signal, fieldManager: FIELD_MANAGER })
  return `node ${name} uncordoned`
}

type Verdict = 'evict' | 'daemonset' | 'mirror' | 'unmanaged' | 'terminating'

/** What drain does with a pod on the node (kubectl's filters, with --ignore-daemonsets and --delete-emptydir-data). */
export function drainVerdict(pod: V1Pod, force: boolean): Verdict {
  if (pod.metadata?.annotations?.[MIRROR_ANNOTATION] !== undefined) return 'mirror'
  if (pod.metadata?.deletionTimestamp) return 'terminating'
  const finished = pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed'
  const controller = pod.metadata?.ownerReferences?.find((o) => o.controller)
  if (controller?.kind === 'DaemonSet' && !finished) return 'daemonset'
  if (!controller && !finished && !force) return 'unmanaged'
  return 'evict'
}

function podKey(pod: V1Pod): string {
  return `${pod.metadata?.namespace}/${pod.metadata?.name}`
}

export async function drain(ctx: ActionContext, spec: { node: string; gracePeriodSeconds?: number; force: boolean }): Promise<string> {
  const cordoned = await cordon(ctx, spec.node)
  const { items } = await ctx.client.list<V1Pod>(kinds.pod, { fieldSelector: `spec.nodeName=${spec.node}`, signal: ctx.signal })
  const byVerdict = new Map<Verdict, V1Pod[]>()
  for (const pod of items) {
    const verdict = drainVerdict(pod, spec.force)
    byVerdict.set(verdict, [...(byVerdict.get(verdict) ?? []), pod])
  }
  const unmanaged = byVerdict.get('unmanaged') ?? []
  if (unmanaged.length > 0) {
    throw new ActionFailed(`${cordoned}, but cannot evict pods that declare no controller: ${listNames(unmanaged.map(podKey))} (write drain: {node: ${spec.node}, force: true} to evict them anyway)`)
  }
  const evicting = byVerdict.get('evict') ?? []
  await eachLimited(evicting, MAX_CONCURRENT_REQUESTS, ctx.signal, (pod) => evict(ctx, pod, spec.gracePeriodSeconds))
  const uids = new Set(evicting.map((p) => p.metadata?.uid))
  const ignored = (byVerdict.get('daemonset') ?? []).length
  const summary = `${cordoned}; evicted ${evicting.length} pod${evicting.length === 1 ? '' : 's'} from ${spec.node}${ignored > 0 ? ` (${ignored} DaemonSet pod${ignored === 1 ? '' : 's'} ignored)` : ''}`
  return waitUntil(ctx, `the pods evicted from ${spec.node} to be gone`, async () => {
    const { items: now } = await ctx.client.list<V1Pod>(kinds.pod, { fieldSelector: `spec.nodeName=${spec.node}`, signal: ctx.signal })
    const left = now.filter((p) => uids.has(p.metadata?.uid))
    if (left.length > 0) return { waiting: `${left.length} evicted pod${left.length === 1 ? '' : 's'} on ${spec.node} to be gone: ${listNames(left.map(podKey))}` }
    return { done: `${summary}; all gone` }
  })
}

/** POST pods/NAME/eviction until it is accepted; a disruption budget's 429 waits and tries again. */
async function evict(ctx: ActionContext, pod: V1Pod, gracePeriodSeconds: number | undefined): Promise<void> {
  const { name, namespace } = pod.metadata!
  const body = {
    apiVersion: 'policy/v1',
    kind: 'Eviction',
    metadata: { name, namespace },
    ...(gracePeriodSeconds !== undefined ? { deleteOptions: { gracePeriodSeconds } } : {}),
  }
  const path = `/api/v1/namespaces/${encodeURIComponent(namespace!)}/pods/${encodeURIComponent(name!)}/eviction`
  let refusal = ''
  while (!ctx.signal.aborted) {
    try {
      await ctx.client.request('POST', path, body, { signal: ctx.signal })
      return
    } catch (err) {
      if (isNotFound(err)) return
      if (ctx.signal.aborted) break
      if (!isApiError(err) || err.code !== 429) throw new ActionFailed(`cannot evict ${namespace}/${name}: ${(err as Error).message}`)
      refusal = err.message
    }
    await sleep(ctx.evictionRetryMs, ctx.signal)
  }
  throw new StoppedWaiting(`the eviction of ${namespace}/${name}${refusal ? ` (refused: ${refusal})` : ''}`)
}
