// The ConfigMaps and Secrets a pod refers to, fetched before its containers start so the
// pure env and volume functions can read them.
import type { V1ConfigMap, V1PersistentVolume, V1PersistentVolumeClaim, V1Pod, V1Secret } from '@kubernetes/client-node'
import { resources } from '../api/registry.ts'
import type { RestClient } from '../client/index.ts'
import { ApiError } from '../util/errors.ts'
import { podContainers } from './pod-state.ts'
import type { TokenManager } from './token-manager.ts'
import type { VolumeLookups } from './volume-files.ts'
import { podClaimNames, type ClaimObjects } from './claim-volumes.ts'

const configMapInfo = resources.find((r) => r.kind === 'ConfigMap')!
const secretInfo = resources.find((r) => r.kind === 'Secret')!
const claimInfo = resources.find((r) => r.kind === 'PersistentVolumeClaim')!
const volumeInfo = resources.find((r) => r.kind === 'PersistentVolume')!

/** What a pod's objects are read for: its containers' environment and its volumes, or (`volumes`) a volume refresh. */
export type ObjectUse = 'all' | 'volumes'

/** The ConfigMaps and Secrets the pod refers to (with `volumes`: those its volumes refer to). */
export function referencedObjects(pod: V1Pod, use: ObjectUse = 'all'): { configMaps: Set<string>; secrets: Set<string> } {
  const configMaps = new Set<string>()
  const secrets = new Set<string>()
  const containers = use === 'all' ? podContainers(pod.spec) : []
  for (const c of containers) {
    for (const from of c.envFrom ?? []) {
      if (from.configMapRef?.name) configMaps.add(from.configMapRef.name)
      if (from.secretRef?.name) secrets.add(from.secretRef.name)
    }
    for (const e of c.env ?? []) {
      if (e.valueFrom?.configMapKeyRef?.name) configMaps.add(e.valueFrom.configMapKeyRef.name)
      if (e.valueFrom?.secretKeyRef?.name) secrets.add(e.valueFrom.secretKeyRef.name)
    }
  }
  for (const v of pod.spec?.volumes ?? []) {
    if (v.configMap?.name) configMaps.add(v.configMap.name)
    if (v.secret?.secretName) secrets.add(v.secret.secretName)
    for (const s of v.projected?.sources ?? []) {
      if (s.configMap?.name) configMaps.add(s.configMap.name)
      if (s.secret?.name) secrets.add(s.secret.name)
    }
  }
  return { configMaps, secrets }
}

async function getOrUndefined<T>(fetch: () => Promise<T>): Promise<T | undefined> {
  try {
    return await fetch()
  } catch (err) {
    if (err instanceof ApiError && err.code === 404) return undefined
    throw err
  }
}

function tokenKey(serviceAccount: string, audience: string | undefined, expirationSeconds: number): string {
  return JSON.stringify([serviceAccount, audience ?? '', expirationSeconds])
}

/**
 * Reads the objects the pod refers to (see referencedObjects), a missing one reading as
 * undefined, and the service-account tokens its projected volumes hold (from `tokens`).
 */
export async function fetchPodObjects(client: RestClient, pod: V1Pod, use: ObjectUse = 'all', tokens?: TokenManager): Promise<VolumeLookups> {
  const ns = pod.metadata?.namespace ?? 'default'
  const { configMaps, secrets } = referencedObjects(pod, use)
  const cms = new Map<string, V1ConfigMap | undefined>()
  const secs = new Map<string, V1Secret | undefined>()
  const held = new Map<string, string>()
  const account = pod.spec?.serviceAccountName || 'default'
  const tokenSources = tokens ? (pod.spec?.volumes ?? []).flatMap((v) => (v.projected?.sources ?? []).flatMap((s) => (s.serviceAccountToken ? [s.serviceAccountToken] : []))) : []
  await Promise.all([
    ...[...configMaps].map(async (name) => cms.set(name, await getOrUndefined(() => client.get<V1ConfigMap>(configMapInfo, name, ns)))),
    ...[...secrets].map(async (name) => secs.set(name, await getOrUndefined(() => client.get<V1Secret>(secretInfo, name, ns)))),
    ...tokenSources.map(async (s) => {
      const seconds = s.expirationSeconds ?? 3600
      held.set(tokenKey(account, s.audience, seconds), await tokens!.token(pod, account, s.audience, seconds))
    }),
  ])
  return {
    configMap: (namespace, name) => (namespace === ns ? cms.get(name) : undefined),
    secret: (namespace, name) => (namespace === ns ? secs.get(name) : undefined),
    serviceAccountToken: (namespace, name, audience, seconds) => (namespace === ns ? held.get(tokenKey(name, audience, seconds)) : undefined),
  }
}

/** The pod's claims and the volumes they are bound to (as the node authorizer lets a node read them), a missing one reading as undefined. */
export async function fetchClaimObjects(client: RestClient, pod: V1Pod): Promise<ClaimObjects> {
  const ns = pod.metadata?.namespace ?? 'default'
  const claims = new Map<string, V1PersistentVolumeClaim | undefined>()
  const volumes = new Map<string, V1PersistentVolume | undefined>()
  await Promise.all(
    [...new Set(podClaimNames(pod))].map(async (name) => {
      const pvc = await getOrUndefined(() => client.get<V1PersistentVolumeClaim>(claimInfo, name, ns))
      claims.set(name, pvc)
      const pvName = pvc?.status?.phase === 'Bound' ? pvc.spec?.volumeName : undefined
      if (pvName) volumes.set(pvName, await getOrUndefined(() => client.get<V1PersistentVolume>(volumeInfo, pvName)))
    }),
  )
  return { claim: (name) => claims.get(name), volume: (name) => volumes.get(name) }
}
