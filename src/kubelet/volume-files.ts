// The files of a pod volume, as the kubelet's configMap, secret, downwardAPI and projected volume
// plugins write them (payload building and path validation of pkg/volume/util atomic_writer.go).
// Writing them is the caller's job; emptyDir is an empty directory, hostPath a bind of a host
// path, and a persistentVolumeClaim the bind of its volume's path (claim-volumes.ts).
//
// File modes are the pod's: an item's `mode`, else the volume's `defaultMode` (which the API
// server sets to 0644 for configMap and secret volumes, as upstream does). Where the pod gives
// none — a projected or downwardAPI volume stored without defaults, or a secret volume from a
// server that does not default — secret and service account token files are 0600 and the
// rest 0644. Confidentiality does not rest on file modes: secret, projected and downwardAPI
// volumes are kept in memory (`memory`, a tmpfs of their own) in 0700 directories of a 0700
// pod directory, so no other user of the node reaches them whatever their mode.
import type { V1ConfigMap, V1DownwardAPIVolumeFile, V1KeyToPath, V1Pod, V1Volume } from '@kubernetes/client-node'
import { posix } from 'node:path'
import { decodeSecretData, fieldRefValue, resourceFieldValue, type EnvExtra, type ObjectLookups } from './pod-env.ts'
import { validateVolumePath } from './runtime/atomic-writer.ts'

export interface VolumeFile {
  /** Relative to the volume's directory; may contain `/`. */
  path: string
  data: Buffer
  mode: number
}

export interface VolumeLookups extends ObjectLookups {
  /** A token for a projected serviceAccountToken source; without it such volumes are an error. */
  serviceAccountToken?(namespace: string, serviceAccountName: string, audience: string | undefined, expirationSeconds: number): string | undefined
}

/** `memory`: kept on a tmpfs, as the kubelet keeps secret, downwardAPI and projected volumes. */
export type VolumeFilesResult = { files: VolumeFile[]; memory?: boolean } | { hostPath: string } | { error: string }

export const defaultFileMode = 0o644
/** Secret and token files when the pod sets no mode. */
export const defaultSecretFileMode = 0o600
export const supportedVolumeTypes = ['configMap', 'secret', 'downwardAPI', 'projected', 'emptyDir', 'hostPath', 'persistentVolumeClaim'] as const

type Payload = Map<string, { data: Buffer; mode: number }>
type Step = { error: string } | undefined

function keyedPayload(
  payload: Payload,
  data: Record<string, Buffer>,
  items: readonly V1KeyToPath[] | undefined,
  mode: number,
  optional: boolean,
  missingKey: (key: string) => string,
): Step {
  if (!items || items.length === 0) {
    for (const [key, value] of Object.entries(data)) payload.set(key, { data: value, mode })
    return undefined
  }
  for (const item of items) {
    if (!Object.hasOwn(data, item.key)) {
      if (optional) continue
      return { error: missingKey(item.key) }
    }
    payload.set(item.path, { data: data[item.key], mode: item.mode ?? mode })
  }
  return undefined
}

function configMapData(cm: V1ConfigMap): Record<string, Buffer> {
  const out: Record<string, Buffer> = {}
  for (const [k, v] of Object.entries(cm.data ?? {})) out[k] = Buffer.from(v)
  for (const [k, v] of Object.entries(cm.binaryData ?? {})) out[k] = Buffer.from(v, 'base64')
  return out
}

function configMapPayload(payload: Payload, ns: string, name: string, items: V1KeyToPath[] | undefined, mode: number, optional: boolean, lookups: ObjectLookups): Step {
  const cm = lookups.configMap(ns, name)
  if (!cm) return optional ? undefined : { error: `configmap ${JSON.stringify(name)} not found` }
  return keyedPayload(payload, configMapData(cm), items, mode, optional, (k) => `configmap references non-existent config key: ${k}`)
}

function secretPayload(payload: Payload, ns: string, name: string, items: V1KeyToPath[] | undefined, mode: number, optional: boolean, lookups: ObjectLookups): Step {
  const secret = lookups.secret(ns, name)
  if (!secret) return optional ? undefined : { error: `secret ${JSON.stringify(name)} not found` }
  return keyedPayload(payload, decodeSecretData(secret), items, mode, optional, (k) => `references non-existent secret key: ${k}`)
}

function downwardPayload(payload: Payload, pod: V1Pod, items: readonly V1DownwardAPIVolumeFile[], mode: number, extra: EnvExtra): Step {
  for (const item of items) {
    let value: { value: string } | { error: string } = { value: '' }
    if (item.fieldRef) value = fieldRefValue(pod, item.fieldRef, extra, false)
    else if (item.resourceFieldRef) {
      const name = item.resourceFieldRef.containerName
      const container = pod.spec?.containers.find((c) => c.name === name)
      if (!container) return { error: `downwardAPI ${item.path}: container ${JSON.stringify(name ?? '')} not found in pod` }
      value = resourceFieldValue(container, item.resourceFieldRef, extra)
    }
    if ('error' in value) return { error: value.error }
    payload.set(item.path, { data: Buffer.from(value.value), mode: item.mode ?? mode })
  }
  return undefined
}

function projectedPayload(payload: Payload, pod: V1Pod, volume: V1Volume, lookups: VolumeLookups, extra: EnvExtra): Step {
  const ns = pod.metadata?.namespace ?? 'default'
  const mode = volume.projected?.defaultMode
  for (const source of volume.projected?.sources ?? []) {
    let step: Step
    if (source.configMap) {
      const s = source.configMap
      step = configMapPayload(payload, ns, s.name ?? '', s.items, mode ?? defaultFileMode, s.optional ?? false, lookups)
    } else if (source.secret) {
      const s = source.secret
      step = secretPayload(payload, ns, s.name ?? '', s.items, mode ?? defaultSecretFileMode, s.optional ?? false, lookups)
    } else if (source.downwardAPI) {
      step = downwardPayload(payload, pod, source.downwardAPI.items ?? [], mode ?? defaultFileMode, extra)
    } else if (source.serviceAccountToken) {
      const s = source.serviceAccountToken
      const token = lookups.serviceAccountToken?.(ns, pod.spec?.serviceAccountName || 'default', s.audience, s.expirationSeconds ?? 3600)
      if (token === undefined) return { error: `volume ${JSON.stringify(volume.name)}: weft cannot issue service account tokens for projected volumes` }
      payload.set(s.path, { data: Buffer.from(token), mode: mode ?? defaultSecretFileMode })
    } else {
      return { error: `volume ${JSON.stringify(volume.name)}: weft does not support this projected volume source (${Object.keys(source).join(', ')})` }
    }
    if (step) return step
  }
  return undefined
}

export function volumeFiles(pod: V1Pod, volume: V1Volume, lookups: VolumeLookups, extra: EnvExtra = {}): VolumeFilesResult {
  const ns = pod.metadata?.namespace ?? 'default'
  const payload: Payload = new Map()
  let step: Step
  if (volume.emptyDir) return { files: [] }
  if (volume.hostPath) return { hostPath: volume.hostPath.path }
  if (volume.persistentVolumeClaim) return { error: `volume ${JSON.stringify(volume.name)}: a persistentVolumeClaim volume is mounted from the volume it is bound to (claim-volumes.ts), not written` }
  if (volume.configMap) {
    const v = volume.configMap
    step = configMapPayload(payload, ns, v.name ?? '', v.items, v.defaultMode ?? defaultFileMode, v.optional ?? false, lookups)
  } else if (volume.secret) {
    const v = volume.secret
    step = secretPayload(payload, ns, v.secretName ?? '', v.items, v.defaultMode ?? defaultSecretFileMode, v.optional ?? false, lookups)
  } else if (volume.downwardAPI) {
    step = downwardPayload(payload, pod, volume.downwardAPI.items ?? [], volume.downwardAPI.defaultMode ?? defaultFileMode, extra)
  } else if (volume.projected) {
    step = projectedPayload(payload, pod, volume, lookups, extra)
  } else {
    const kind = Object.keys(volume).find((k) => k !== 'name') ?? 'unknown'
    return { error: `volume ${JSON.stringify(volume.name)}: weft does not support ${kind} volumes (weft has no container engine or storage drivers; supported: ${supportedVolumeTypes.join(', ')})` }
  }
  if (step) return step

  const files: VolumeFile[] = []
  for (const [path, { data, mode }] of payload) {
    // As upstream: the path as the pod gives it must pass, and is written cleaned (`a//b` is `a/b`).
    const invalid = validateVolumePath(path)
    if (invalid) return { error: `volume ${JSON.stringify(volume.name)}: ${invalid}` }
    files.push({ path: posix.normalize(path), data, mode })
  }
  return { files, ...(volume.configMap ? {} : { memory: true }) }
}
