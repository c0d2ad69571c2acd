// POST pods/NAME/eviction (upstream's EvictionREST): deletes the pod when its disruption
// budget has a disruption to give. The budget's status is written with compare-and-swap
// (disruptionsAllowed taken down, the pod recorded in disruptedPods), so two evictions never
// spend the same disruption; then the pod is marked DisruptionTarget and deleted with the
// Eviction's DeleteOptions.
import { resources } from '../api/registry.ts'
import type { Budget } from '../api/disruption-budget.ts'
import { rfc3339 } from '../api/disruption-budget.ts'
import { conflict, isConflict, type Status } from '../util/errors.ts'
import type { KObject } from './objects.ts'
import { parseResourceVersion } from './objects.ts'
import type { ResourceRequest } from './request-info.ts'
import { objectOf, type Identity, type ResourceHandler, type WriteOptions } from './resource-handler.ts'
import {
  budgetNotReady,
  budgetsFor,
  canIgnoreBudget,
  checkAndDecrement,
  evictionDeleteOptions,
  isDryRun,
  resourceVersionIsUnset,
  shouldEnforceResourceVersion,
  unhealthyPodMayGo,
  withResourceVersion,
  type DeleteOptions,
} from './eviction-rules.ts'

const pdbInfo = resources.find((r) => r.kind === 'PodDisruptionBudget')!
const podRef = { group: '', resource: 'Pod' }
/**
 * Upstream's EvictionsRetry: a pod that changed under a budget-free eviction is judged again
 * up to 20 times, about 500 ms apart (10% jitter).
 */
const CONFLICT_RETRIES = 20
const RETRY_DELAY_MS = 500

/** The server's own writes (the budget's status, the pod's DisruptionTarget mark), not the caller's. */
const serverIdentity: Identity = { user: 'system:apiserver', groups: ['system:masters'], userAgent: 'kube-apiserver' }

export interface EvictionAnswer {
  code: number
  body: Status
}

const evicted = (): EvictionAnswer => ({ code: 201, body: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code: 201 } })

type Condition = { type: string; status: string; lastTransitionTime?: string; reason?: string; message?: string }

/** UpdatePodCondition with DisruptionTarget=True: the transition time moves only if the status does. */
function withDisruptionTarget(conditions: Condition[] | undefined, now: Date): Condition[] {
  const mark = { type: 'DisruptionTarget', status: 'True', reason: 'EvictionByEvictionAPI', message: 'Eviction API: evicting' }
  const list = conditions ?? []
  const old = list.find((c) => c.type === mark.type)
  const lastTransitionTime = old && old.status === mark.status && old.lastTransitionTime ? old.lastTransitionTime : rfc3339(now)
  const next = { type: mark.type, status: mark.status, lastTransitionTime, reason: mark.reason, message: mark.message }
  return old ? list.map((c) => (c === old ? next : c)) : [...list, next]
}

/** The conflicts of upstream's getLatestPod, which names the resource `Pod`. */
function checkPreconditions(pod: KObject, pre: { uid?: string; resourceVersion?: string }): void {
  const { name, uid, resourceVersion } = pod.metadata
  if (pre.uid && pre.uid !== uid) {
    throw conflict(podRef, name, `the UID in the precondition (${pre.uid}) does not match the UID in record (${uid}). The object might have been deleted and then recreated`)
  }
  if (pre.resourceVersion && pre.resourceVersion !== resourceVersion) {
    throw conflict(podRef, name, `the ResourceVersion in the precondition (${pre.resourceVersion}) does not match the ResourceVersion in record (${resourceVersion}). The object might have been modified`)
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

export class PodEviction {
  private readonly handler: ResourceHandler
  private readonly now: () => Date

  private readonly retryDelayMs: number

  constructor(handler: ResourceHandler, now: () => Date = () => new Date(), retryDelayMs = RETRY_DELAY_MS) {
    this.handler = handler
    this.now = now
    this.retryDelayMs = retryDelayMs
  }

  private internal(opts: WriteOptions): WriteOptions {
    return { query: new URLSearchParams(), identity: serverIdentity, warnings: opts.warnings }
  }

  async evict(r: ResourceRequest, body: unknown, opts: WriteOptions): Promise<EvictionAnswer> {
    const h = this.handler
    const namespace = r.namespace!
    const name = r.name!
    const original = evictionDeleteOptions(body, name, namespace, opts.query.getAll('dryRun'))
    const podRequest: ResourceRequest = { ...r, subresource: undefined, verb: 'delete' }

    // Terminal, Pending and terminating pods go without asking a budget; a pod that changed
    // meanwhile (a conflict on its resourceVersion) is judged again.
    let pod: KObject
    for (let attempt = 0; ; attempt++) {
      pod = await h.get({ ...podRequest, verb: 'get' })
      if (!canIgnoreBudget(pod)) break
      const options = shouldEnforceResourceVersion(pod) && resourceVersionIsUnset(original) ? withResourceVersion(original, pod.metadata.resourceVersion!) : original
      try {
        await this.markAndDelete(podRequest, options, opts)
        return evicted()
      } catch (err) {
        if (!isConflict(err) || !resourceVersionIsUnset(original) || attempt + 1 >= CONFLICT_RETRIES) throw err
        await sleep(this.retryDelayMs * (1 + Math.random() * 0.1))
      }
    }

    const list = await h.list({ kind: 'resource', info: pdbInfo, namespace, name: undefined, subresource: undefined, verb: 'list' }, new URLSearchParams())
    const budgets = budgetsFor(list.entries.map((e) => objectOf(e) as unknown as Budget), pod)
    // Upstream returns this Status from Create, so kube-apiserver writes it with HTTP 201 and
    // recent client-go takes it for success; weft answers with the 500 it carries, as the
    // Kubernetes documentation of the Eviction API says.
    if (budgets.length > 1) {
      const message = 'This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.'
      return { code: 500, body: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, code: 500 } }
    }
    const budget: Budget | undefined = budgets[0]
    // An unready pod its budget lets go is deleted only as it was judged: if it became Ready since, the delete conflicts.
    const letGoBy = budget && unhealthyPodMayGo(budget, pod) ? budget : undefined
    if (budget && !letGoBy) await this.spendDisruption(budget, name, opts, isDryRun(original))
    const options = letGoBy ? withResourceVersion(original, pod.metadata.resourceVersion!) : original
    try {
      await this.markAndDelete(podRequest, options, opts)
    } catch (err) {
      if (isConflict(err) && letGoBy && resourceVersionIsUnset(original)) throw budgetNotReady(letGoBy.metadata.name)
      throw err
    }
    return evicted()
  }

  /** Takes one disruption from the budget's status by compare-and-swap, re-reading it after each conflict. */
  private async spendDisruption(budget: Budget, podName: string, opts: WriteOptions, dryRun: boolean): Promise<void> {
    if (dryRun) {
      checkAndDecrement(budget, podName, this.now(), true)
      return
    }
    const { namespace, name } = budget.metadata
    const request: ResourceRequest = { kind: 'resource', info: pdbInfo, namespace, name, subresource: 'status', verb: 'update' }
    // After the last conflict the conflict itself is the answer, as upstream's retry.OnError returns it.
    await this.handler.guaranteedUpdate(request, this.internal(opts), undefined, (current) => checkAndDecrement(current as unknown as Budget, podName, this.now(), false) as unknown as KObject)
  }

  /** addConditionAndDeletePod: the DisruptionTarget mark (not in a dry run), then the delete with the caller's options. */
  private async markAndDelete(podRequest: ResourceRequest, options: DeleteOptions, opts: WriteOptions): Promise<void> {
    const h = this.handler
    let deleteOptions = options
    if (!isDryRun(options)) {
      const pre = options.preconditions ?? {}
      const statusRequest: ResourceRequest = { ...podRequest, subresource: 'status', verb: 'update' }
      // getLatestPod: the preconditions are checked on the latest pod (with upstream's messages;
      // the update checks them again against a change in between).
      checkPreconditions(await h.get({ ...podRequest, verb: 'get' }), pre)
      const marked = await h.guaranteedUpdate(statusRequest, this.internal(opts), parseResourceVersion(pre.resourceVersion), (current) => {
        checkPreconditions(current, { uid: pre.uid })
        current.status = { ...(current.status ?? {}), conditions: withDisruptionTarget(current.status?.conditions, this.now()) }
        return current
      })
      // The mark moved the pod's resourceVersion: a precondition on it now names the marked pod.
      if (!resourceVersionIsUnset(options)) deleteOptions = withResourceVersion(options, marked.metadata.resourceVersion!)
    }
    await h.delete(podRequest, deleteOptions, { ...opts, query: new URLSearchParams() })
  }
}
