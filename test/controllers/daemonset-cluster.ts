// The DaemonSet reconcile's test fixtures: a DaemonSet, nodes, and a tiny cluster that applies
// the actions (pods bound and Running at once, Ready when a test says) and keeps revisions.
import type { V1ControllerRevision, V1DaemonSet, V1Node, V1Pod, V1Taint, V1Toleration } from '@kubernetes/client-node'
import type { Action } from '../../src/controllers/actions.ts'
import { reconcileDaemonSet } from '../../src/controllers/daemonset/reconcile.ts'
import { targetNodeName } from '../../src/controllers/daemonset/daemon-pod.ts'

export const t0 = new Date('2025-01-01T00:00:00Z')
export const noHistory = { revisions: [], named: () => undefined }
export const at = (s: number): Date => new Date(t0.getTime() + s * 1000)

export interface DsOpts {
  nodeSelector?: Record<string, string>
  tolerations?: V1Toleration[]
  hostNetwork?: boolean
  image?: string
  strategy?: 'RollingUpdate' | 'OnDelete'
  maxUnavailable?: number | string
  maxSurge?: number | string
  historyLimit?: number
  affinityZone?: string
}

export function daemonSet(o: DsOpts = {}): V1DaemonSet {
  return {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name: 'agent', namespace: 'kube-system', uid: 'ds-uid', generation: 1, resourceVersion: '5' },
    spec: {
      selector: { matchLabels: { app: 'agent' } },
      updateStrategy: o.strategy === 'OnDelete' ? { type: 'OnDelete' } : { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: o.maxUnavailable ?? (o.maxSurge ? 0 : 1), maxSurge: o.maxSurge ?? 0 } },
      revisionHistoryLimit: o.historyLimit,
      template: {
        metadata: { labels: { app: 'agent' } },
        spec: {
          containers: [{ name: 'c', image: o.image ?? 'img:1' }],
          nodeSelector: o.nodeSelector,
          tolerations: o.tolerations,
          hostNetwork: o.hostNetwork,
          affinity: o.affinityZone
            ? {
                nodeAffinity: {
                  requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'zone', operator: 'In', values: [o.affinityZone] }] }] },
                  preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 5, preference: { matchExpressions: [{ key: 'ssd', operator: 'Exists' }] } }],
                },
              }
            : undefined,
        },
      },
    },
    status: { currentNumberScheduled: 0, desiredNumberScheduled: 0, numberMisscheduled: 0, numberReady: 0 },
  }
}

export function node(name: string, o: { labels?: Record<string, string>; taints?: V1Taint[]; deleting?: boolean } = {}): V1Node {
  return {
    metadata: { name, labels: { 'kubernetes.io/hostname': name, ...(o.labels ?? {}) }, ...(o.deleting ? { deletionTimestamp: t0 } : {}) },
    spec: { taints: o.taints },
  }
}

// A tiny cluster: applies actions, binds created pods, and lets pods become ready on demand.
export class Cluster {
  ds: V1DaemonSet
  nodes: V1Node[]
  pods: V1Pod[] = []
  revisions = new Map<string, V1ControllerRevision>()
  seq = 0
  clock = 0
  constructor(ds: V1DaemonSet, nodes: V1Node[]) {
    this.ds = ds
    this.nodes = nodes
  }
  reconcile(): Action[] {
    const actions = reconcileDaemonSet(this.ds, this.nodes, this.pods, at(this.clock), { revisions: [...this.revisions.values()], named: (n) => this.revisions.get(n) })
    for (const a of actions) {
      if ('info' in a && a.info.kind === 'ControllerRevision') {
        if (a.verb === 'create' || a.verb === 'update') this.revisions.set(a.object.metadata!.name!, structuredClone(a.object) as V1ControllerRevision)
        else if (a.verb === 'delete') this.revisions.delete(a.name)
      } else if (a.verb === 'create') {
        const p = structuredClone(a.object) as V1Pod
        p.metadata!.name = `${p.metadata!.generateName}${++this.seq}`
        p.metadata!.uid = `uid-${this.seq}`
        p.metadata!.creationTimestamp = at(this.clock)
        p.spec!.nodeName = targetNodeName(p)
        p.status = { phase: 'Running', conditions: [] }
        this.pods.push(p)
      } else if (a.verb === 'delete') {
        this.pods = this.pods.filter((p) => p.metadata?.name !== a.name)
      } else if (a.verb === 'updateStatus') {
        this.ds = { ...this.ds, status: a.object.status }
      }
    }
    return actions
  }
  makeReady(): void {
    this.clock++
    for (const p of this.pods) if (!p.status?.conditions?.length) p.status!.conditions = [{ type: 'Ready', status: 'True', lastTransitionTime: at(this.clock) }]
  }
  unavailable(): number {
    return this.nodes.length - this.pods.filter((p) => p.status?.conditions?.some((c) => c.status === 'True')).length
  }
  settle(): void {
    for (let i = 0; i < 10; i++) {
      if (this.reconcile().length === 0) return
      this.makeReady()
    }
    throw new Error('did not settle')
  }
}
