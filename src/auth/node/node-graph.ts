// Which objects each node may read, as upstream's node authorizer graph knows it
// (plugin/pkg/auth/authorizer/node/graph.go), cut down to the edges weft needs: a pod bound to a
// node, and the secrets, configmaps, persistentvolumeclaims and service account that pod
// references. Each (node, kind, namespace, name) carries a count of the pods that reference it,
// changed incrementally as pods come, go, move or change what they reference. Claims and
// volumes add upstream's pvc → pv edge (a node reads the volume a claim of its pods is bound
// to) and weft's own: a local-path volume belongs to the node named by its
// weft.dev/local-path-node label (the node that holds the directory).
//
// Pods are API input: anything not of the expected shape is skipped, never trusted and never
// thrown over; a pod without a string namespace and name cannot be tracked and is ignored.

import { LOCAL_PATH_NODE_LABEL } from '../../api/storage.ts'

export type NodeObjectKind = 'secret' | 'configmap' | 'persistentvolumeclaim' | 'serviceaccount'

export const NODE_OBJECT_KINDS: readonly NodeObjectKind[] = ['secret', 'configmap', 'persistentvolumeclaim', 'serviceaccount']

/** What the graph keeps of a bound pod. */
export interface BoundPod {
  namespace: string
  name: string
  uid: string
  nodeName: string
}

interface PodEntry extends BoundPod {
  /** The (kind, name) pairs the pod references, each once. */
  refs: { kind: NodeObjectKind; name: string }[]
}

type Obj = Record<string, unknown>

function asObj(v: unknown): Obj | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : undefined
}

function asArray(v: unknown): unknown[] {
  return Array.isArray(v) ? v : []
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined
}

/** `o.a.b…` as a non-empty string, or undefined. */
function at(o: unknown, ...path: string[]): string | undefined {
  let cur: unknown = o
  for (const p of path) cur = asObj(cur)?.[p]
  return str(cur)
}

// JSON arrays keep the tuple unambiguous whatever characters hostile names carry.
function refKey(kind: NodeObjectKind, name: string): string {
  return JSON.stringify([kind, name])
}

function edgeKey(node: string, kind: NodeObjectKind, namespace: string, name: string): string {
  return JSON.stringify([node, kind, namespace, name])
}

function podKey(namespace: string, name: string): string {
  return JSON.stringify([namespace, name])
}

// Secret references of volume sources other than `secret` (podutil.VisitPodSecretNames).
const volumeSecretRefs: [string, ...string[]][] = [
  ['azureFile', 'secretName'],
  ['cephfs', 'secretRef', 'name'],
  ['cinder', 'secretRef', 'name'],
  ['flexVolume', 'secretRef', 'name'],
  ['iscsi', 'secretRef', 'name'],
  ['rbd', 'secretRef', 'name'],
  ['scaleIO', 'secretRef', 'name'],
  ['storageos', 'secretRef', 'name'],
  ['csi', 'nodePublishSecretRef', 'name'],
]

/** The (kind, name) pairs a pod spec references, in the pod's namespace, deduplicated. */
export function podReferences(pod: unknown): { kind: NodeObjectKind; name: string }[] {
  const spec = asObj(asObj(pod)?.spec)
  const podName = at(pod, 'metadata', 'name')
  const out = new Map<string, { kind: NodeObjectKind; name: string }>()
  const add = (kind: NodeObjectKind, name: string | undefined) => {
    if (name !== undefined) out.set(refKey(kind, name), { kind, name })
  }
  if (!spec) return []
  // The API server defaults an empty serviceAccountName to `default`, as weft's kubelet assumes.
  add('serviceaccount', str(spec.serviceAccountName) ?? 'default')
  for (const s of asArray(spec.imagePullSecrets)) add('secret', at(s, 'name'))
  for (const list of [spec.containers, spec.initContainers, spec.ephemeralContainers]) {
    for (const c of asArray(list)) {
      for (const e of asArray(asObj(c)?.envFrom)) {
        add('secret', at(e, 'secretRef', 'name'))
        add('configmap', at(e, 'configMapRef', 'name'))
      }
      for (const e of asArray(asObj(c)?.env)) {
        add('secret', at(e, 'valueFrom', 'secretKeyRef', 'name'))
        add('configmap', at(e, 'valueFrom', 'configMapKeyRef', 'name'))
      }
    }
  }
  for (const v of asArray(spec.volumes)) {
    const vol = asObj(v)
    if (!vol) continue
    add('secret', at(vol, 'secret', 'secretName'))
    add('configmap', at(vol, 'configMap', 'name'))
    add('persistentvolumeclaim', at(vol, 'persistentVolumeClaim', 'claimName'))
    for (const path of volumeSecretRefs) add('secret', at(vol, ...path))
    // A generic ephemeral volume's claim is named <pod>-<volume> (ephemeral.VolumeClaimName).
    const volName = str(vol.name)
    if (asObj(vol.ephemeral) && podName !== undefined && volName !== undefined) add('persistentvolumeclaim', `${podName}-${volName}`)
    for (const src of asArray(asObj(vol.projected)?.sources)) {
      add('secret', at(src, 'secret', 'name'))
      add('configmap', at(src, 'configMap', 'name'))
    }
  }
  return [...out.values()]
}

export class NodeGraph {
  #pods = new Map<string, PodEntry>()
  #podsByNode = new Map<string, Set<string>>()
  #edges = new Map<string, number>()
  /** Claim (podKey form) → the volume it is bound to, and the reverse. */
  #claimVolume = new Map<string, string>()
  #volumeClaims = new Map<string, Set<string>>()
  /** Local-path volume → the node holding it. */
  #localVolumeNode = new Map<string, string>()

  /** Adds or replaces a claim: only its binding (spec.volumeName) is kept. */
  upsertClaim(pvc: unknown): void {
    const namespace = at(pvc, 'metadata', 'namespace')
    const name = at(pvc, 'metadata', 'name')
    if (namespace === undefined || name === undefined) return
    this.removeClaim(namespace, name)
    const volume = at(pvc, 'spec', 'volumeName')
    if (volume === undefined) return
    const key = podKey(namespace, name)
    this.#claimVolume.set(key, volume)
    let claims = this.#volumeClaims.get(volume)
    if (!claims) this.#volumeClaims.set(volume, (claims = new Set()))
    claims.add(key)
  }

  removeClaim(namespace: string, name: string): void {
    const key = podKey(namespace, name)
    const volume = this.#claimVolume.get(key)
    if (volume === undefined) return
    this.#claimVolume.delete(key)
    const claims = this.#volumeClaims.get(volume)
    claims?.delete(key)
    if (claims?.size === 0) this.#volumeClaims.delete(volume)
  }

  /** Adds or replaces a volume: only the node of a local-path volume is kept. */
  upsertVolume(pv: unknown): void {
    const name = at(pv, 'metadata', 'name')
    if (name === undefined) return
    const node = at(pv, 'metadata', 'labels', LOCAL_PATH_NODE_LABEL)
    if (node === undefined) this.#localVolumeNode.delete(name)
    else this.#localVolumeNode.set(name, node)
  }

  removeVolume(name: string): void {
    this.#localVolumeNode.delete(name)
  }

  /** The node whose disk holds a local-path volume. */
  localVolumeNode(name: string): string | undefined {
    return this.#localVolumeNode.get(name)
  }

  /** Whether the node may read the volume: a claim one of its pods uses is bound to it, or the volume is on its disk. */
  mayReadVolume(nodeName: string, name: string): boolean {
    if (this.#localVolumeNode.get(name) === nodeName) return true
    for (const claim of this.#volumeClaims.get(name) ?? []) {
      const [namespace, claimName] = JSON.parse(claim) as [string, string]
      if (this.mayRead(nodeName, 'persistentvolumeclaim', namespace, claimName)) return true
    }
    return false
  }

  /** Adds or replaces a pod. Unbound pods (no spec.nodeName) are not on any node; returns whether the pod is tracked. */
  upsertPod(pod: unknown): boolean {
    const namespace = at(pod, 'metadata', 'namespace')
    const name = at(pod, 'metadata', 'name')
    if (namespace === undefined || name === undefined) return false
    const nodeName = at(pod, 'spec', 'nodeName')
    if (nodeName === undefined) {
      this.removePod(namespace, name)
      return false
    }
    const refs = podReferences(pod)
    const entry: PodEntry = { namespace, name, uid: at(pod, 'metadata', 'uid') ?? '', nodeName, refs }
    this.#drop(podKey(namespace, name))
    this.#pods.set(podKey(namespace, name), entry)
    let onNode = this.#podsByNode.get(nodeName)
    if (!onNode) this.#podsByNode.set(nodeName, (onNode = new Set()))
    onNode.add(podKey(namespace, name))
    for (const r of refs) {
      const key = edgeKey(nodeName, r.kind, namespace, r.name)
      this.#edges.set(key, (this.#edges.get(key) ?? 0) + 1)
    }
    return true
  }

  removePod(namespace: string, name: string): void {
    this.#drop(podKey(namespace, name))
  }

  #drop(key: string): void {
    const old = this.#pods.get(key)
    if (!old) return
    this.#pods.delete(key)
    const onNode = this.#podsByNode.get(old.nodeName)
    onNode?.delete(key)
    if (onNode?.size === 0) this.#podsByNode.delete(old.nodeName)
    for (const { kind, name } of old.refs) {
      const edge = edgeKey(old.nodeName, kind, old.namespace, name)
      const n = (this.#edges.get(edge) ?? 0) - 1
      if (n > 0) this.#edges.set(edge, n)
      else this.#edges.delete(edge)
    }
  }

  /** The pods bound to a node, sorted by namespace then name. */
  podsOn(nodeName: string): BoundPod[] {
    const keys = this.#podsByNode.get(nodeName)
    if (!keys) return []
    return [...keys]
      .map((k) => this.#public(this.#pods.get(k)!))
      .sort((a, b) => (a.namespace === b.namespace ? cmp(a.name, b.name) : cmp(a.namespace, b.namespace)))
  }

  /** The pod as the graph knows it, if it is bound to a node. */
  pod(namespace: string, name: string): BoundPod | undefined {
    const entry = this.#pods.get(podKey(namespace, name))
    return entry && this.#public(entry)
  }

  /** Whether the pod is bound to this node. */
  hasPod(nodeName: string, namespace: string, name: string): boolean {
    return this.#pods.get(podKey(namespace, name))?.nodeName === nodeName
  }

  /** Whether a pod bound to the node references the object. */
  mayRead(nodeName: string, kind: NodeObjectKind, namespace: string, name: string): boolean {
    return this.#edges.has(edgeKey(nodeName, kind, namespace, name))
  }

  /** How many of the node's pods reference the object. */
  referenceCount(nodeName: string, kind: NodeObjectKind, namespace: string, name: string): number {
    return this.#edges.get(edgeKey(nodeName, kind, namespace, name)) ?? 0
  }

  /** Every edge and bound pod, sorted: two graphs fed the same live pods dump the same. */
  dump(): string[] {
    const edges = [...this.#edges].map(([k, n]) => `edge ${k} ${n}`)
    const pods = [...this.#pods.values()].map((p) => `pod ${JSON.stringify([p.nodeName, p.namespace, p.name, p.uid])} ${p.refs.map((r) => refKey(r.kind, r.name)).sort().join(' ')}`)
    const claims = [...this.#claimVolume].map(([claim, volume]) => `claim ${claim} ${volume}`)
    const local = [...this.#localVolumeNode].map(([volume, node]) => `local ${JSON.stringify([volume, node])}`)
    return [...edges, ...pods, ...claims, ...local].sort()
  }

  #public(e: PodEntry): BoundPod {
    return { namespace: e.namespace, name: e.name, uid: e.uid, nodeName: e.nodeName }
  }
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}
