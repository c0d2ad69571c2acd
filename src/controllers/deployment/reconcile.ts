// The Deployment controller's pure reconcile (pkg/controller/deployment syncDeployment):
// claim ReplicaSets, find or create the new one, roll out (RollingUpdate or Recreate),
// scale, clean up history, and report status.
//
// Upstream writes the deployment's revision annotation through the status subresource
// (its status strategy keeps annotations); here it is a merge patch after updateStatus.
import type { V1Deployment, V1DeploymentStatus, V1Pod, V1ReplicaSet } from '@kubernetes/client-node'
import { resources } from '../../api/registry.ts'
import type { LabelSelector } from '../../api/selectors.ts'
import { isEverything, labelSelectorFromObject, matchesLabels } from '../../api/selectors.ts'
import type { Action, KubeObject } from '../actions.ts'
import { claim, claimPatches, controllerRefOf, newControllerRef, type OwnerInfo } from '../replicaset/owner-refs.ts'
import { toMillis } from '../replicaset/pod-state.ts'
import {
  desiredReplicasAnnotation,
  intAnnotation,
  maxReplicasAnnotation,
  revisionAnnotation,
  revisionOf,
  setNewReplicaSetAnnotations,
  setReplicasAnnotations,
} from './annotations.ts'
import { getCondition, newCondition, removeCondition, setCondition } from './conditions.ts'
import { desiredReplicas, isRollingUpdate, maxSurge, maxUnavailable } from './rollout-math.ts'
import { canonicalJson, computeHash, equalIgnoreHash, podTemplateHashLabel } from './template-hash.ts'

const rsInfo = resources.find((r) => r.kind === 'ReplicaSet')!
const deploymentInfo = resources.find((r) => r.kind === 'Deployment')!

interface Work {
  rs: V1ReplicaSet
  /** Not in the API yet: emitted as a create. */
  create: boolean
  changed: boolean
}

const specReplicas = (w: Work): number => w.rs.spec?.replicas ?? 0
const statusReplicas = (w: Work): number => w.rs.status?.replicas ?? 0
const available = (w: Work): number => w.rs.status?.availableReplicas ?? 0
/**
 * Available pods a scale-down may count on: never more than the set is meant to keep. A
 * set just scaled down still reports the pods it is deleting as available until its
 * status catches up; counting them would scale down twice.
 */
const availableToKeep = (w: Work): number => Math.min(available(w), specReplicas(w))
const nameOf = (w: Work): string => w.rs.metadata?.name ?? ''
const created = (w: Work): number => (w.create ? Infinity : (toMillis(w.rs.metadata?.creationTimestamp as Date | string | undefined) ?? 0))
const sum = (ws: Work[], f: (w: Work) => number): number => ws.reduce((n, w) => n + f(w), 0)
const isActive = (w: Work): boolean => specReplicas(w) > 0

function byCreation(a: Work, b: Work): number {
  return created(a) - created(b) || nameOf(a).localeCompare(nameOf(b))
}

class Plan {
  readonly d: V1Deployment
  readonly now: Date
  readonly status: V1DeploymentStatus
  readonly works: Work[] = []
  readonly head: Action[] = []
  readonly events: Action[] = []
  readonly deletes: Action[] = []
  revision: string | undefined
  /** Set when the reconcile must stop after writing status (a name collision). */
  aborted = false

  constructor(d: V1Deployment, now: Date) {
    this.d = d
    this.now = now
    this.status = structuredClone(d.status ?? {})
    this.revision = d.metadata?.annotations?.[revisionAnnotation]
  }

  get replicas(): number {
    return desiredReplicas(this.d)
  }

  hasProgressDeadline(): boolean {
    const s = this.d.spec?.progressDeadlineSeconds
    return s !== undefined && s !== 2147483647
  }

  event(message: string, reason = 'ScalingReplicaSet', type: 'Normal' | 'Warning' = 'Normal'): void {
    const m = this.d.metadata ?? {}
    const involved = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: m.name, namespace: m.namespace, uid: m.uid, resourceVersion: m.resourceVersion } }
    this.events.push({ verb: 'event', event: { involved, type, reason, message } })
  }

  /** scaleReplicaSet: size and replica annotations; an event when the size changes. */
  scale(w: Work, n: number): boolean {
    const from = specReplicas(w)
    const sizeChanges = from !== n
    const annChanges = setReplicasAnnotations(w.rs, this.replicas, this.replicas + maxSurge(this.d))
    if (!sizeChanges && !annChanges) return false
    w.rs.spec!.replicas = n
    w.changed = true
    if (sizeChanges && !w.create) this.event(`Scaled ${n > from ? 'up' : 'down'} replica set ${nameOf(w)} from ${from} to ${n}`)
    return sizeChanges
  }

  findNew(): Work | undefined {
    return [...this.works].sort(byCreation).find((w) => equalIgnoreHash(w.rs.spec?.template, this.d.spec?.template))
  }

  /** getAllReplicaSetsAndSyncRevision. */
  newAndOld(createIfMissing: boolean, nameTaken: NameTaken): { newW: Work | undefined; olds: Work[] } {
    let newW = this.findNew()
    const olds = this.works.filter((w) => w !== newW)
    const newRevision = Math.max(0, ...olds.map((w) => revisionOf(w.rs))) + 1
    if (newW) {
      if (setNewReplicaSetAnnotations(this.d, newW.rs, newRevision, true, maxSurge(this.d))) newW.changed = true
      const minReady = this.d.spec?.minReadySeconds
      if ((newW.rs.spec?.minReadySeconds ?? 0) !== (minReady ?? 0)) {
        newW.rs.spec!.minReadySeconds = minReady
        newW.changed = true
      }
      this.revision = newW.rs.metadata?.annotations?.[revisionAnnotation]
      if (this.hasProgressDeadline() && !getCondition(this.status, 'Progressing')) {
        setCondition(this.status, newCondition('Progressing', 'True', 'FoundNewReplicaSet', `Found new replica set "${nameOf(newW)}"`, this.now))
      }
      return { newW, olds }
    }
    if (!createIfMissing) return { newW: undefined, olds }
    const d = this.d
    const hash = computeHash(d.spec?.template, this.status.collisionCount)
    const name = `${d.metadata?.name}-${hash}`
    if (nameTaken(name)) {
      this.status.collisionCount = (this.status.collisionCount ?? 0) + 1
      this.aborted = true
      return { newW: undefined, olds }
    }
    const template = structuredClone(d.spec?.template ?? {})
    template.metadata ??= {}
    template.metadata.labels = { ...(template.metadata.labels ?? {}), [podTemplateHashLabel]: hash }
    const selector = structuredClone(d.spec?.selector ?? {})
    selector.matchLabels = { ...(selector.matchLabels ?? {}), [podTemplateHashLabel]: hash }
    const rs: V1ReplicaSet = {
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: {
        name,
        namespace: d.metadata?.namespace,
        labels: { ...template.metadata.labels },
        annotations: {},
        ownerReferences: [newControllerRef(this.owner())],
      },
      spec: { replicas: 0, minReadySeconds: d.spec?.minReadySeconds, selector, template },
    }
    newW = { rs, create: true, changed: true }
    rs.spec!.replicas = this.newReplicasFor(newW, [...olds, newW])
    setNewReplicaSetAnnotations(d, rs, newRevision, false, maxSurge(d))
    this.works.push(newW)
    if (specReplicas(newW) > 0) this.event(`Scaled up replica set ${name} from 0 to ${specReplicas(newW)}`)
    this.revision = String(newRevision)
    if (this.hasProgressDeadline()) {
      setCondition(this.status, newCondition('Progressing', 'True', 'NewReplicaSetCreated', `Created new replica set "${name}"`, this.now))
    }
    return { newW, olds }
  }

  owner(): OwnerInfo {
    const m = this.d.metadata ?? {}
    return { apiVersion: 'apps/v1', kind: 'Deployment', name: m.name ?? '', uid: m.uid ?? '', deleting: Boolean(m.deletionTimestamp) }
  }

  /** deploymentutil.NewRSNewReplicas. */
  newReplicasFor(newW: Work, all: Work[]): number {
    if (!isRollingUpdate(this.d)) return this.replicas
    const current = sum(all, specReplicas)
    const maxTotal = this.replicas + maxSurge(this.d)
    if (current >= maxTotal) return specReplicas(newW)
    return specReplicas(newW) + Math.min(maxTotal - current, this.replicas - specReplicas(newW))
  }

  calculateStatus(all: Work[], newW: Work | undefined): V1DeploymentStatus {
    const availableReplicas = sum(all, available)
    const s: V1DeploymentStatus = {
      observedGeneration: this.d.metadata?.generation,
      replicas: sum(all, statusReplicas),
      updatedReplicas: newW ? statusReplicas(newW) : 0,
      readyReplicas: sum(all, (w) => w.rs.status?.readyReplicas ?? 0),
      availableReplicas,
      unavailableReplicas: Math.max(0, sum(all, specReplicas) - availableReplicas),
      conditions: structuredClone(this.status.conditions ?? []),
    }
    if (this.status.collisionCount !== undefined) s.collisionCount = this.status.collisionCount
    if (availableReplicas >= this.replicas - maxUnavailable(this.d)) {
      setCondition(s, newCondition('Available', 'True', 'MinimumReplicasAvailable', 'Deployment has minimum availability.', this.now))
    } else {
      setCondition(s, newCondition('Available', 'False', 'MinimumReplicasUnavailable', 'Deployment does not have minimum availability.', this.now))
    }
    return s
  }

  complete(s: V1DeploymentStatus): boolean {
    const r = this.replicas
    return s.updatedReplicas === r && s.replicas === r && s.availableReplicas === r && (s.observedGeneration ?? 0) >= (this.d.metadata?.generation ?? 0)
  }

  syncDeploymentStatus(all: Work[], newW: Work | undefined): void {
    Object.assign(this.status, this.calculateStatus(all, newW))
  }

  syncRolloutStatus(all: Work[], newW: Work | undefined): void {
    const s = this.calculateStatus(all, newW)
    const old = this.d.status ?? {}
    if (!this.hasProgressDeadline()) removeCondition(s, 'Progressing')
    const cond = getCondition(s, 'Progressing')
    const isComplete = s.replicas === s.updatedReplicas && cond?.reason === 'NewReplicaSetAvailable'
    if (this.hasProgressDeadline() && !isComplete) {
      const subject = newW ? `ReplicaSet "${nameOf(newW)}"` : `Deployment "${this.d.metadata?.name}"`
      const oldOld = (old.replicas ?? 0) - (old.updatedReplicas ?? 0)
      const newOld = (s.replicas ?? 0) - (s.updatedReplicas ?? 0)
      const progressing =
        (s.updatedReplicas ?? 0) > (old.updatedReplicas ?? 0) ||
        newOld < oldOld ||
        (s.readyReplicas ?? 0) > (old.readyReplicas ?? 0) ||
        (s.availableReplicas ?? 0) > (old.availableReplicas ?? 0)
      if (this.complete(s)) {
        setCondition(s, newCondition('Progressing', 'True', 'NewReplicaSetAvailable', `${subject} has successfully progressed.`, this.now))
      } else if (progressing) {
        const c = newCondition('Progressing', 'True', 'ReplicaSetUpdated', `${subject} is progressing.`, this.now)
        if (cond?.status === 'True') c.lastTransitionTime = cond.lastTransitionTime
        removeCondition(s, 'Progressing')
        setCondition(s, c)
      } else if (this.timedOut(cond)) {
        setCondition(s, newCondition('Progressing', 'False', 'ProgressDeadlineExceeded', `${subject} has timed out progressing.`, this.now))
      }
    }
    Object.assign(this.status, s)
  }

  timedOut(cond: ReturnType<typeof getCondition>): boolean {
    if (!cond || cond.reason === 'NewReplicaSetAvailable') return false
    if (cond.reason === 'ProgressDeadlineExceeded') return true
    const from = toMillis(cond.lastUpdateTime as Date | string | undefined)
    return from !== undefined && from + (this.d.spec?.progressDeadlineSeconds ?? 600) * 1000 < this.now.getTime()
  }

  /** cleanupDeployment: delete the oldest scaled-down ReplicaSets beyond revisionHistoryLimit. */
  cleanup(olds: Work[]): void {
    const limit = this.d.spec?.revisionHistoryLimit
    if (limit === undefined) return
    const cleanable = olds.filter((w) => !w.create && !w.rs.metadata?.deletionTimestamp)
    const diff = cleanable.length - limit
    if (diff <= 0) return
    cleanable.sort((a, b) => revisionOf(a.rs) - revisionOf(b.rs) || byCreation(a, b))
    for (const w of cleanable.slice(0, diff)) {
      const rs = w.rs
      if (statusReplicas(w) !== 0 || specReplicas(w) !== 0) continue
      if ((rs.metadata?.generation ?? 0) > (rs.status?.observedGeneration ?? 0)) continue
      this.deletes.push({ verb: 'delete', info: rsInfo, namespace: rs.metadata?.namespace, name: nameOf(w), uid: rs.metadata?.uid })
    }
  }

  /** dc.scale: proportional scaling when the deployment's replicas change mid-rollout. */
  scaleAll(newW: Work | undefined, olds: Work[]): void {
    const activeOrLatest = this.activeOrLatest(newW, olds)
    if (activeOrLatest) {
      if (specReplicas(activeOrLatest) !== this.replicas) this.scale(activeOrLatest, this.replicas)
      return
    }
    if (newW && intAnnotation(newW.rs, desiredReplicasAnnotation) === this.replicas && specReplicas(newW) === this.replicas && available(newW) === this.replicas) {
      for (const w of olds.filter(isActive)) this.scale(w, 0)
      return
    }
    if (!isRollingUpdate(this.d)) return
    const all = [...olds, ...(newW ? [newW] : [])].filter(isActive)
    const allowed = this.replicas > 0 ? this.replicas + maxSurge(this.d) : 0
    const toAdd = allowed - sum(all, specReplicas)
    all.sort((a, b) => specReplicas(b) - specReplicas(a) || (toAdd > 0 ? byCreation(b, a) : byCreation(a, b)))
    const sizes = new Map<Work, number>()
    let added = 0
    for (const w of all) {
      let p = 0
      if (toAdd !== 0 && toAdd !== added && specReplicas(w) > 0) {
        const frac = this.fraction(w)
        p = toAdd > 0 ? Math.min(frac, toAdd - added) : Math.max(frac, toAdd - added)
      }
      sizes.set(w, specReplicas(w) + p)
      added += p
    }
    if (toAdd !== 0 && all.length > 0) sizes.set(all[0], Math.max(0, sizes.get(all[0])! + toAdd - added))
    for (const w of all) this.scale(w, sizes.get(w)!)
  }

  fraction(w: Work): number {
    if (this.replicas === 0) return -specReplicas(w)
    const target = this.replicas + maxSurge(this.d)
    const annotated = intAnnotation(w.rs, maxReplicasAnnotation) ?? this.d.status?.replicas ?? 0
    if (annotated <= 0) return 0
    return Math.round((specReplicas(w) * target) / annotated) - specReplicas(w)
  }

  activeOrLatest(newW: Work | undefined, olds: Work[]): Work | undefined {
    const newestFirst = [...olds].sort((a, b) => byCreation(b, a))
    const active = [...newestFirst, ...(newW ? [newW] : [])].filter(isActive)
    if (active.length === 0) return newW ?? newestFirst[0]
    return active.length === 1 ? active[0] : undefined
  }

  /** sync: scaling and paused deployments; no rollout progress. */
  sync(nameTaken: NameTaken): void {
    const { newW, olds } = this.newAndOld(false, nameTaken)
    this.scaleAll(newW, olds)
    if (this.d.spec?.paused) this.cleanup(olds)
    this.syncDeploymentStatus([...olds, ...(newW ? [newW] : [])], newW)
  }

  isScalingEvent(nameTaken: NameTaken): boolean {
    const { newW, olds } = this.newAndOld(false, nameTaken)
    return [...olds, ...(newW ? [newW] : [])].filter(isActive).some((w) => {
      const desired = intAnnotation(w.rs, desiredReplicasAnnotation)
      return desired !== undefined && desired !== this.replicas
    })
  }

  rolloutRolling(nameTaken: NameTaken): void {
    const { newW, olds } = this.newAndOld(true, nameTaken)
    if (this.aborted || !newW) return
    const allW = [...olds, newW]
    if (this.reconcileNew(allW, newW) || this.reconcileOld(allW, olds.filter(isActive), newW)) {
      this.syncRolloutStatus(allW, newW)
      return
    }
    if (this.complete(this.d.status ?? {})) this.cleanup(olds)
    this.syncRolloutStatus(allW, newW)
  }

  reconcileNew(all: Work[], newW: Work): boolean {
    if (specReplicas(newW) === this.replicas) return false
    if (specReplicas(newW) > this.replicas) return this.scale(newW, this.replicas)
    return this.scale(newW, this.newReplicasFor(newW, all))
  }

  reconcileOld(all: Work[], oldActive: Work[], newW: Work): boolean {
    if (sum(oldActive, specReplicas) === 0) return false
    const minAvailable = this.replicas - maxUnavailable(this.d)
    const newUnavailable = specReplicas(newW) - available(newW)
    const maxScaledDown = sum(all, specReplicas) - minAvailable - newUnavailable
    if (maxScaledDown <= 0) return false
    oldActive.sort(byCreation)
    let cleaned = 0
    for (const w of oldActive) {
      if (cleaned >= maxScaledDown) break
      const unhealthy = specReplicas(w) - available(w)
      if (specReplicas(w) === 0 || unhealthy <= 0) continue
      const n = Math.min(maxScaledDown - cleaned, unhealthy)
      this.scale(w, specReplicas(w) - n)
      cleaned += n
    }
    let scaledDown = 0
    const availableCount = sum(all, availableToKeep)
    if (availableCount > minAvailable) {
      const total = availableCount - minAvailable
      for (const w of oldActive) {
        if (scaledDown >= total) break
        if (specReplicas(w) === 0) continue
        const n = Math.min(specReplicas(w), total - scaledDown)
        this.scale(w, specReplicas(w) - n)
        scaledDown += n
      }
    }
    return cleaned + scaledDown > 0
  }

  rolloutRecreate(nameTaken: NameTaken, pods: V1Pod[]): void {
    let { newW, olds } = this.newAndOld(false, nameTaken)
    let scaledDown = false
    for (const w of olds.filter(isActive)) if (this.scale(w, 0)) scaledDown = true
    if (scaledDown) {
      this.syncRolloutStatus([...olds, ...(newW ? [newW] : [])], newW)
      return
    }
    if (this.oldPodsRunning(newW, olds, pods)) {
      this.syncRolloutStatus([...olds, ...(newW ? [newW] : [])], newW)
      return
    }
    if (!newW) {
      ;({ newW, olds } = this.newAndOld(true, nameTaken))
      if (this.aborted || !newW) return
    }
    const allW = [...olds, newW]
    if (this.scale(newW, this.replicas)) {
      this.syncRolloutStatus(allW, newW)
      return
    }
    if (this.complete(this.d.status ?? {})) this.cleanup(olds)
    this.syncRolloutStatus(allW, newW)
  }

  oldPodsRunning(newW: Work | undefined, olds: Work[], pods: V1Pod[]): boolean {
    if (sum(olds, statusReplicas) > 0) return true
    const oldUids = new Set(olds.map((w) => w.rs.metadata?.uid))
    return pods.some((p) => {
      const ref = controllerRefOf(p)
      if (!ref || !oldUids.has(ref.uid) || ref.uid === newW?.rs.metadata?.uid) return false
      return p.status?.phase !== 'Failed' && p.status?.phase !== 'Succeeded'
    })
  }

  /** checkPausedConditions. */
  pausedConditions(): void {
    if (!this.hasProgressDeadline()) return
    const cond = getCondition(this.status, 'Progressing')
    if (cond?.reason === 'ProgressDeadlineExceeded') return
    const pausedExists = cond?.reason === 'DeploymentPaused'
    if (this.d.spec?.paused && !pausedExists) {
      setCondition(this.status, newCondition('Progressing', 'Unknown', 'DeploymentPaused', 'Deployment is paused', this.now))
    } else if (!this.d.spec?.paused && pausedExists) {
      setCondition(this.status, newCondition('Progressing', 'Unknown', 'DeploymentResumed', 'Deployment is resumed', this.now))
    }
  }

  actions(): Action[] {
    const out: Action[] = [...this.head]
    for (const w of this.works) {
      if (w.create) out.push({ verb: 'create', info: rsInfo, object: w.rs as KubeObject })
    }
    for (const w of this.works) {
      if (!w.create && w.changed) {
        const object = w.rs as KubeObject
        object.apiVersion = 'apps/v1'
        object.kind = 'ReplicaSet'
        out.push({ verb: 'update', info: rsInfo, object })
      }
    }
    out.push(...this.deletes, ...this.events)
    if (canonicalJson(this.status) !== canonicalJson(this.d.status ?? {})) {
      const object = structuredClone(this.d) as KubeObject
      object.apiVersion = 'apps/v1'
      object.kind = 'Deployment'
      object.status = this.status
      out.push({ verb: 'updateStatus', info: deploymentInfo, object })
    }
    if (this.revision !== undefined && this.revision !== this.d.metadata?.annotations?.[revisionAnnotation]) {
      const m = this.d.metadata ?? {}
      out.push({ verb: 'patch', info: deploymentInfo, namespace: m.namespace, name: m.name ?? '', type: 'merge', patch: { metadata: { annotations: { [revisionAnnotation]: this.revision } } } })
    }
    return out
  }
}

type NameTaken = (name: string) => boolean

function selectorOf(d: V1Deployment): LabelSelector | undefined {
  try {
    return labelSelectorFromObject(d.spec?.selector)
  } catch {
    return undefined
  }
}

/**
 * `replicaSets` must hold every set the deployment controls and every one its selector
 * matches, `pods` every pod its selector matches; more is fine. `nameTaken` says whether a
 * ReplicaSet of that name exists in the namespace (default: one of `replicaSets` has it).
 */
export function reconcileDeployment(d: V1Deployment | undefined, replicaSets: V1ReplicaSet[], pods: V1Pod[], now: Date, nameTaken?: NameTaken): Action[] {
  if (!d) return []
  const plan = new Plan(d, now)
  const selector = selectorOf(d)
  if (!selector || isEverything(selector)) {
    plan.event('This deployment is selecting all pods. A non-empty selector is required.', 'SelectingAll', 'Warning')
    if ((d.metadata?.generation ?? 0) > (d.status?.observedGeneration ?? 0)) plan.status.observedGeneration = d.metadata?.generation
    return plan.actions()
  }
  const ns = d.metadata?.namespace
  const inNamespace = replicaSets.filter((rs) => ns === undefined || rs.metadata?.namespace === ns)
  const taken = nameTaken ?? ((name: string) => inNamespace.some((rs) => rs.metadata?.name === name))
  const owner = plan.owner()
  const claimed = claim(owner, selector, inNamespace)
  plan.head.push(...claimPatches(rsInfo, owner, claimed))
  for (const rs of claimed.owned) plan.works.push({ rs: structuredClone(rs), create: false, changed: false })
  const ownedPods = pods.filter((p) => (ns === undefined || p.metadata?.namespace === ns) && matchesLabels(selector, p.metadata?.labels ?? {}))

  if (owner.deleting) {
    const { newW, olds } = plan.newAndOld(false, taken)
    plan.syncDeploymentStatus([...olds, ...(newW ? [newW] : [])], newW)
    return plan.actions()
  }
  plan.pausedConditions()
  if (d.spec?.paused || plan.isScalingEvent(taken)) {
    plan.sync(taken)
    return plan.actions()
  }
  if (isRollingUpdate(d)) plan.rolloutRolling(taken)
  else plan.rolloutRecreate(taken, ownedPods)
  return plan.actions()
}
