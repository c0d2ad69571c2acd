// Carries out reconcile actions through the client library. A NotFound on delete and an
// AlreadyExists on create are the desired state already; anything else goes back to the
// caller, which requeues the key with backoff (conflicts included: the next reconcile
// starts from fresh cached state).
import { resourcePath } from '../client/paths.ts'
import { randomBytes } from 'node:crypto'
import { resources, type ResourceInfo } from '../api/registry.ts'
import type { RestClient } from '../client/index.ts'
import { ApiError, isAlreadyExists, isNotFound } from '../util/errors.ts'
import type { Action, EventSpec, KubeObject } from './actions.ts'

const podInfo = resources.find((r) => r.kind === 'Pod')!
const eventInfo = resources.find((r) => r.kind === 'Event')!

export interface ApplyContext {
  client: RestClient
  /** The component named in Events and as field manager, e.g. `deployment-controller`. */
  component: string
  /** The node a node component's Events come from (their `source.host`, as the kubelet's). */
  host?: string
  now?: () => Date
}

function timestamp(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z')
}

export function eventObject(spec: EventSpec, component: string, now: Date, host?: string): KubeObject {
  const involved = spec.involved
  const meta = involved.metadata ?? {}
  const namespace = meta.namespace || 'default'
  // Kubernetes names events <object>.<unique hex> in the object's namespace.
  const name = `${meta.name ?? 'unknown'}.${now.getTime().toString(16)}${randomBytes(3).toString('hex')}`
  return {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name, namespace },
    involvedObject: {
      apiVersion: involved.apiVersion,
      kind: involved.kind,
      name: meta.name,
      namespace: meta.namespace,
      uid: meta.uid,
      resourceVersion: meta.resourceVersion,
    },
    reason: spec.reason,
    message: spec.message,
    type: spec.type,
    source: host === undefined ? { component } : { component, host },
    firstTimestamp: timestamp(now),
    lastTimestamp: timestamp(now),
    count: 1,
    reportingComponent: component,
    reportingInstance: component,
  }
}

export async function applyAction(ctx: ApplyContext, action: Action): Promise<void> {
  const c = ctx.client
  const fieldManager = ctx.component
  switch (action.verb) {
    case 'create': {
      let created: KubeObject
      try {
        created = await c.create(action.info, action.object, { fieldManager })
      } catch (err) {
        if (!isAlreadyExists(err)) throw err
        if (action.claim) {
          const name = String(action.object.metadata?.name ?? '')
          const held = await c.get<KubeObject>(action.info, name, action.object.metadata?.namespace)
          const want = action.object.spec?.holderIdentity
          if (held.spec?.holderIdentity !== want) throw new ApiError(409, 'Conflict', `${name} is claimed by ${String(held.spec?.holderIdentity)}, not ${String(want)}`)
        }
        return
      }
      if (action.event) {
        const message = action.event.message.replaceAll('{name}', String(created.metadata?.name ?? ''))
        await applyAction(ctx, { verb: 'event', event: { ...action.event, message } })
      }
      return
    }
    case 'update':
      if (action.subresource === 'finalize') {
        await c.request('PUT', `/api/v1/namespaces/${action.object.metadata?.name}/finalize`, action.object)
        return
      }
      if (action.subresource === 'approval') {
        await c.request('PUT', `${resourcePath(action.info, undefined, action.object.metadata?.name)}/approval`, action.object)
        return
      }
      if (action.subresource === 'scale') {
        await c.request('PUT', `${resourcePath(action.info, action.object.metadata?.namespace, action.object.metadata?.name)}/scale`, action.object)
        return
      }
      await c.update(action.info, action.object, { fieldManager })
      return
    case 'updateStatus':
      await c.updateStatus(action.info, action.object, { fieldManager })
      return
    case 'patch':
      await c.patch(action.info, action.name, action.namespace, action.patch, action.type, { fieldManager, subresource: action.subresource })
      return
    case 'delete':
      try {
        await c.delete(action.info, action.name, action.namespace, {
          propagationPolicy: action.propagationPolicy,
          preconditions: action.uid ? { uid: action.uid } : undefined,
          gracePeriodSeconds: action.gracePeriodSeconds,
        })
      } catch (err) {
        if (!isNotFound(err)) throw err
      }
      return
    case 'bind':
      await c.request('POST', `/api/v1/namespaces/${action.namespace}/pods/${action.name}/binding`, {
        apiVersion: 'v1',
        kind: 'Binding',
        metadata: { name: action.name, namespace: action.namespace, ...(action.uid ? { uid: action.uid } : {}) },
        target: { apiVersion: 'v1', kind: 'Node', name: action.node },
      })
      return
    case 'event':
      // Events are best effort, as in Kubernetes: a lost event never fails a reconcile.
      await c.create(eventInfo, eventObject(action.event, ctx.component, ctx.now?.() ?? new Date(), ctx.host)).catch(() => undefined)
      return
  }
}

/** Applies actions in order; stops at the first failure and returns it. */
export async function applyActions(ctx: ApplyContext, actions: Action[]): Promise<void> {
  for (const action of actions) await applyAction(ctx, action)
}

export function infoOf(kind: string): ResourceInfo {
  const info = resources.find((r) => r.kind === kind)
  if (!info) throw new Error(`weft does not serve kind ${kind}`)
  return info
}

export { podInfo }
