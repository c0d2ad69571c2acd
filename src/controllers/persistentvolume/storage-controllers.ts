// The storage controllers on the shared informers: the PV binder (keys `claim:<ns>/<name>` and
// `volume:<name>`, one worker, as upstream's), pvc-protection, pv-protection and the
// local-path provisioner. Lookups go through indices (claims by class and by selected node,
// volumes by class and by claimRef, pods by the claims they use).
import type { V1Node, V1PersistentVolumeClaim } from '@kubernetes/client-node'
import { resources } from '../../api/registry.ts'
import { ANN_SELECTED_NODE, claimClass, defaultClass, volumeClass } from '../../api/storage.ts'
import type { Controller, InformerFactory, ReconcileResult } from '../controller.ts'
import { keyOf } from '../controller.ts'
import { ensureIndex } from '../selector-index.ts'
import { syncClaim, syncVolume, type BinderView } from './binder.ts'
import { deleteReleasedVolume, provisionClaim, type ProvisionerView } from './local-path.ts'
import { storageInformers } from './lookups.ts'
import { podClaimKeys } from './pod-claims.ts'
import { syncClaimProtection, syncVolumeProtection } from './protection.ts'
import { RecentEvents } from './recent-events.ts'

const CLAIM_CLASS_INDEX = 'storageClass'
const CLAIM_NODE_INDEX = 'selectedNode'

/** How often an unbound claim is looked at again without news (upstream's PV controller resync). */
const RESYNC_MS = 15_000

type MakeController = (name: string, reconcile: (key: string) => ReconcileResult | Promise<ReconcileResult>, workers?: number) => Controller

function split(key: string): { kind: string; namespace: string; name: string } {
  const [k, rest] = [key.slice(0, key.indexOf(':')), key.slice(key.indexOf(':') + 1)]
  const slash = rest.indexOf('/')
  return slash < 0 ? { kind: k, namespace: '', name: rest } : { kind: k, namespace: rest.slice(0, slash), name: rest.slice(slash + 1) }
}

const unbound = (c: V1PersistentVolumeClaim): boolean => !c.spec?.volumeName

export function setUpStorageControllers(inf: InformerFactory, controller: MakeController): void {
  const storage = storageInformers(inf)
  const { pods, claims, volumes, classes } = storage
  const nodes = inf.for<V1Node>(resources.find((r) => r.kind === 'Node')!)
  ensureIndex(claims, CLAIM_CLASS_INDEX, (c) => [claimClass(c)])
  ensureIndex(claims, CLAIM_NODE_INDEX, (c) => (c.metadata?.annotations?.[ANN_SELECTED_NODE] ? [c.metadata.annotations[ANN_SELECTED_NODE]] : []))
  const claimKey = (c: V1PersistentVolumeClaim) => `claim:${keyOf(c)}`
  const podsUsing = (ns: string, claim: string) => storage.podsUsing(`${ns}/${claim}`)

  const view: BinderView & ProvisionerView = {
    volume: storage.volume,
    claim: storage.claim,
    candidates: storage.candidates,
    storageClass: storage.storageClass,
    defaultClass: () => defaultClass(classes.list()),
    unscheduledPodsUsing: (ns, claim) => podsUsing(ns, claim).filter((p) => !p.spec?.nodeName).map((p) => p.metadata!.name!).sort(),
    node: (name) => nodes.get(name),
  }

  const binderEvents = new RecentEvents()
  const binder = controller('persistentvolume-binder-controller', (key) => {
    const k = split(key)
    if (k.kind === 'volume') {
      const pv = volumes.get(k.name)
      return { actions: pv ? binderEvents.filter(syncVolume(pv, view)) : [] }
    }
    const pvc = claims.get(`${k.namespace}/${k.name}`)
    if (!pvc) return { actions: [] }
    return { actions: binderEvents.filter(syncClaim(pvc, view)), requeueAfterMs: unbound(pvc) ? RESYNC_MS : undefined }
  }, 1)
  // A claim that changes or goes changes what its volume should be (Released, say).
  binder.watch(claims, (c) => [claimKey(c), ...(c.spec?.volumeName ? [`volume:${c.spec.volumeName}`] : [])])
  binder.watch(volumes, (v) => {
    const keys = [`volume:${v.metadata!.name}`]
    const ref = v.spec?.claimRef
    if (ref) keys.push(`claim:${ref.namespace}/${ref.name}`)
    // A volume that is free now may be what a waiting claim of its class needs.
    if (!ref && v.status?.phase === 'Available') for (const c of claims.byIndex(CLAIM_CLASS_INDEX, volumeClass(v))) if (unbound(c)) keys.push(claimKey(c))
    return keys
  })
  binder.watch(classes, (sc) => claims.byIndex(CLAIM_CLASS_INDEX, sc.metadata!.name!).filter(unbound).map(claimKey))

  const pvcProtection = controller('pvc-protection-controller', (key) => {
    const pvc = claims.get(key)
    return { actions: pvc ? syncClaimProtection(pvc, podsUsing(pvc.metadata!.namespace!, pvc.metadata!.name!)) : [] }
  })
  pvcProtection.watch(claims, (c) => (c.metadata?.deletionTimestamp ? [keyOf(c)] : []))
  pvcProtection.watch(pods, (p) => podClaimKeys(p).filter((k) => claims.get(k)?.metadata?.deletionTimestamp))

  const pvProtection = controller('pv-protection-controller', (name) => {
    const pv = volumes.get(name)
    return { actions: pv ? syncVolumeProtection(pv) : [] }
  })
  pvProtection.watch(volumes, (v) => (v.metadata?.deletionTimestamp ? [v.metadata.name!] : []))

  const provisionerEvents = new RecentEvents()
  const provisioner = controller('local-path-provisioner', (key) => {
    const k = split(key)
    if (k.kind === 'volume') {
      const pv = volumes.get(k.name)
      return { actions: pv ? deleteReleasedVolume(pv) : [] }
    }
    const pvc = claims.get(`${k.namespace}/${k.name}`)
    return { actions: pvc ? provisionerEvents.filter(provisionClaim(pvc, view)) : [] }
  })
  provisioner.watch(claims, (c) => (unbound(c) ? [claimKey(c)] : []))
  provisioner.watch(volumes, (v) => [`volume:${v.metadata!.name}`])
  // A node that publishes its local-path directory may be what a claim waits for.
  provisioner.watch(nodes, (n) => claims.byIndex(CLAIM_NODE_INDEX, n.metadata!.name!).filter(unbound).map(claimKey))
}
