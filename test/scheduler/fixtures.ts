// Small builders for nodes and pods in scheduler tests.
import type { V1Container, V1Node, V1Pod, V1Taint, V1Toleration, V1Affinity, V1ContainerPort } from '@kubernetes/client-node'

export interface NodeOpts {
  cpu?: string
  memory?: string
  pods?: string
  labels?: Record<string, string>
  taints?: V1Taint[]
  ready?: 'True' | 'False' | 'Unknown' | 'missing'
  unschedulable?: boolean
  extra?: Record<string, string>
}

export function node(name: string, o: NodeOpts = {}): V1Node {
  const ready = o.ready ?? 'True'
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, labels: { 'kubernetes.io/hostname': name, ...o.labels } },
    spec: { taints: o.taints, unschedulable: o.unschedulable },
    status: {
      allocatable: { cpu: o.cpu ?? '4', memory: o.memory ?? '8Gi', pods: o.pods ?? '110', ...o.extra },
      conditions: ready === 'missing' ? [] : [{ type: 'Ready', status: ready }],
    },
  }
}

export interface PodOpts {
  cpu?: string
  memory?: string
  nodeName?: string
  phase?: string
  owner?: string
  namespace?: string
  tolerations?: V1Toleration[]
  nodeSelector?: Record<string, string>
  affinity?: V1Affinity
  ports?: V1ContainerPort[]
  containers?: V1Container[]
  initContainers?: V1Container[]
  overhead?: Record<string, string>
}

export function pod(name: string, o: PodOpts = {}): V1Pod {
  const requests: Record<string, string> = {}
  if (o.cpu) requests.cpu = o.cpu
  if (o.memory) requests.memory = o.memory
  const containers = o.containers ?? [{ name: 'c', image: 'weft/echo', resources: { requests }, ports: o.ports }]
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: o.namespace ?? 'default',
      uid: `uid-${name}`,
      ownerReferences: o.owner
        ? [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: o.owner, uid: `uid-${o.owner}`, controller: true }]
        : undefined,
    },
    spec: {
      containers,
      initContainers: o.initContainers,
      nodeName: o.nodeName,
      tolerations: o.tolerations,
      nodeSelector: o.nodeSelector,
      affinity: o.affinity,
      overhead: o.overhead,
    },
    status: o.phase ? { phase: o.phase } : undefined,
  }
}
