// Quota for Services (pkg/quota/v1/evaluator/core/services.go): `services` and
// `count/services` per Service, `services.loadbalancers` per LoadBalancer, and
// `services.nodeports` per port that gets a node port. Charged on create and on updates,
// since a Service can change type.
import type { V1Service } from '@kubernetes/client-node'
import type { ResourceInfo } from '../api/registry.ts'
import { countQuantity } from '../api/resource-quantity.ts'
import { intersect, objectCountName, type Evaluator } from './evaluator.ts'
import type { ResourceList } from './resource-list.ts'

/** The type that matters to quota: NodePort, LoadBalancer, or '' for the rest. */
function quotaServiceType(svc: V1Service): string {
  const type = svc.spec?.type
  return type === 'NodePort' || type === 'LoadBalancer' ? type : ''
}

function nodePorts(svc: V1Service): number {
  const ports = svc.spec?.ports ?? []
  const type = quotaServiceType(svc)
  if (type === 'NodePort') return ports.length
  if (type !== 'LoadBalancer') return 0
  // Without node port allocation, only ports that ask for one explicitly get one.
  return svc.spec?.allocateLoadBalancerNodePorts === false ? ports.filter((p) => p.nodePort).length : ports.length
}

function serviceUsage(svc: V1Service, countName: string): ResourceList {
  return new Map([
    [countName, countQuantity(1)],
    ['services', countQuantity(1)],
    ['services.loadbalancers', countQuantity(quotaServiceType(svc) === 'LoadBalancer' ? 1 : 0)],
    ['services.nodeports', countQuantity(nodePorts(svc))],
  ])
}

export function serviceEvaluator(info: ResourceInfo): Evaluator {
  const countName = objectCountName(info)
  const names = [countName, 'services', 'services.nodeports', 'services.loadbalancers']
  return {
    info,
    matchingResources: (input) => intersect(input, names),
    matchesScope: () => false,
    constraints: () => undefined,
    handles: (operation) => operation === 'create' || operation === 'update',
    usage: (obj) => serviceUsage(obj as V1Service, countName),
    replenishes: (old, cur) => quotaServiceType(old as V1Service) !== quotaServiceType(cur as V1Service),
    stopsCountingAt: () => undefined,
  }
}
