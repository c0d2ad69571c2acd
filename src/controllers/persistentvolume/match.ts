// Which volume a claim gets (k8s.io/component-helpers/storage/volume FindMatchingVolume, and
// the PV controller's access-mode index): one pre-bound to the claim if there is one, else the
// smallest Available volume of the claim's class, volume mode and selector that holds the
// request and offers every access mode the claim asks for, preferring volumes that offer
// fewer modes. Shared by the PV controller (no node) and the scheduler (a node to fit).
import type { V1PersistentVolume, V1PersistentVolumeClaim } from '@kubernetes/client-node'
import { labelSelectorFromObject, matchesLabels } from '../../api/selectors.ts'
import { capacityBytes, claimClass, requestedBytes, volumeClass } from '../../api/storage.ts'
import { nodeSelectorMatcher } from '../../scheduler/node-affinity.ts'

export interface NodeView {
  name: string
  labels: Record<string, string>
}

/** IsVolumeBoundToClaim: the volume's claimRef names the claim (and its uid, when the ref has one). */
export function isVolumeBoundToClaim(pv: V1PersistentVolume, pvc: V1PersistentVolumeClaim): boolean {
  const ref = pv.spec?.claimRef
  if (!ref) return false
  if (ref.name !== pvc.metadata?.name || ref.namespace !== pvc.metadata?.namespace) return false
  return !ref.uid || ref.uid === pvc.metadata?.uid
}

/** CheckNodeAffinity: a volume without required node affinity fits every node. */
export function volumeFitsNode(pv: V1PersistentVolume, node: NodeView): boolean {
  const required = pv.spec?.nodeAffinity?.required
  if (!required) return true
  return nodeSelectorMatcher(required.nodeSelectorTerms ?? [])(node.labels, node.name)
}

/** CheckAccessModes: the volume offers every mode the claim asks for. */
export function offersAccessModes(pv: V1PersistentVolume, pvc: V1PersistentVolumeClaim): boolean {
  const offered = new Set(pv.spec?.accessModes ?? [])
  return (pvc.spec?.accessModes ?? []).every((m) => offered.has(m))
}

const modeOf = (mode: string | undefined): string => mode || 'Filesystem'

export interface MatchOptions {
  /** The scheduler's node: the volume must fit it. */
  node?: NodeView
  /** Volumes already chosen for the pod's other claims. */
  excluded?: ReadonlySet<string>
  /** The claim's class binds WaitForFirstConsumer: without a node only pre-bound volumes match. */
  delayBinding?: boolean
}

export function findMatchingVolume(pvc: V1PersistentVolumeClaim, volumes: Iterable<V1PersistentVolume>, opts: MatchOptions = {}): V1PersistentVolume | undefined {
  const wanted = requestedBytes(pvc)
  const cls = claimClass(pvc)
  let selector: ReturnType<typeof labelSelectorFromObject> | undefined
  try {
    selector = pvc.spec?.selector ? labelSelectorFromObject(pvc.spec.selector) : undefined
  } catch {
    // A selector that does not parse selects nothing (validation refuses it at the API).
    return undefined
  }
  let best: { pv: V1PersistentVolume; modes: number; size: number } | undefined
  for (const pv of volumes) {
    const name = pv.metadata?.name ?? ''
    if (opts.excluded?.has(name)) continue
    const prebound = isVolumeBoundToClaim(pv, pvc)
    if (pv.spec?.claimRef && !prebound) continue
    const size = capacityBytes(pv)
    if (size < wanted) continue
    if (modeOf(pv.spec?.volumeMode) !== modeOf(pvc.spec?.volumeMode)) continue
    if (pv.metadata?.deletionTimestamp) continue
    const fits = opts.node === undefined || volumeFitsNode(pv, opts.node)
    if (prebound) return fits ? pv : undefined
    if (opts.node === undefined && opts.delayBinding) continue
    if (pv.status?.phase !== 'Available') continue
    if (selector && !matchesLabels(selector, pv.metadata?.labels)) continue
    if (volumeClass(pv) !== cls || !fits || !offersAccessModes(pv, pvc)) continue
    const modes = new Set(pv.spec?.accessModes ?? []).size
    if (!best || modes < best.modes || (modes === best.modes && size < best.size)) best = { pv, modes, size }
  }
  return best?.pv
}
