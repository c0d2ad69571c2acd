// A DaemonSet's history in ControllerRevisions (pkg/controller/daemon/update.go:
// constructHistory, snapshot, dedupCurHistories, cleanupHistory). The revision whose data is
// the DaemonSet's template is current, and its `controller-revision-hash` label is the hash
// its pods carry: `<ds>-<hash>`, the hash of the template and collision count. A rollback
// (`kubectl rollout undo` patches an old revision's template back) finds that old revision
// current again and renumbers it, so the pods still at its hash are up to date.
import type { V1ControllerRevision, V1DaemonSet, V1Pod } from '@kubernetes/client-node'
import { resources } from '../../api/registry.ts'
import type { Action, KubeObject } from '../actions.ts'
import { computeHash } from '../deployment/template-hash.ts'
import { compareRevisions, sameData, templatePatch } from '../history/revisions.ts'
import { daemonSetOwner, revisionHashLabel } from './daemon-pod.ts'
import { newControllerRef } from '../replicaset/owner-refs.ts'

const revisionInfo = resources.find((r) => r.kind === 'ControllerRevision')!
const podInfo = resources.find((r) => r.kind === 'Pod')!
const dsInfo = resources.find((r) => r.kind === 'DaemonSet')!

export interface DaemonSetHistory {
  /** The hash the current revision's pods carry. */
  hash: string
  /** Every other revision the DaemonSet owns. */
  old: V1ControllerRevision[]
  actions: Action[]
  /**
   * Nothing else may happen this pass: the name for a new revision is taken by other data
   * (the collision count goes up, a status write), or pods are being relabelled and must be
   * seen with their new hash before anything is judged by it.
   */
  wait: boolean
}

/** Match: the revision holds this DaemonSet's template. */
export function matchesDaemonSet(ds: V1DaemonSet, revision: V1ControllerRevision): boolean {
  return sameData(revision.data, templatePatch(ds.spec?.template))
}

/** snapshot: the revision of the DaemonSet as it is now. */
export function daemonSetRevision(ds: V1DaemonSet, revision: number): V1ControllerRevision {
  const hash = computeHash(ds.spec?.template, ds.status?.collisionCount)
  const annotations = ds.metadata?.annotations
  return {
    apiVersion: 'apps/v1',
    kind: 'ControllerRevision',
    metadata: {
      name: `${ds.metadata?.name}-${hash}`,
      namespace: ds.metadata?.namespace,
      labels: { ...(ds.spec?.template?.metadata?.labels ?? {}), [revisionHashLabel]: hash },
      ...(annotations && Object.keys(annotations).length > 0 ? { annotations: { ...annotations } } : {}),
      ownerReferences: [newControllerRef(daemonSetOwner(ds))],
    },
    data: templatePatch(ds.spec?.template),
    revision,
  }
}

const asObject = (r: V1ControllerRevision): KubeObject => ({ ...r, apiVersion: 'apps/v1', kind: 'ControllerRevision' }) as KubeObject

/**
 * constructHistory over the revisions the DaemonSet owns; `named` finds any revision of the
 * namespace by name, `pods` are its pods (relabelled when duplicate current revisions merge).
 */
export function constructHistory(ds: V1DaemonSet, owned: V1ControllerRevision[], named: (name: string) => V1ControllerRevision | undefined, pods: V1Pod[]): DaemonSetHistory {
  const actions: Action[] = []
  const current: V1ControllerRevision[] = []
  const old: V1ControllerRevision[] = []
  for (let r of owned) {
    if (r.metadata?.labels?.[revisionHashLabel] === undefined) {
      // Revisions from before the label: their name stands in for the hash.
      r = { ...structuredClone(r), metadata: { ...r.metadata, labels: { ...(r.metadata?.labels ?? {}), [revisionHashLabel]: r.metadata?.name ?? '' } } }
      actions.push({ verb: 'update', info: revisionInfo, object: asObject(r) })
    }
    ;(matchesDaemonSet(ds, r) ? current : old).push(r)
  }
  const next = Math.max(0, ...old.map((r) => r.revision)) + 1
  let cur: V1ControllerRevision
  let relabelled = false
  if (current.length === 0) {
    const snapshot = daemonSetRevision(ds, next)
    const taken = named(snapshot.metadata!.name!)
    if (taken && !matchesDaemonSet(ds, taken)) {
      const object = { ...structuredClone(ds), apiVersion: 'apps/v1', kind: 'DaemonSet' } as KubeObject
      object.status = { ...object.status, collisionCount: (ds.status?.collisionCount ?? 0) + 1 }
      return { hash: '', old, actions: [...actions, { verb: 'updateStatus', info: dsInfo, object }], wait: true }
    }
    cur = taken ?? snapshot
    if (!taken) actions.push({ verb: 'create', info: revisionInfo, object: asObject(snapshot) })
  } else {
    cur = current.reduce((keep, r) => (r.revision >= keep.revision ? r : keep))
    const keepHash = cur.metadata?.labels?.[revisionHashLabel] ?? ''
    if (current.length > 1) {
      // dedupCurHistories: the duplicates' pods take the kept one's hash, then the duplicates go.
      // (Upstream relabels every pod not at the kept hash, old ones included, which would
      // pass them off as updated; weft relabels only the duplicates' own.)
      const dupHashes = new Set(current.filter((r) => r !== cur).map((r) => r.metadata?.labels?.[revisionHashLabel]))
      for (const p of pods) {
        if (!dupHashes.has(p.metadata?.labels?.[revisionHashLabel])) continue
        relabelled = true
        actions.push({ verb: 'patch', info: podInfo, namespace: p.metadata?.namespace, name: p.metadata?.name ?? '', patch: { metadata: { labels: { [revisionHashLabel]: keepHash } } }, type: 'merge' })
      }
      for (const dup of current) {
        if (dup !== cur) actions.push({ verb: 'delete', info: revisionInfo, namespace: dup.metadata?.namespace, name: dup.metadata?.name ?? '', uid: dup.metadata?.uid })
      }
    }
    if (cur.revision < next) {
      cur = { ...structuredClone(cur), revision: next }
      actions.push({ verb: 'update', info: revisionInfo, object: asObject(cur) })
    }
  }
  return { hash: cur.metadata?.labels?.[revisionHashLabel] ?? '', old, actions, wait: relabelled }
}

/** cleanupHistory: the oldest revisions beyond revisionHistoryLimit that no pod carries any more. */
export function historyToDelete(ds: V1DaemonSet, old: V1ControllerRevision[], pods: V1Pod[]): Action[] {
  let toKill = old.length - Math.max(0, ds.spec?.revisionHistoryLimit ?? 10)
  if (toKill <= 0) return []
  const liveHashes = new Set(pods.map((p) => p.metadata?.labels?.[revisionHashLabel]).filter((h): h is string => Boolean(h)))
  const actions: Action[] = []
  for (const r of [...old].sort(compareRevisions)) {
    if (toKill <= 0) break
    if (liveHashes.has(r.metadata?.labels?.[revisionHashLabel] ?? '')) continue
    actions.push({ verb: 'delete', info: revisionInfo, namespace: r.metadata?.namespace, name: r.metadata?.name ?? '', uid: r.metadata?.uid })
    toKill--
  }
  return actions
}
