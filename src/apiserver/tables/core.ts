// Node, Namespace, Secret, ConfigMap, Event, Lease, PriorityClass and ResourceQuota columns.
import type { CoreV1Event, V1ConfigMap, V1Lease, V1Namespace, V1Node, V1PriorityClass, V1ResourceQuota, V1Secret } from '@kubernetes/client-node'
import { isQuantity } from '../../api/quantity.ts'
import { formatQuantity, toQuantity } from '../../api/resource-quantity.ts'
import { ageColumn, col, nameColumn, since, timeOf } from './format.ts'
import type { Printer } from './format.ts'

const nodeRolePrefix = 'node-role.kubernetes.io/'
const nodeRoleLabel = 'kubernetes.io/role'

export function nodeRoles(node: V1Node): string {
  const roles = new Set<string>()
  const labels = node.metadata?.labels ?? {}
  for (const [k, v] of Object.entries(labels)) {
    if (k.startsWith(nodeRolePrefix)) {
      const role = k.slice(nodeRolePrefix.length)
      if (role) roles.add(role)
    } else if (k === nodeRoleLabel && v !== '') {
      roles.add(v)
    }
  }
  return roles.size === 0 ? '<none>' : [...roles].sort().join(',')
}

export function nodeStatus(node: V1Node): string {
  const status: string[] = []
  const ready = (node.status?.conditions ?? []).filter((c) => c.type === 'Ready').at(-1)
  if (ready) status.push(ready.status === 'True' ? 'Ready' : 'NotReady')
  else status.push('Unknown')
  if (node.spec?.unschedulable) status.push('SchedulingDisabled')
  return status.join(',')
}

function nodeAddress(node: V1Node, type: string): string {
  return (node.status?.addresses ?? []).find((a) => a.type === type)?.address ?? '<none>'
}

export const nodePrinter: Printer = {
  columns: [
    nameColumn(),
    col('Status', 'string', 'The status of the node'),
    col('Roles', 'string', 'The roles of the node'),
    ageColumn(),
    col('Version', 'string', 'Kubelet Version reported by the node.'),
    col('Internal-IP', 'string', 'List of addresses reachable to the node.', 1),
    col('External-IP', 'string', 'List of addresses reachable to the node.', 1),
    col('OS-Image', 'string', 'OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).', 1),
    col('Kernel-Version', 'string', "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64).", 1),
    col('Container-Runtime', 'string', 'ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2).', 1),
  ],
  row(obj, now) {
    const node = obj as V1Node
    const info = node.status?.nodeInfo
    return {
      cells: [
        node.metadata?.name ?? '',
        nodeStatus(node),
        nodeRoles(node),
        since(node.metadata?.creationTimestamp, now),
        info?.kubeletVersion ?? '',
        nodeAddress(node, 'InternalIP'),
        nodeAddress(node, 'ExternalIP'),
        info?.osImage || '<unknown>',
        info?.kernelVersion || '<unknown>',
        info?.containerRuntimeVersion || '<unknown>',
      ],
    }
  },
}

export const namespacePrinter: Printer = {
  columns: [nameColumn(), col('Status', 'string', 'The status of the namespace'), ageColumn()],
  row(obj, now) {
    const ns = obj as V1Namespace
    return { cells: [ns.metadata?.name ?? '', ns.status?.phase ?? '', since(ns.metadata?.creationTimestamp, now)] }
  },
}

export const secretPrinter: Printer = {
  columns: [
    nameColumn(),
    col('Type', 'string', 'Used to facilitate programmatic handling of secret data.'),
    col('Data', 'string', 'Data contains the secret data.'),
    ageColumn(),
  ],
  row(obj, now) {
    const s = obj as V1Secret
    return {
      cells: [s.metadata?.name ?? '', s.type ?? '', Object.keys(s.data ?? {}).length, since(s.metadata?.creationTimestamp, now)],
    }
  },
}

export const configMapPrinter: Printer = {
  columns: [nameColumn(), col('Data', 'string', 'Data contains the configuration data.'), ageColumn()],
  row(obj, now) {
    const cm = obj as V1ConfigMap
    const count = Object.keys(cm.data ?? {}).length + Object.keys(cm.binaryData ?? {}).length
    return { cells: [cm.metadata?.name ?? '', count, since(cm.metadata?.creationTimestamp, now)] }
  },
}

function eventSource(ev: CoreV1Event): string {
  const component = ev.source?.component || ev.reportingComponent || ''
  const instance = ev.source?.host || ev.reportingInstance || ''
  return instance === '' ? component : `${component}, ${instance}`
}

export const eventPrinter: Printer = {
  columns: [
    col('Last Seen', 'string', 'The time at which the most recent occurrence of this event was recorded.'),
    col('Type', 'string', 'Type of this event (Normal, Warning), new types could be added in the future'),
    col('Reason', 'string', "This should be a short, machine understandable string that gives the reason for the transition into the object's current status."),
    col('Object', 'string', 'The object that this event is about.'),
    col('Subobject', 'string', 'If referring to a piece of an object instead of an entire object, this string should contain a valid JSON/Go field access statement.', 1),
    col('Source', 'string', 'The component reporting this event. Should be a short machine understandable string.', 1),
    col('Message', 'string', 'A human-readable description of the status of this operation.'),
    col('First Seen', 'string', 'The time at which the event was first recorded. (Time of server receipt is in TypeMeta.)', 1),
    col('Count', 'string', 'The number of times this event has occurred.', 1),
    nameColumn(1),
  ],
  row(obj, now) {
    const ev = obj as CoreV1Event
    const first =
      timeOf(ev.firstTimestamp) === undefined ? since(ev.eventTime as unknown, now) : since(ev.firstTimestamp, now)
    let last = timeOf(ev.lastTimestamp) === undefined ? first : since(ev.lastTimestamp, now)
    let count = ev.count ?? 0
    if (ev.series) {
      last = since(ev.series.lastObservedTime as unknown, now)
      count = ev.series.count ?? 0
    } else if (count === 0) {
      count = 1
    }
    const kind = (ev.involvedObject?.kind ?? '').toLowerCase()
    const target = ev.involvedObject?.name ? `${kind}/${ev.involvedObject.name}` : kind
    return {
      cells: [
        last,
        ev.type ?? '',
        ev.reason ?? '',
        target,
        ev.involvedObject?.fieldPath ?? '',
        eventSource(ev),
        (ev.message ?? '').trim(),
        first,
        count,
        ev.metadata?.name ?? '',
      ],
    }
  },
}

export const leasePrinter: Printer = {
  columns: [nameColumn(), col('Holder', 'string', 'holderIdentity contains the identity of the holder of a current lease.'), ageColumn()],
  row(obj, now) {
    const lease = obj as V1Lease
    return { cells: [lease.metadata?.name ?? '', lease.spec?.holderIdentity ?? '', since(lease.metadata?.creationTimestamp, now)] }
  },
}

export const priorityClassPrinter: Printer = {
  columns: [
    nameColumn(),
    col('Value', 'integer', 'value represents the integer value of this priority class.'),
    col('Global-Default', 'boolean', 'globalDefault specifies whether this PriorityClass should be considered as the default priority.'),
    ageColumn(),
    col('PreemptionPolicy', 'string', 'preemptionPolicy is the Policy for preempting pods with lower priority.', 1),
  ],
  row(obj, now) {
    const pc = obj as V1PriorityClass
    return { cells: [pc.metadata?.name ?? '', pc.value, pc.globalDefault ?? false, since(pc.metadata?.creationTimestamp, now), pc.preemptionPolicy ?? 'PreemptLowerPriority'] }
  },
}

function quantityText(value: unknown): string {
  return (typeof value === 'string' || typeof value === 'number') && isQuantity(value) ? formatQuantity(toQuantity(value)) : '0'
}

/** `name: used/hard` per limited resource, sorted; `limits.*` in the Limit column, the rest in Request. */
function quotaCells(quota: V1ResourceQuota): [string, string] {
  const hard = quota.status?.hard ?? {}
  const used = quota.status?.used ?? {}
  const request: string[] = []
  const limit: string[] = []
  for (const name of Object.keys(hard).sort()) {
    const cell = `${name}: ${quantityText(used[name])}/${quantityText(hard[name])}`
    const parts = name.split('.')
    ;(parts.length > 1 && parts[0] === 'limits' ? limit : request).push(cell)
  }
  return [request.join(', '), limit.join(', ')]
}

export const resourceQuotaPrinter: Printer = {
  columns: [
    nameColumn(),
    ageColumn(),
    col('Request', 'string', 'Request represents a minimum amount of cpu/memory that a container may consume.'),
    col('Limit', 'string', 'Limits control the maximum amount of cpu/memory that a container may use independent of contention on the node.'),
  ],
  row(obj, now) {
    const quota = obj as V1ResourceQuota
    return { cells: [quota.metadata?.name ?? '', since(quota.metadata?.creationTimestamp, now), ...quotaCells(quota)] }
  },
}
