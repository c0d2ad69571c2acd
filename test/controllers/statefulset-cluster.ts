// A tiny cluster for the StatefulSet reconcile: it applies the actions as the API server
// would (pods start Pending, deletes are graceful until `finishDeletes`), and acts as the
// kubelet when a test makes pods Running and Ready.
import type { V1ControllerRevision, V1Pod, V1StatefulSet } from '@kubernetes/client-node'
import type { Action } from '../../src/controllers/actions.ts'
import { reconcileStatefulSet, type StatefulSetResult } from '../../src/controllers/statefulset/reconcile.ts'
import type { ClaimView } from '../../src/controllers/statefulset/volume-claims.ts'

export const t0 = new Date('2025-01-01T00:00:00Z')
export const at = (s: number): Date => new Date(t0.getTime() + s * 1000)

export function statefulSet(o: { replicas?: number; policy?: 'OrderedReady' | 'Parallel'; image?: string; partition?: number; maxUnavailable?: number | string; onDelete?: boolean; start?: number; minReadySeconds?: number; claims?: string[] } = {}): V1StatefulSet {
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name: 'db', namespace: 'data', uid: 'sts-uid', generation: 1, resourceVersion: '1' },
    spec: {
      replicas: o.replicas ?? 3,
      serviceName: 'db-headless',
      podManagementPolicy: o.policy ?? 'OrderedReady',
      selector: { matchLabels: { app: 'db' } },
      minReadySeconds: o.minReadySeconds,
      ordinals: o.start === undefined ? undefined : { start: o.start },
      updateStrategy: o.onDelete ? { type: 'OnDelete' } : { type: 'RollingUpdate', rollingUpdate: { partition: o.partition ?? 0, maxUnavailable: o.maxUnavailable ?? 1 } },
      revisionHistoryLimit: 10,
      template: { metadata: { labels: { app: 'db' } }, spec: { containers: [{ name: 'db', image: o.image ?? 'db:1' }], volumes: [{ name: 'scratch', emptyDir: {} }] } },
      volumeClaimTemplates: (o.claims ?? []).map((name) => ({ metadata: { name }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } })),
    },
    status: { replicas: 0 },
  }
}

export class Cluster {
  set: V1StatefulSet
  pods = new Map<string, V1Pod>()
  revisions = new Map<string, V1ControllerRevision>()
  clock = 0
  uid = 0
  claims?: ClaimView
  last: StatefulSetResult = { actions: [] }

  constructor(set: V1StatefulSet) {
    this.set = set
  }

  reconcile(): Action[] {
    this.last = reconcileStatefulSet({
      set: this.set,
      pods: [...this.pods.values()],
      revisions: [...this.revisions.values()],
      revisionNamed: (name) => this.revisions.get(name),
      claims: this.claims,
      now: at(this.clock),
    })
    for (const a of this.last.actions) this.apply(a)
    return this.last.actions
  }

  private apply(a: Action): void {
    if (a.verb === 'create' && a.info.kind === 'Pod') {
      const p = structuredClone(a.object) as V1Pod
      p.metadata!.uid = `pod-${++this.uid}`
      p.metadata!.creationTimestamp = at(this.clock)
      p.status = { phase: 'Pending' }
      this.pods.set(p.metadata!.name!, p)
    } else if (a.verb === 'create' && a.info.kind === 'ControllerRevision') {
      const r = structuredClone(a.object) as V1ControllerRevision
      r.metadata!.uid = `rev-${++this.uid}`
      r.metadata!.creationTimestamp = at(this.clock)
      this.revisions.set(r.metadata!.name!, r)
    } else if (a.verb === 'update' && a.info.kind === 'ControllerRevision') {
      this.revisions.set(a.object.metadata!.name!, structuredClone(a.object) as V1ControllerRevision)
    } else if (a.verb === 'update' && a.info.kind === 'Pod') {
      this.pods.set(a.object.metadata!.name!, structuredClone(a.object) as V1Pod)
    } else if (a.verb === 'delete' && a.info.kind === 'Pod') {
      const p = this.pods.get(a.name)
      if (p) p.metadata!.deletionTimestamp = at(this.clock)
    } else if (a.verb === 'delete' && a.info.kind === 'ControllerRevision') {
      this.revisions.delete(a.name)
    } else if (a.verb === 'updateStatus') {
      this.set = { ...this.set, status: structuredClone(a.object.status) }
    }
  }

  /** The kubelet: pods named (or all pending ones) run and turn Ready now. */
  ready(...names: string[]): void {
    this.clock++
    for (const p of this.pods.values()) {
      if (p.metadata?.deletionTimestamp || p.status?.phase !== 'Pending' || (names.length > 0 && !names.includes(p.metadata!.name!))) continue
      p.status = { phase: 'Running', conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: at(this.clock) }] }
    }
  }

  finishDeletes(): string[] {
    const gone = [...this.pods.values()].filter((p) => p.metadata?.deletionTimestamp).map((p) => p.metadata!.name!)
    for (const name of gone) this.pods.delete(name)
    return gone.sort()
  }

  names(): string[] {
    return [...this.pods.keys()].sort()
  }

  revisionOf(name: string): string | undefined {
    return this.pods.get(name)?.metadata?.labels?.['controller-revision-hash']
  }

  withTemplateImage(image: string): void {
    const spec = structuredClone(this.set.spec!)
    spec.template.spec!.containers[0].image = image
    this.set = { ...this.set, metadata: { ...this.set.metadata, generation: (this.set.metadata!.generation ?? 1) + 1 }, spec }
  }

  /** Reconcile, let the kubelet start what was created and finish deletes, until nothing changes. */
  settle(limit = 40): number {
    for (let i = 0; i < limit; i++) {
      const acted = this.reconcile().filter((a) => a.verb !== 'event')
      const gone = this.finishDeletes()
      const pending = [...this.pods.values()].filter((p) => p.status?.phase === 'Pending').length
      this.ready()
      if (acted.length === 0 && gone.length === 0 && pending === 0) return i
    }
    throw new Error('did not settle')
  }
}

export const verbs = (actions: Action[]): string[] =>
  actions.filter((a) => a.verb !== 'event').map((a) => (a.verb === 'create' || a.verb === 'update' || a.verb === 'updateStatus' ? `${a.verb} ${a.info.kind} ${a.object.metadata?.name}` : a.verb === 'delete' || a.verb === 'patch' ? `${a.verb} ${a.info.kind} ${a.name}` : a.verb))
