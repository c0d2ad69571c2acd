// The Docker-link-style variables a kubelet gives every container: the `kubernetes`
// Service's always (so in-cluster clients find the API server), and with
// `enableServiceLinks` (the default) those of every Service in the pod's namespace.
import type { V1Service } from '@kubernetes/client-node'

function envName(service: string): string {
  return service.toUpperCase().replaceAll('-', '_')
}

function hostPort(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`
}

/**
 * What the kubelet keeps of a Service in its cache: the fields the link variables are made
 * of (every Service of the cluster is cached, so nothing else).
 */
export function slimLinkService(service: V1Service): V1Service {
  const m = service.metadata
  const spec = service.spec
  return {
    metadata: { name: m?.name, namespace: m?.namespace, uid: m?.uid, resourceVersion: m?.resourceVersion },
    spec: { clusterIP: spec?.clusterIP, ports: Array.isArray(spec?.ports) ? spec.ports.map((p) => (p !== null && typeof p === 'object' ? { name: p.name, port: p.port, protocol: p.protocol } : p)) : spec?.ports },
  }
}

/** One Service's variables (none for a headless or unallocated one), as upstream's makeEnvVariables. */
export function serviceVariables(service: V1Service): Record<string, string> {
  const ip = service.spec?.clusterIP
  const ports = service.spec?.ports ?? []
  if (!ip || ip === 'None' || ports.length === 0) return {}
  const name = envName(service.metadata?.name ?? '')
  const env: Record<string, string> = {}
  env[`${name}_SERVICE_HOST`] = ip
  env[`${name}_SERVICE_PORT`] = String(ports[0]!.port)
  for (const p of ports) if (p.name) env[`${name}_SERVICE_PORT_${envName(p.name)}`] = String(p.port)
  const first = ports[0]!
  env[`${name}_PORT`] = `${(first.protocol ?? 'TCP').toLowerCase()}://${hostPort(ip, first.port)}`
  for (const p of ports) {
    const proto = p.protocol ?? 'TCP'
    const prefix = `${name}_PORT_${p.port}_${proto.toUpperCase()}`
    env[prefix] = `${proto.toLowerCase()}://${hostPort(ip, p.port)}`
    env[`${prefix}_PROTO`] = proto.toLowerCase()
    env[`${prefix}_PORT`] = String(p.port)
    env[`${prefix}_ADDR`] = ip
  }
  return env
}

/**
 * The variables for a pod in `namespace`: the default namespace's `kubernetes` Service
 * always, and with `enableServiceLinks` every Service of the pod's namespace (whose
 * variables win over a same-named one, as upstream orders them).
 */
export function serviceLinkEnv(kubernetes: V1Service | undefined, inNamespace: readonly V1Service[], enableServiceLinks: boolean): Record<string, string> {
  const env: Record<string, string> = {}
  if (enableServiceLinks) for (const s of inNamespace) Object.assign(env, serviceVariables(s))
  if (kubernetes) Object.assign(env, serviceVariables(kubernetes))
  return env
}
