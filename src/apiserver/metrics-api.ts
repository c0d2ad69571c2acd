// `metrics.k8s.io/v1beta1`, answered as metrics-server answers it: the Nodes and Pods the
// request selects are read from the API (label and field selectors, metadata.name and
// metadata.namespace only), their nodes' kubelet summaries from the cache, and each object
// with figures becomes a NodeMetrics or PodMetrics; the others are left out of lists and
// are NotFound to a get. Authorization is the API server's (get/list on
// nodes.metrics.k8s.io, pods.metrics.k8s.io); this module only answers.
import type { V1Node, V1Pod } from '@kubernetes/client-node'
import { parseFieldSelector } from '../api/field-selectors.ts'
import { parseQuantity, parseQuantityValue } from '../api/quantity.ts'
import { parseLabelSelector } from '../api/selectors.ts'
import { methodNotAllowed, notFound } from '../util/errors.ts'
import { nodeMetrics, podMetrics, podStatsOf, type ConvertOptions, type NodeMetrics, type PodMetrics } from './metrics-api-convert.ts'
import type { SummaryCache } from './metrics-api-cache.ts'
import { cpuQuantity, memoryQuantity } from './metrics-api-format.ts'
import { METRICS_API_VERSION, METRICS_GROUP, METRICS_VERBS, nodeMetricsResource } from './metrics-api-resources.ts'
import type { ResourceRequest } from './request-info.ts'
import type { IncludeObject, Table } from './tables.ts'

/** Where the Nodes and Pods come from (the API server's own store). Lists take `labelSelector` and `fieldSelector`. */
export interface MetricsSources {
  listNodes(query: URLSearchParams): Promise<V1Node[]>
  getNode(name: string): Promise<V1Node>
  listPods(namespace: string | undefined, query: URLSearchParams): Promise<V1Pod[]>
  getPod(namespace: string, name: string): Promise<V1Pod>
}

export interface MetricsApiOptions {
  /** The kubelets' sampling window, reported as each figure's `window` (default 10 s, the collector's interval). */
  windowMs: number
  now: () => Date
}

export type MetricsItem = NodeMetrics | PodMetrics

export interface MetricsList {
  kind: 'NodeMetricsList' | 'PodMetricsList'
  apiVersion: typeof METRICS_API_VERSION
  metadata: Record<string, never>
  items: MetricsItem[]
}

export type MetricsAnswer = (MetricsItem & { kind: 'NodeMetrics' | 'PodMetrics'; apiVersion: typeof METRICS_API_VERSION }) | MetricsList

const byName = (a: MetricsItem, b: MetricsItem): number => {
  const [an, bn] = [a.metadata.namespace ?? '', b.metadata.namespace ?? '']
  if (an !== bn) return an < bn ? -1 : 1
  return a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0
}

export class MetricsApi {
  readonly #sources: MetricsSources
  readonly #cache: SummaryCache
  readonly #opts: MetricsApiOptions

  constructor(sources: MetricsSources, cache: SummaryCache, opts: Partial<MetricsApiOptions> = {}) {
    this.#sources = sources
    this.#cache = cache
    this.#opts = { windowMs: opts.windowMs ?? 10_000, now: opts.now ?? (() => new Date()) }
  }

  async answer(r: ResourceRequest, query: URLSearchParams): Promise<MetricsAnswer> {
    if (!METRICS_VERBS.includes(r.verb)) throw methodNotAllowed(`the server does not allow this method on the requested resource: ${r.info.plural}.${METRICS_GROUP} takes ${METRICS_VERBS.join(', ')}`)
    const convert: ConvertOptions = { windowMs: this.#opts.windowMs, now: this.#opts.now() }
    const nodes = r.info === nodeMetricsResource
    if (r.verb === 'get') {
      const item = nodes ? await this.#node(r.name!, convert) : await this.#pod(r.namespace!, r.name!, convert)
      return { kind: nodes ? 'NodeMetrics' : 'PodMetrics', apiVersion: METRICS_API_VERSION, ...item } as MetricsAnswer
    }
    const selectors = this.#selectors(r, query)
    const items = nodes ? await this.#nodes(selectors, convert) : await this.#pods(r.namespace, selectors, convert)
    return { kind: nodes ? 'NodeMetricsList' : 'PodMetricsList', apiVersion: METRICS_API_VERSION, metadata: {}, items: items.sort(byName) }
  }

  /** The list's selectors, checked against what metrics-server accepts before anything is read. */
  #selectors(r: ResourceRequest, query: URLSearchParams): URLSearchParams {
    const out = new URLSearchParams()
    const labels = query.get('labelSelector')
    const fields = query.get('fieldSelector')
    if (labels) {
      parseLabelSelector(labels)
      out.set('labelSelector', labels)
    }
    if (fields) {
      parseFieldSelector(fields, r.info)
      out.set('fieldSelector', fields)
    }
    return out
  }

  async #node(name: string, convert: ConvertOptions): Promise<NodeMetrics> {
    const node = await this.#sources.getNode(name)
    const item = nodeMetrics(node, (await this.#cache.summaries([node])).get(name), convert)
    if (!item) throw notFound({ group: METRICS_GROUP, resource: 'nodemetrics' }, name)
    return item
  }

  async #nodes(selectors: URLSearchParams, convert: ConvertOptions): Promise<NodeMetrics[]> {
    const nodes = await this.#sources.listNodes(selectors)
    const summaries = await this.#cache.summaries(nodes)
    return nodes.flatMap((n) => nodeMetrics(n, summaries.get(n.metadata?.name ?? ''), convert) ?? [])
  }

  async #pod(namespace: string, name: string, convert: ConvertOptions): Promise<PodMetrics> {
    const pod = await this.#sources.getPod(namespace, name)
    const [item] = await this.#podItems([pod], convert)
    if (!item) throw notFound({ group: METRICS_GROUP, resource: 'podmetrics' }, `${namespace}/${name}`)
    return item
  }

  async #pods(namespace: string | undefined, selectors: URLSearchParams, convert: ConvertOptions): Promise<PodMetrics[]> {
    return this.#podItems(await this.#sources.listPods(namespace, selectors), convert)
  }

  /** Scrapes only the nodes the pods run on. */
  async #podItems(pods: V1Pod[], convert: ConvertOptions): Promise<PodMetrics[]> {
    const hosts = new Set(pods.map((p) => p.spec?.nodeName).filter((n): n is string => Boolean(n)))
    if (hosts.size === 0) return []
    const nodes = (await this.#sources.listNodes(new URLSearchParams())).filter((n) => hosts.has(n.metadata?.name ?? ''))
    const summaries = await this.#cache.summaries(nodes)
    return pods.flatMap((p) => podMetrics(p, podStatsOf(p, summaries), convert) ?? [])
  }
}

/** metrics-server's Table: Name, cpu, memory (a pod's the sum of its containers'), Window. */
export function metricsTable(items: MetricsItem[], includeObject: IncludeObject): Table {
  const rows = items.map((item) => {
    let cpu: string
    let memory: string
    if ('usage' in item) ({ cpu, memory } = item.usage)
    else {
      const sum = item.containers.reduce((s, c) => ({ cpu: s.cpu + Math.round(parseQuantity(c.usage.cpu) * 1e9), memory: s.memory + parseQuantityValue(c.usage.memory) }), { cpu: 0, memory: 0 })
      cpu = cpuQuantity(sum.cpu)
      memory = memoryQuantity(sum.memory)
    }
    const object = includeObject === 'None' ? undefined : includeObject === 'Object' ? item : { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: item.metadata }
    return { cells: [item.metadata.name, cpu, memory, item.window], ...(object ? { object } : {}) }
  })
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: {},
    columnDefinitions:
      items.length === 0
        ? []
        : [
            { name: 'Name', type: 'string', format: 'name', description: 'Name of the resource', priority: 0 },
            { name: 'cpu', type: 'string', format: 'quantity', description: '', priority: 0 },
            { name: 'memory', type: 'string', format: 'quantity', description: '', priority: 0 },
            { name: 'Window', type: 'string', format: 'duration', description: '', priority: 0 },
          ],
    rows,
  }
}
