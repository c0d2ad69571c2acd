// A StatefulSet's current and update revisions (getStatefulSetRevisions, newRevision,
// ApplyRevision): a revision's data is the strategic merge patch `{"spec":{"template":{…,
// "$patch":"replace"}}}` that puts its template back.
import type { V1ControllerRevision, V1PodTemplateSpec, V1StatefulSet } from '@kubernetes/client-node'
import { resources } from '../../api/registry.ts'
import type { Action, KubeObject } from '../actions.ts'
import { newControllerRevision, nextRevision, sameData, templatePatch } from '../history/revisions.ts'

const revisionInfo = resources.find((r) => r.kind === 'ControllerRevision')!

/** getPatch: the revision data of the set as it is. */
export function statefulSetPatch(set: V1StatefulSet): { spec: { template: Record<string, unknown> } } {
  return templatePatch(set.spec?.template)
}

/** ApplyRevision for the only state a revision holds: the template it restores, or undefined when its data has none. */
export function revisionTemplate(revision: V1ControllerRevision): V1PodTemplateSpec | undefined {
  const data = revision.data as { spec?: { template?: unknown } } | undefined
  const template = data?.spec?.template
  if (typeof template !== 'object' || template === null || Array.isArray(template)) return undefined
  const { $patch: _, ...rest } = template as Record<string, unknown>
  return structuredClone(rest) as V1PodTemplateSpec
}

export interface SetRevisions {
  current: V1ControllerRevision
  update: V1ControllerRevision
  collisionCount: number
  /** The revision to create, or the old one whose number moves up (a rollback). */
  actions: Action[]
}

/**
 * getStatefulSetRevisions over the set's history (`sorted` by revision): the update revision
 * is the latest when its data is the set's, an older equal one renumbered, or a new one named
 * `<set>-<hash>`, the collision count raised past names taken by other data; the current
 * revision is the one status names, else the update revision.
 */
export function statefulSetRevisions(set: V1StatefulSet, sorted: V1ControllerRevision[], named: (name: string) => V1ControllerRevision | undefined): SetRevisions {
  let collisionCount = set.status?.collisionCount ?? 0
  const data = statefulSetPatch(set)
  const next = nextRevision(sorted)
  const equal = sorted.filter((r) => sameData(r.data, data))
  const actions: Action[] = []
  let update: V1ControllerRevision
  if (equal.length > 0 && equal[equal.length - 1] === sorted[sorted.length - 1]) {
    update = sorted[sorted.length - 1]
  } else if (equal.length > 0) {
    update = { ...structuredClone(equal[equal.length - 1]), apiVersion: 'apps/v1', kind: 'ControllerRevision', revision: next }
    actions.push({ verb: 'update', info: revisionInfo, object: update as KubeObject })
  } else {
    const owner = { apiVersion: 'apps/v1', kind: 'StatefulSet', name: set.metadata?.name ?? '', namespace: set.metadata?.namespace ?? '', uid: set.metadata?.uid ?? '' }
    const labels = set.spec?.template?.metadata?.labels ?? {}
    for (;;) {
      update = newControllerRevision(owner, labels, data, next, collisionCount)
      const taken = named(update.metadata!.name!)
      if (taken && sameData(taken.data, data)) {
        update = taken
        break
      }
      if (!taken) {
        if (set.metadata?.annotations && Object.keys(set.metadata.annotations).length > 0) update.metadata!.annotations = { ...set.metadata.annotations }
        actions.push({ verb: 'create', info: revisionInfo, object: update as KubeObject })
        break
      }
      collisionCount++
    }
  }
  const current = sorted.find((r) => r.metadata?.name === set.status?.currentRevision) ?? update
  return { current, update, collisionCount, actions }
}
