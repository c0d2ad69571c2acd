// The HorizontalPodAutoscaler controller's shell: per autoscaler, every sync period, read
// the target's scale subresource and the metrics API's figures for its pods, decide
// (reconcileHpa), and ask for the scale, the status and the Events. What it remembers
// between passes (recommendations, scale events) stays in memory, as upstream keeps it.
import type { V1Pod, V2HorizontalPodAutoscaler } from '@kubernetes/client-node'
import { findByKind, resources, type ResourceInfo } from '../../api/registry.ts'
import { parseLabelSelector } from '../../api/selectors.ts'
import type { Informer, RestClient } from '../../client/index.ts'
import { resourcePath } from '../../client/paths.ts'
import type { Action, KubeObject } from '../actions.ts'
import type { ReconcileResult } from '../controller.ts'
import { selectedBy } from '../selector-index.ts'
import type { History } from './normalize.ts'
import { reconcileHpa, type HpaInputs, type PodMetricsItem } from './reconcile.ts'

const hpaInfo = resources.find((r) => r.kind === 'HorizontalPodAutoscaler' && r.version === 'v2')!

/** Upstream's --horizontal-pod-autoscaler-sync-period. */
export const DEFAULT_HPA_SYNC_MS = 15_000

export interface HpaRunnerOptions {
  client: RestClient
  autoscalers: Informer<V2HorizontalPodAutoscaler>
  /** The pods informer, with the labels index. */
  pods: Informer<V1Pod>
  syncPeriodMs?: number
  now?: () => number
  /** The scale target's resource beyond the built-in kinds (custom resources with a scale subresource). */
  findTarget?: (apiVersion: string, kind: string) => ResourceInfo | undefined
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b)
}

export function hpaReconciler(o: HpaRunnerOptions): (key: string) => Promise<ReconcileResult> {
  const histories = new Map<string, History>()
  const period = o.syncPeriodMs ?? DEFAULT_HPA_SYNC_MS
  const now = o.now ?? Date.now
  return async (key) => {
    const hpa = o.autoscalers.get(key)
    if (!hpa) {
      histories.delete(key)
      return { actions: [] }
    }
    const namespace = hpa.metadata?.namespace ?? ''
    const ref = hpa.spec?.scaleTargetRef
    const target = ref ? (findByKind(ref.apiVersion ?? '', ref.kind) ?? o.findTarget?.(ref.apiVersion ?? '', ref.kind)) : undefined
    let scale: HpaInputs['scale']
    let scaleObject: KubeObject | undefined
    let pods: V1Pod[] = []
    let podMetrics: HpaInputs['podMetrics'] = []
    if (!ref || !target || !target.subresources.includes('scale')) {
      scale = { error: `${ref?.kind ?? '<none>'} (${ref?.apiVersion ?? ''}) has no scale subresource` }
    } else {
      try {
        const s = await o.client.request<KubeObject>('GET', `${resourcePath(target, namespace, ref.name)}/scale`)
        scaleObject = s
        scale = { replicas: s.spec?.replicas ?? 0, selector: s.status?.selector ?? '' }
      } catch (err) {
        scale = { error: (err as Error).message }
      }
    }
    if ('replicas' in scale) {
      try {
        pods = selectedBy(o.pods.indexer, namespace, parseLabelSelector(scale.selector))
        const answer = await o.client.request<{ items?: PodMetricsItem[] }>('GET', `/apis/metrics.k8s.io/v1beta1/namespaces/${encodeURIComponent(namespace)}/pods`, undefined, { query: { labelSelector: scale.selector } })
        podMetrics = answer.items ?? []
      } catch (err) {
        podMetrics = { error: (err as Error).message }
      }
    }
    let history = histories.get(key)
    if (!history) histories.set(key, (history = { recommendations: [], scaleUps: [], scaleDowns: [] }))
    const decision = reconcileHpa({ hpa, scale, pods, podMetrics, history, now: now() })
    const actions: Action[] = []
    if (decision.scaleTo !== undefined && target && scaleObject) {
      // The Scale read this pass, its resourceVersion the precondition, as upstream updates it.
      actions.push({ verb: 'update', info: target, object: { ...scaleObject, spec: { ...scaleObject.spec, replicas: decision.scaleTo } }, subresource: 'scale' })
    }
    if (!same(decision.status, hpa.status)) {
      actions.push({ verb: 'updateStatus', info: hpaInfo, object: { ...hpa, apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', status: decision.status } })
    }
    const m = hpa.metadata ?? {}
    const involved = { apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', metadata: { name: m.name, namespace: m.namespace, uid: m.uid, resourceVersion: m.resourceVersion } }
    for (const e of decision.events) actions.push({ verb: 'event', event: { involved, ...e } })
    return { actions, requeueAfterMs: period }
  }
}
