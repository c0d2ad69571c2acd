// The Node object a kubelet registers and the status it reports: capacity read off the
// host, addresses, conditions and system info.
import { cpus, release, totalmem, arch, platform } from 'node:os'
import type { V1Node, V1NodeCondition } from '@kubernetes/client-node'

export const maxPods = 110
export const kubeletVersion = 'v1.34.0-weft'

export interface NodeIdentity {
  name: string
  /** The node's address on the cluster network (InternalIP). */
  internalIPs: string[]
  kubeletPort: number
  labels?: Record<string, string>
  /** Annotations the agent keeps on its Node (the local-path directory it serves). */
  annotations?: Record<string, string>
}

export interface HostFacts {
  cpus: number
  memoryBytes: number
  kernel: string
  arch: string
  os: string
  /** cpu and memory pods may use: capacity − --system-reserved − the hard eviction threshold (default: the capacity). */
  allocatable?: { cpu: string; memory: string }
}

export function readHostFacts(): HostFacts {
  return { cpus: cpus().length, memoryBytes: totalmem(), kernel: release(), arch: arch() === 'x64' ? 'amd64' : arch(), os: platform() }
}

function ki(bytes: number): string {
  return `${Math.floor(bytes / 1024)}Ki`
}

/** The Node as the kubelet registers it (upstream's initialNode). */
export function initialNode(id: NodeIdentity, host: HostFacts): V1Node {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name: id.name,
      labels: {
        'kubernetes.io/hostname': id.name,
        'kubernetes.io/os': host.os,
        'kubernetes.io/arch': host.arch,
        'beta.kubernetes.io/os': host.os,
        'beta.kubernetes.io/arch': host.arch,
        ...id.labels,
      },
      ...(id.annotations ? { annotations: { ...id.annotations } } : {}),
    },
    spec: {},
  }
}

function condition(type: string, ok: boolean, reason: string, message: string, now: string, previous: V1NodeCondition[] | undefined): V1NodeCondition {
  const status = type === 'Ready' ? (ok ? 'True' : 'False') : ok ? 'False' : 'True'
  const before = previous?.find((c) => c.type === type)
  const lastTransitionTime = before && before.status === status && before.lastTransitionTime ? before.lastTransitionTime : now
  return { type, status, reason, message, lastHeartbeatTime: now, lastTransitionTime } as unknown as V1NodeCondition
}

export interface NodeHealth {
  /** Why the node is not ready (the CNI config is missing, say); undefined when ready. */
  notReadyReason?: string
  /** The eviction manager sees memory.available below its threshold. */
  memoryPressure?: boolean
}

/** The status subresource the kubelet writes. Times are RFC 3339 seconds. */
export function nodeStatus(id: NodeIdentity, host: HostFacts, health: NodeHealth, previous: V1Node | undefined, now: Date): V1Node['status'] {
  const ts = now.toISOString().replace(/\.\d{3}Z$/, 'Z')
  const capacity = { cpu: String(host.cpus), memory: ki(host.memoryBytes), pods: String(maxPods), 'ephemeral-storage': '0' }
  const prev = previous?.status?.conditions
  const ready = health.notReadyReason === undefined
  return {
    capacity,
    allocatable: { ...capacity, ...host.allocatable },
    addresses: [...id.internalIPs.map((address) => ({ type: 'InternalIP', address })), { type: 'Hostname', address: id.name }],
    conditions: [
      health.memoryPressure
        ? condition('MemoryPressure', false, 'KubeletHasInsufficientMemory', 'kubelet has insufficient memory available', ts, prev)
        : condition('MemoryPressure', true, 'KubeletHasSufficientMemory', 'kubelet has sufficient memory available', ts, prev),
      condition('DiskPressure', true, 'KubeletHasNoDiskPressure', 'kubelet has no disk pressure', ts, prev),
      condition('PIDPressure', true, 'KubeletHasSufficientPID', 'kubelet has sufficient PID available', ts, prev),
      condition('Ready', ready, ready ? 'KubeletReady' : 'KubeletNotReady', ready ? 'kubelet is posting ready status' : health.notReadyReason!, ts, prev),
    ],
    daemonEndpoints: { kubeletEndpoint: { Port: id.kubeletPort } },
    nodeInfo: {
      architecture: host.arch,
      operatingSystem: host.os,
      kernelVersion: host.kernel,
      osImage: 'weft node (processes in network namespaces)',
      containerRuntimeVersion: 'weft://0.1.0',
      kubeletVersion,
      kubeProxyVersion: kubeletVersion,
      machineID: '',
      systemUUID: '',
      bootID: '',
    },
  }
}
