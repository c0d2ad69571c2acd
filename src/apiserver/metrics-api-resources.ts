// The resources of `metrics.k8s.io/v1beta1` as metrics-server serves them: nodes
// (NodeMetrics, cluster-scoped) and pods (PodMetrics, namespaced), get and list only, no
// singular names. They are answered from kubelet summaries, never stored, so they live
// apart from the registry of stored kinds; discovery and routing take them from here.
import type { ResourceInfo } from '../api/registry.ts'

export const METRICS_GROUP = 'metrics.k8s.io'
export const METRICS_VERSION = 'v1beta1'
export const METRICS_API_VERSION = `${METRICS_GROUP}/${METRICS_VERSION}`
export const METRICS_VERBS = ['get', 'list']

function metricsResource(kind: string, plural: string, namespaced: boolean): ResourceInfo {
  return { group: METRICS_GROUP, version: METRICS_VERSION, kind, listKind: `${kind}List`, plural, singular: '', namespaced, shortNames: [], categories: [], subresources: [], model: '', createOnly: false }
}

export const nodeMetricsResource = metricsResource('NodeMetrics', 'nodes', false)
export const podMetricsResource = metricsResource('PodMetrics', 'pods', true)
export const metricsResources: readonly ResourceInfo[] = [nodeMetricsResource, podMetricsResource]

export function findMetricsResource(group: string, version: string, plural: string): ResourceInfo | undefined {
  if (group !== METRICS_GROUP || version !== METRICS_VERSION) return undefined
  return metricsResources.find((r) => r.plural === plural)
}

/** The APIResourceList entries (`GET /apis/metrics.k8s.io/v1beta1`). */
export function metricsApiResources(): Record<string, unknown>[] {
  return metricsResources.map((r) => ({ name: r.plural, singularName: '', namespaced: r.namespaced, kind: r.kind, verbs: [...METRICS_VERBS] }))
}

/** The group's entry in the aggregated discovery document (apidiscovery.k8s.io APIGroupDiscovery). */
export function metricsGroupDiscovery(): Record<string, unknown> {
  return {
    metadata: { name: METRICS_GROUP, creationTimestamp: null },
    versions: [
      {
        version: METRICS_VERSION,
        freshness: 'Current',
        resources: metricsResources.map((r) => ({
          resource: r.plural,
          responseKind: { group: METRICS_GROUP, version: METRICS_VERSION, kind: r.kind },
          scope: r.namespaced ? 'Namespaced' : 'Cluster',
          singularResource: '',
          verbs: [...METRICS_VERBS],
        })),
      },
    ],
  }
}
