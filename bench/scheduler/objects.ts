// The objects the scheduler benchmark creates, shaped like scheduler_perf's default
// templates (node-default.yaml, pod-default.yaml): nodes with 4 CPUs, 32Gi and 110 pods
// allocatable and Ready=True; pods with one pause container requesting 100m / 500Mi.
import type { V1Node, V1Pod, V1Service } from '@kubernetes/client-node'

export const nodeName = (i: number): string => `node-${String(i).padStart(5, '0')}`

export function benchNode(name: string): V1Node {
  const resources = { cpu: '4', memory: '32Gi', pods: '110' }
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, labels: { 'kubernetes.io/hostname': name, 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64' } },
    spec: {},
    status: {
      capacity: resources,
      allocatable: resources,
      conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'simulated by bench/scheduler' }],
      phase: 'Running',
    },
  }
}

export function benchPod(namespace: string, name: string, options: { labels?: Record<string, string>; nodeName?: string } = {}): V1Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace, labels: options.labels ?? { app: 'sched-bench' } },
    spec: {
      ...(options.nodeName ? { nodeName: options.nodeName } : {}),
      containers: [
        {
          name: 'pause',
          image: 'registry.k8s.io/pause:3.10',
          ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }],
          resources: { requests: { cpu: '100m', memory: '500Mi' }, limits: { cpu: '100m', memory: '500Mi' } },
        },
      ],
    },
  }
}

export function benchService(namespace: string, name: string, selector: Record<string, string>): V1Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace },
    spec: { selector, ports: [{ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP' }] },
  }
}

/** A pod's status as a kubelet would write it once the sandbox is up; `ready` sets the Ready condition. */
export function runningStatus(podIP: string, ready: boolean): { status: NonNullable<V1Pod['status']> } {
  return {
    status: {
      phase: 'Running',
      podIP,
      podIPs: [{ ip: podIP }],
      conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }],
    },
  }
}

/** Distinct addresses in 10.0.0.0/8 for pod `i`. */
export function podIP(i: number): string {
  const n = i + 1
  return `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`
}
