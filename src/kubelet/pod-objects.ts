// The ConfigMaps and Secrets a pod refers to, fetched before its containers start so the
// pure env and volume functions can read them.
import type { V1ConfigMap, V1Pod, V1Secret } from '@kubernetes/client-node'
import { resources } from '../api/registry.ts'
import type { RestClient } from '../client/index.ts'
import { ApiError } from '../util/errors.ts'
import type { ObjectLookups } from './pod-env.ts'

const configMapInfo = resources.find((r) => r.kind === 'ConfigMap')!
const secretInfo = resources.find((r) => r.kind === 'Secret')!

/** What a pod's objects are read for: its containers' environment and its volumes, or (`volumes`) a volume refresh. */
export type ObjectUse = 'all' | 'volumes'

/** The ConfigMaps and Secrets the pod refers to (with `volumes`: those its volumes refer to). */
export function referencedObjects(pod: V1Pod, use: ObjectUse = 'all'): { configMaps: Set<string>; secrets: Set<string> } {
  const configMaps = new Set<string>()
  const secrets = new Set<string>()
  const containers = use === 'all' ? [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])] : []
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

/** Reads the objects the pod refers to (see referencedObjects); a missing one reads as undefined. */
export async function fetchPodObjects(client: RestClient, pod: V1Pod, use: ObjectUse = 'all'): Promise<ObjectLookups> {
  const ns = pod.metadata?.namespace ?? 'default'
  const { configMaps, secrets } = referencedObjects(pod, use)
  const cms = new Map<string, V1ConfigMap | undefined>()
  const secs = new Map<string, V1Secret | undefined>()
  await Promise.all([
    ...[...configMaps].map(async (name) => cms.set(name, await getOrUndefined(() => client.get<V1ConfigMap>(configMapInfo, name, ns)))),
    ...[...secrets].map(async (name) => secs.set(name, await getOrUndefined(() => client.get<V1Secret>(secretInfo, name, ns)))),
  ])
  return {
    configMap: (namespace, name) => (namespace === ns ? cms.get(name) : undefined),
    secret: (namespace, name) => (namespace === ns ? secs.get(name) : undefined),
  }
}
