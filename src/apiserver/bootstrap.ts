// What every cluster has from the start: the system namespaces, the `kubernetes` Service
// (first address of the service CIDR) pointing at the API server, and cluster DNS: the
// `kube-dns` Service (tenth address) in front of a `coredns` Deployment of `weft/dns` pods,
// and optionally the Ingress controller (bootstrap-ingress.ts).
import { IMMORTAL_NAMESPACES } from './protected-objects.ts'
import { SYSTEM_PRIORITY_CLASSES } from '../api/validation/misc.ts'
import { ANN_DEFAULT_CLASS, LOCAL_PATH_CLASS, LOCAL_PATH_PROVISIONER } from '../api/storage.ts'
import { isIP } from 'node:net'
import { resources } from '../api/registry.ts'
import { isAlreadyExists } from '../util/errors.ts'
import { apiSocketMount } from './bootstrap-api-socket.ts'
import { INGRESS_NAMESPACE, INGRESS_SERVICE_ACCOUNT, ingressObjects, type IngressBootstrap } from './bootstrap-ingress.ts'
import { defaultPolicy, reconcilePolicyObject } from './bootstrap-policy.ts'
import type { ResourceHandler, WriteOptions } from './resource-handler.ts'
import type { KObject } from './objects.ts'
import { meshAuthorizationCrd } from '../../mesh/authorization.ts'


function info(kind: string) {
  return resources.find((r) => r.kind === kind)!
}

export interface ClusterDnsBootstrap {
  /** The kube-dns Service's ClusterIP: the tenth address of the service CIDR. */
  serviceIP: string
  replicas: number
  zone: string
  /**
   * The API server's unix socket. A DNS pod on any node of this host reaches the API server
   * through it, mounted as a hostPath (the agents allow their own API socket); without one
   * the pods use the in-cluster address (the `kubernetes` Service).
   */
  apiSocket?: string
}

/** The `coredns` Deployment and `kube-dns` Service, as kubeadm's CoreDNS addon names them. */
export function clusterDnsObjects(dns: ClusterDnsBootstrap): { service: Record<string, unknown>; deployment: Record<string, unknown> } {
  const labels = { 'k8s-app': 'kube-dns' }
  const args = ['--zone', dns.zone, '--nameserver-ips', dns.serviceIP, ...(dns.apiSocket ? ['--socket', dns.apiSocket] : [])]
  return {
    service: {
      metadata: { name: 'kube-dns', labels: { ...labels, 'kubernetes.io/cluster-service': 'true', 'kubernetes.io/name': 'CoreDNS' } },
      spec: {
        selector: labels,
        clusterIP: dns.serviceIP,
        ports: [
          { name: 'dns', port: 53, protocol: 'UDP', targetPort: 53 },
          { name: 'dns-tcp', port: 53, protocol: 'TCP', targetPort: 53 },
          { name: 'metrics', port: 9153, protocol: 'TCP', targetPort: 9153 },
        ],
      },
    },
    deployment: {
      metadata: { name: 'coredns', labels },
      spec: {
        replicas: dns.replicas,
        selector: { matchLabels: labels },
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1 } },
        template: {
          metadata: { labels },
          spec: {
            serviceAccountName: 'coredns',
            dnsPolicy: 'Default',
            priorityClassName: 'system-cluster-critical',
            volumes: apiSocketMount(dns.apiSocket).volumes,
            containers: [
              {
                name: 'coredns',
                image: 'weft/dns',
                args,
                volumeMounts: apiSocketMount(dns.apiSocket).volumeMounts,
                ports: [
                  { name: 'dns', containerPort: 53, protocol: 'UDP' },
                  { name: 'dns-tcp', containerPort: 53, protocol: 'TCP' },
                  { name: 'metrics', containerPort: 9153, protocol: 'TCP' },
                ],
                livenessProbe: { httpGet: { path: '/health', port: 8080 }, initialDelaySeconds: 60, timeoutSeconds: 5, failureThreshold: 5 },
                readinessProbe: { httpGet: { path: '/ready', port: 8181 }, periodSeconds: 2 },
              },
            ],
          },
        },
      },
    },
  }
}

export async function bootstrap(handler: ResourceHandler, apiHost: string, apiPort: number, firstServiceIP: string, dns?: ClusterDnsBootstrap, ingress?: IngressBootstrap): Promise<void> {
  const opts = (): WriteOptions => ({
    query: new URLSearchParams({ fieldManager: 'weft-apiserver' }),
    identity: { user: 'system:apiserver', groups: ['system:masters'], userAgent: 'weft-apiserver' },
    warnings: [],
  })
  /**
   * Creates the object; if it exists, `refresh` either names fields to set to the wanted
   * values or says how to bring the current object up to date (undefined: leave it).
   */
  const ensure = async (kind: string, namespace: string | undefined, body: Record<string, unknown>, refresh: string[] | ((current: KObject) => KObject | undefined) = []) => {
    const i = info(kind)
    try {
      await handler.create({ kind: 'resource', info: i, namespace, name: undefined, subresource: undefined, verb: 'create' }, structuredClone(body), opts())
    } catch (err) {
      if (!isAlreadyExists(err)) throw err
      if (Array.isArray(refresh) && refresh.length === 0) return
      const name = (body.metadata as { name: string }).name
      await handler.guaranteedUpdate({ kind: 'resource', info: i, namespace, name, subresource: undefined, verb: 'update' }, opts(), undefined, (current) => {
        if (!Array.isArray(refresh)) return refresh(current) ?? current
        for (const field of refresh) current[field] = structuredClone(body[field])
        return current
      })
    }
  }
  for (const name of IMMORTAL_NAMESPACES) await ensure('Namespace', undefined, { metadata: { name } })
  const namespaces = new Set(IMMORTAL_NAMESPACES)
  if (ingress) namespaces.add(INGRESS_NAMESPACE)
  if (ingress) await ensure('Namespace', undefined, { metadata: { name: INGRESS_NAMESPACE } })
  for (const p of defaultPolicy()) {
    if (p.namespace && !namespaces.has(p.namespace)) continue
    await ensure(p.kind, p.namespace, p.body, (current) => reconcilePolicyObject(p.body, current))
  }
  for (const pc of SYSTEM_PRIORITY_CLASSES) await ensure('PriorityClass', undefined, { metadata: { name: pc.name }, value: pc.value, description: pc.description, preemptionPolicy: 'PreemptLowerPriority' })
  // As k3s ships local-path: the default class, made again at start if it was deleted (once it exists, its settings are the user's).
  await ensure('StorageClass', undefined, {
    metadata: { name: LOCAL_PATH_CLASS, annotations: { [ANN_DEFAULT_CLASS]: 'true' } },
    provisioner: LOCAL_PATH_PROVISIONER,
    reclaimPolicy: 'Delete',
    volumeBindingMode: 'WaitForFirstConsumer',
  })
  // The mesh's policy kind, as an installer ships its CRDs (kept up to date at every start).
  await ensure('CustomResourceDefinition', undefined, meshAuthorizationCrd(), ['spec'])
  await ensure('ServiceAccount', 'kube-system', { metadata: { name: 'coredns' } })
  if (ingress) await ensure('ServiceAccount', INGRESS_NAMESPACE, { metadata: { name: INGRESS_SERVICE_ACCOUNT } })
  await ensure('Service', 'default', {
    metadata: { name: 'kubernetes', labels: { component: 'apiserver', provider: 'kubernetes' } },
    spec: { clusterIP: firstServiceIP, ports: [{ name: 'https', port: 443, protocol: 'TCP', targetPort: apiPort }] },
  })
  if (dns && dns.replicas > 0) {
    const { service, deployment } = clusterDnsObjects(dns)
    await ensure('Service', 'kube-system', service)
    await ensure('Deployment', 'kube-system', deployment, ['spec'])
  }
  if (ingress) for (const o of ingressObjects(ingress)) await ensure(o.kind, o.namespace, o.body, o.refresh)
  const family = isIP(apiHost)
  if (family === 0 || apiHost === '0.0.0.0' || apiHost === '::') return
  await ensure('Endpoints', 'default', {
    metadata: { name: 'kubernetes', labels: { 'endpointslice.kubernetes.io/skip-mirror': 'true' } },
    subsets: [{ addresses: [{ ip: apiHost }], ports: [{ name: 'https', port: apiPort, protocol: 'TCP' }] }],
  }, ['subsets'])
  await ensure('EndpointSlice', 'default', {
    metadata: { name: 'kubernetes', labels: { 'kubernetes.io/service-name': 'kubernetes' } },
    addressType: family === 6 ? 'IPv6' : 'IPv4',
    endpoints: [{ addresses: [apiHost], conditions: { ready: true } }],
    ports: [{ name: 'https', port: apiPort, protocol: 'TCP' }],
  }, ['endpoints', 'ports'])
}
