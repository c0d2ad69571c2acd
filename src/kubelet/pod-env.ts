// A container's environment, as the kubelet computes it (pkg/kubelet/kubelet_pods.go
// makeEnvironmentVariables): envFrom sources, then env entries in order (values expanded against
// the variables before them and the service variables), then the service variables not already
// set. Also the downward API field and resource values shared with downwardAPI volumes.
import type { V1Container, V1ConfigMap, V1ObjectFieldSelector, V1Pod, V1ResourceFieldSelector, V1Secret } from '@kubernetes/client-node'
import { parseQuantityMilli, parseQuantityValue } from '../api/quantity.ts'

export interface ObjectLookups {
  configMap(namespace: string, name: string): V1ConfigMap | undefined
  secret(namespace: string, name: string): V1Secret | undefined
}

export interface EnvExtra {
  podIP?: string
  podIPs?: string[]
  hostIP?: string
  hostIPs?: string[]
  nodeName?: string
  /** Service link variables (FOO_SERVICE_HOST, ...), lowest precedence. */
  serviceEnv?: Record<string, string>
  /** Used for limits.* when the container sets no limit, as the kubelet does. */
  nodeAllocatable?: Record<string, string>
}

/** Failures the kubelet reports as the container's `CreateContainerConfigError`. */
export interface EnvError {
  error: string
  reason: 'CreateContainerConfigError'
}

export type EnvResult = { env: Record<string, string> } | EnvError

function fail(error: string): EnvError {
  return { error, reason: 'CreateContainerConfigError' }
}

// Kubernetes ≥1.32 accepts any printable ASCII except '=' (RelaxedEnvironmentVariableValidation).
const envVarName = /^[\x20-\x3c\x3e-\x7e]+$/

/**
 * Kubernetes `$(VAR)` expansion (third_party/forked/golang/expansion): `$(NAME)` becomes the
 * variable's value, or stays as written when NAME is unknown; `$$` is a literal `$`.
 */
export function expand(input: string, lookup: (name: string) => string | undefined): string {
  if (!input.includes('$')) return input
  let out = ''
  let i = 0
  while (i < input.length) {
    const ch = input[i]
    if (ch !== '$' || i + 1 >= input.length) {
      out += ch
      i++
      continue
    }
    const next = input[i + 1]
    if (next === '$') {
      out += '$'
      i += 2
    } else if (next === '(') {
      const close = input.indexOf(')', i + 2)
      if (close === -1) {
        out += '$('
        i += 2
      } else {
        const name = input.slice(i + 2, close)
        out += lookup(name) ?? `$(${name})`
        i = close + 1
      }
    } else {
      out += '$' + next
      i += 2
    }
  }
  return out
}

/** `$(VAR)` expansion of a container's command or args against its final environment. */
export function expandCommand(argv: readonly string[], env: Record<string, string>): string[] {
  const lookup = (name: string): string | undefined => (Object.hasOwn(env, name) ? env[name] : undefined)
  return argv.map((arg) => expand(arg, lookup))
}

export function decodeSecretData(secret: V1Secret): Record<string, Buffer> {
  const out: Record<string, Buffer> = {}
  for (const [k, v] of Object.entries(secret.data ?? {})) out[k] = Buffer.from(v, 'base64')
  for (const [k, v] of Object.entries(secret.stringData ?? {})) out[k] = Buffer.from(v)
  return out
}

/** Go's fieldpath.FormatMap: sorted `key="value"` lines. */
function formatMap(map: Record<string, string> | undefined): string {
  return Object.keys(map ?? {})
    .sort()
    .map((k) => `${k}=${JSON.stringify(map?.[k])}`)
    .join('\n')
}

/** The value of a downward API fieldRef. `status.*` and `spec.*` paths exist only for env vars. */
export function fieldRefValue(pod: V1Pod, ref: V1ObjectFieldSelector, extra: EnvExtra, forEnv: boolean): { value: string } | { error: string } {
  const path = ref.fieldPath
  const meta = pod.metadata ?? {}
  if (forEnv) {
    switch (path) {
      case 'spec.nodeName':
        return { value: pod.spec?.nodeName || extra.nodeName || '' }
      case 'spec.serviceAccountName':
        return { value: pod.spec?.serviceAccountName ?? '' }
      case 'status.podIP':
        return { value: extra.podIP ?? extra.podIPs?.[0] ?? pod.status?.podIP ?? '' }
      case 'status.podIPs':
        return { value: (extra.podIPs ?? (extra.podIP ? [extra.podIP] : (pod.status?.podIPs ?? []).map((p) => p.ip))).join(',') }
      case 'status.hostIP':
        return { value: extra.hostIP ?? extra.hostIPs?.[0] ?? pod.status?.hostIP ?? '' }
      case 'status.hostIPs':
        return { value: (extra.hostIPs ?? (extra.hostIP ? [extra.hostIP] : (pod.status?.hostIPs ?? []).map((p) => p.ip))).join(',') }
    }
  }
  const sub = /^(.+)\['(.*)'\]$/s.exec(path)
  if (sub) {
    if (sub[1] === 'metadata.annotations') return { value: meta.annotations?.[sub[2]] ?? '' }
    if (sub[1] === 'metadata.labels') return { value: meta.labels?.[sub[2]] ?? '' }
    return { error: `unsupported fieldPath: ${path}` }
  }
  switch (path) {
    case 'metadata.annotations':
      return { value: formatMap(meta.annotations) }
    case 'metadata.labels':
      return { value: formatMap(meta.labels) }
    case 'metadata.name':
      return { value: meta.name ?? '' }
    case 'metadata.namespace':
      return { value: meta.namespace ?? '' }
    case 'metadata.uid':
      return { value: meta.uid ?? '' }
  }
  return { error: `unsupported fieldPath: ${path}` }
}

/** The value of a downward API resourceFieldRef (ceil(quantity / divisor), cpu in millicores). */
export function resourceFieldValue(container: V1Container, ref: V1ResourceFieldSelector, extra: EnvExtra): { value: string } | { error: string } {
  const m = /^(limits|requests)\.(.+)$/.exec(ref.resource)
  const resource = m?.[2] ?? ''
  if (!m || !(resource === 'cpu' || resource === 'memory' || resource === 'ephemeral-storage' || resource.startsWith('hugepages-'))) {
    return { error: `unsupported container resource : ${ref.resource}` }
  }
  const limits = container.resources?.limits ?? {}
  const requests = container.resources?.requests ?? {}
  const quantity = m[1] === 'limits' ? (limits[resource] ?? extra.nodeAllocatable?.[resource]) : (requests[resource] ?? limits[resource])
  const divisor = ref.divisor === undefined || ref.divisor === '' || ref.divisor === '0' ? '1' : ref.divisor
  try {
    if (quantity === undefined) return { value: '0' }
    const ratio = resource === 'cpu' ? parseQuantityMilli(quantity) / parseQuantityMilli(divisor) : parseQuantityValue(quantity) / parseQuantityValue(divisor)
    return { value: String(Math.ceil(ratio)) }
  } catch (err) {
    return { error: `resource ${ref.resource}: ${(err as Error).message}` }
  }
}

export function resolveEnv(pod: V1Pod, container: V1Container, lookups: ObjectLookups, extra: EnvExtra): EnvResult {
  const ns = pod.metadata?.namespace ?? 'default'
  const serviceEnv = extra.serviceEnv ?? {}
  const env: Record<string, string> = {}
  const configMaps = new Map<string, V1ConfigMap | undefined>()
  const secrets = new Map<string, Record<string, Buffer> | undefined>()
  const configMap = (name: string): V1ConfigMap | undefined => {
    if (!configMaps.has(name)) configMaps.set(name, lookups.configMap(ns, name))
    return configMaps.get(name)
  }
  const secret = (name: string): Record<string, Buffer> | undefined => {
    if (!secrets.has(name)) {
      const s = lookups.secret(ns, name)
      secrets.set(name, s && decodeSecretData(s))
    }
    return secrets.get(name)
  }

  for (const from of container.envFrom ?? []) {
    const prefix = from.prefix ?? ''
    if (from.configMapRef) {
      const name = from.configMapRef.name ?? ''
      const cm = configMap(name)
      if (!cm) {
        if (from.configMapRef.optional) continue
        return fail(`configmap ${JSON.stringify(name)} not found`)
      }
      for (const [k, v] of Object.entries(cm.data ?? {})) if (envVarName.test(prefix + k)) env[prefix + k] = v
    } else if (from.secretRef) {
      const name = from.secretRef.name ?? ''
      const data = secret(name)
      if (!data) {
        if (from.secretRef.optional) continue
        return fail(`secret ${JSON.stringify(name)} not found`)
      }
      for (const [k, v] of Object.entries(data)) if (envVarName.test(prefix + k)) env[prefix + k] = v.toString()
    }
  }

  const lookup = (name: string): string | undefined =>
    Object.hasOwn(env, name) ? env[name] : Object.hasOwn(serviceEnv, name) ? serviceEnv[name] : undefined
  for (const v of container.env ?? []) {
    let value = v.value ?? ''
    if (value !== '') {
      value = expand(value, lookup)
    } else if (v.valueFrom) {
      const from = v.valueFrom
      if (from.fieldRef) {
        const r = fieldRefValue(pod, from.fieldRef, extra, true)
        if ('error' in r) return fail(r.error)
        value = r.value
      } else if (from.resourceFieldRef) {
        const target = from.resourceFieldRef.containerName
          ? pod.spec?.containers.find((c) => c.name === from.resourceFieldRef?.containerName)
          : container
        if (!target) return fail(`container ${JSON.stringify(from.resourceFieldRef.containerName)} not found in pod`)
        const r = resourceFieldValue(target, from.resourceFieldRef, extra)
        if ('error' in r) return fail(r.error)
        value = r.value
      } else if (from.configMapKeyRef) {
        const { name = '', key, optional } = from.configMapKeyRef
        const cm = configMap(name)
        if (!cm) {
          if (optional) continue
          return fail(`configmap ${JSON.stringify(name)} not found`)
        }
        if (!Object.hasOwn(cm.data ?? {}, key)) {
          if (optional) continue
          return fail(`couldn't find key ${key} in ConfigMap ${ns}/${name}`)
        }
        value = cm.data?.[key] ?? ''
      } else if (from.secretKeyRef) {
        const { name = '', key, optional } = from.secretKeyRef
        const data = secret(name)
        if (!data) {
          if (optional) continue
          return fail(`secret ${JSON.stringify(name)} not found`)
        }
        if (!Object.hasOwn(data, key)) {
          if (optional) continue
          return fail(`couldn't find key ${key} in Secret ${ns}/${name}`)
        }
        value = data[key].toString()
      }
    }
    env[v.name] = value
  }

  for (const [k, v] of Object.entries(serviceEnv)) if (!Object.hasOwn(env, k)) env[k] = v
  return { env }
}
