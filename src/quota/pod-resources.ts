// What a pod asks for in total (k8s.io/component-helpers resource.PodRequests/PodLimits):
// its containers summed; init containers run one at a time, so each counts on its own
// (plus the sidecars started before it) and the pod needs the larger of that and the sum;
// sidecars (init containers with restartPolicy Always) keep running, so they add up.
import type { V1Container, V1Pod } from '@kubernetes/client-node'
import { addQuantities, compareQuantities } from '../api/resource-quantity.ts'
import { addLists, readResourceList, type ResourceList } from './resource-list.ts'

type Which = 'requests' | 'limits'

function maxInto(list: ResourceList, other: ResourceList): void {
  for (const [name, q] of other) {
    const mine = list.get(name)
    if (!mine || compareQuantities(q, mine) > 0) list.set(name, q)
  }
}

function containerList(c: V1Container, which: Which): ResourceList {
  return readResourceList(c.resources?.[which])
}

function total(pod: V1Pod, which: Which): ResourceList {
  let sum: ResourceList = new Map()
  for (const c of pod.spec?.containers ?? []) sum = addLists(sum, containerList(c, which))
  let sidecars: ResourceList = new Map()
  const initPeak: ResourceList = new Map()
  for (const c of pod.spec?.initContainers ?? []) {
    const own = containerList(c, which)
    if (c.restartPolicy === 'Always') {
      sum = addLists(sum, own)
      sidecars = addLists(sidecars, own)
      maxInto(initPeak, sidecars)
    } else {
      maxInto(initPeak, addLists(own, sidecars))
    }
  }
  maxInto(sum, initPeak)
  return sum
}

/** The pod's requests; with `overhead`, spec.overhead added (the quota counts it, the LimitRanger does not). */
export function podRequests(pod: V1Pod, overhead: boolean): ResourceList {
  const reqs = total(pod, 'requests')
  return overhead ? addLists(reqs, readResourceList(pod.spec?.overhead)) : reqs
}

/** The pod's limits; with `overhead`, spec.overhead added to the limits it has. */
export function podLimits(pod: V1Pod, overhead: boolean): ResourceList {
  const limits = total(pod, 'limits')
  if (!overhead) return limits
  for (const [name, q] of readResourceList(pod.spec?.overhead)) {
    const mine = limits.get(name)
    if (mine) limits.set(name, addQuantities(mine, q))
  }
  return limits
}
