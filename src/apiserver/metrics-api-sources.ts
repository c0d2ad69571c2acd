// The metrics API's Nodes and Pods, read through the API server's own ResourceHandler.
import type { V1Node, V1Pod } from '@kubernetes/client-node'
import { resources } from '../api/registry.ts'
import type { MetricsSources } from './metrics-api.ts'
import type { ResourceRequest } from './request-info.ts'
import { objectOf, type ResourceHandler } from './resource-handler.ts'

const nodeInfo = resources.find((r) => r.kind === 'Node')!
const podInfo = resources.find((r) => r.kind === 'Pod')!

export function handlerSources(h: ResourceHandler): MetricsSources {
  const req = (info: typeof nodeInfo, verb: 'get' | 'list', namespace?: string, name?: string): ResourceRequest => ({ kind: 'resource', info, namespace, name, subresource: undefined, verb })
  return {
    listNodes: async (query) => (await h.list(req(nodeInfo, 'list'), query)).entries.map((e) => objectOf(e) as unknown as V1Node),
    getNode: async (name) => (await h.get(req(nodeInfo, 'get', undefined, name))) as unknown as V1Node,
    listPods: async (namespace, query) => (await h.list(req(podInfo, 'list', namespace), query)).entries.map((e) => objectOf(e) as unknown as V1Pod),
    getPod: async (namespace, name) => (await h.get(req(podInfo, 'get', namespace, name))) as unknown as V1Pod,
  }
}
