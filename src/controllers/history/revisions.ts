// A controller's history as ControllerRevisions (pkg/controller/history): new revisions,
// their order, equality of their data, and which old ones go past revisionHistoryLimit.
import type { V1ControllerRevision } from '@kubernetes/client-node'
import { controllerRevisionName, goJson, hashControllerRevision } from './revision-hash.ts'
import { toMillis } from '../replicaset/pod-state.ts'

/** The label a revision's hash is kept under (ControllerRevisionHashLabel). */
export const revisionHashLabel = 'controller.kubernetes.io/hash'

export interface RevisionOwner {
  apiVersion: string
  kind: string
  name: string
  namespace: string
  uid: string
}

/** NewControllerRevision: labelled like the template plus its hash, controlled by `owner`. */
export function newControllerRevision(owner: RevisionOwner, templateLabels: Record<string, string>, data: object, revision: number, collisionCount: number | undefined): V1ControllerRevision {
  const hash = hashControllerRevision(data, collisionCount)
  return {
    apiVersion: 'apps/v1',
    kind: 'ControllerRevision',
    metadata: {
      name: controllerRevisionName(owner.name, hash),
      namespace: owner.namespace,
      labels: { ...templateLabels, [revisionHashLabel]: hash },
      ownerReferences: [{ apiVersion: owner.apiVersion, kind: owner.kind, name: owner.name, uid: owner.uid, controller: true, blockOwnerDeletion: true }],
    },
    data,
    revision,
  }
}

/** By revision number, then creation time, then name (SortControllerRevisions). */
export function compareRevisions(a: V1ControllerRevision, b: V1ControllerRevision): number {
  if (a.revision !== b.revision) return a.revision - b.revision
  const at = toMillis(a.metadata?.creationTimestamp as Date | string | undefined) ?? 0
  const bt = toMillis(b.metadata?.creationTimestamp as Date | string | undefined) ?? 0
  if (at !== bt) return at - bt
  const an = a.metadata?.name ?? ''
  const bn = b.metadata?.name ?? ''
  return an < bn ? -1 : an > bn ? 1 : 0
}

export function sortRevisions(revisions: readonly V1ControllerRevision[]): V1ControllerRevision[] {
  return [...revisions].sort(compareRevisions)
}

/** One past the highest revision number of a sorted history; 1 for none. */
export function nextRevision(sorted: readonly V1ControllerRevision[]): number {
  return sorted.length === 0 ? 1 : sorted[sorted.length - 1].revision + 1
}

/**
 * The data of a StatefulSet's or DaemonSet's revision (both controllers' getPatch): a strategic
 * merge patch that replaces the template, as Go's encoder leaves it (keys sorted, no nulls).
 */
export function templatePatch(template: unknown): { spec: { template: Record<string, unknown> } } {
  const copy = JSON.parse(goJson(template ?? {})) as Record<string, unknown>
  return JSON.parse(goJson({ spec: { template: { ...copy, $patch: 'replace' } } }))
}

/** The same data (compared as Go's sorted encoding, so key order and dropped nulls do not matter). */
export function sameData(a: unknown, b: unknown): boolean {
  return goJson(a ?? null) === goJson(b ?? null)
}

/**
 * The old revisions to delete (lowest revision first) so that at most `limit` non-live ones
 * are left; `sorted` is the history in order, `live` the names still in use.
 */
export function revisionsToTruncate(sorted: readonly V1ControllerRevision[], live: ReadonlySet<string>, limit: number): V1ControllerRevision[] {
  const history = sorted.filter((r) => !live.has(r.metadata?.name ?? ''))
  const excess = history.length - Math.max(0, limit)
  return excess > 0 ? history.slice(0, excess) : []
}
