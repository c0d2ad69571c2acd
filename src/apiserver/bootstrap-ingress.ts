// The Ingress controller every cluster starts with (`weft server --ingress MODE`): the
// default IngressClass `weft`, and `weft/ingress` pods in the namespace weft-ingress, either
//   - hostNetwork: a DaemonSet on every node's own network, serving ports 80 and 443 of each
//     node; Ingress statuses name the nodes' addresses; or
//   - loadBalancer: a Deployment on the pod network behind the LoadBalancer Service
//     weft-ingress (ports 80 and 443); Ingress statuses name the Service's address, which
//     `--load-balancer-pool` hands out.
import { apiSocketMount } from './bootstrap-api-socket.ts'

export type IngressMode = 'hostNetwork' | 'loadBalancer'

export const INGRESS_NAMESPACE = 'weft-ingress'
export const INGRESS_NAME = 'weft-ingress'
/** The controller's identity: bound to the ClusterRole weft:ingress by the default policy. */
export const INGRESS_SERVICE_ACCOUNT = 'weft-ingress'
export const INGRESS_CLASS = 'weft'
export const INGRESS_CONTROLLER = 'weft.dev/ingress'

export interface IngressBootstrap {
  mode: IngressMode
  /** Replicas of the loadBalancer Deployment (a DaemonSet runs one per node). */
  replicas: number
  /** The API server's unix socket (see ClusterDnsBootstrap.apiSocket). */
  apiSocket?: string
}

export interface BootstrapObject {
  kind: string
  namespace?: string
  body: Record<string, unknown>
  /** Fields set back to these values when the object already exists. */
  refresh?: string[]
}

export function ingressObjects(b: IngressBootstrap): BootstrapObject[] {
  const labels = { 'app.kubernetes.io/name': INGRESS_NAME, 'app.kubernetes.io/component': 'controller' }
  const hostNetwork = b.mode === 'hostNetwork'
  const args = [...(b.apiSocket ? ['--socket', b.apiSocket] : []), ...(hostNetwork ? [] : ['--publish-service', `${INGRESS_NAMESPACE}/${INGRESS_NAME}`])]
  const fieldEnv = (name: string, fieldPath: string) => ({ name, valueFrom: { fieldRef: { fieldPath } } })
  const podSpec = {
    serviceAccountName: INGRESS_SERVICE_ACCOUNT,
    ...(hostNetwork ? { hostNetwork: true, dnsPolicy: 'ClusterFirstWithHostNet' } : {}),
    priorityClassName: 'system-cluster-critical',
    terminationGracePeriodSeconds: 10,
    volumes: apiSocketMount(b.apiSocket).volumes,
    containers: [
      {
        name: 'controller',
        image: 'weft/ingress',
        args,
        volumeMounts: apiSocketMount(b.apiSocket).volumeMounts,
        env: [fieldEnv('POD_NAME', 'metadata.name'), fieldEnv('POD_NAMESPACE', 'metadata.namespace')],
        ports: [
          { name: 'http', containerPort: 80, protocol: 'TCP', ...(hostNetwork ? { hostPort: 80 } : {}) },
          { name: 'https', containerPort: 443, protocol: 'TCP', ...(hostNetwork ? { hostPort: 443 } : {}) },
          { name: 'metrics', containerPort: 10254, protocol: 'TCP' },
        ],
        readinessProbe: { httpGet: { path: '/readyz', port: 10254 }, periodSeconds: 2 },
        livenessProbe: { httpGet: { path: '/healthz', port: 10254 }, initialDelaySeconds: 30, timeoutSeconds: 5, failureThreshold: 5 },
      },
    ],
  }
  const template = { metadata: { labels }, spec: podSpec }
  const objects: BootstrapObject[] = [
    { kind: 'Namespace', body: { metadata: { name: INGRESS_NAMESPACE } } },
    {
      kind: 'IngressClass',
      body: { metadata: { name: INGRESS_CLASS, labels, annotations: { 'ingressclass.kubernetes.io/is-default-class': 'true' } }, spec: { controller: INGRESS_CONTROLLER } },
    },
  ]
  if (hostNetwork) {
    objects.push({
      kind: 'DaemonSet',
      namespace: INGRESS_NAMESPACE,
      body: { metadata: { name: INGRESS_NAME, labels }, spec: { selector: { matchLabels: labels }, updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1 } }, template } },
      refresh: ['spec'],
    })
  } else {
    objects.push(
      {
        kind: 'Service',
        namespace: INGRESS_NAMESPACE,
        body: {
          metadata: { name: INGRESS_NAME, labels },
          spec: {
            type: 'LoadBalancer',
            externalTrafficPolicy: 'Cluster',
            selector: labels,
            ports: [
              { name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' },
              { name: 'https', port: 443, targetPort: 'https', protocol: 'TCP' },
            ],
          },
        },
      },
      {
        kind: 'Deployment',
        namespace: INGRESS_NAMESPACE,
        body: { metadata: { name: INGRESS_NAME, labels }, spec: { replicas: b.replicas, selector: { matchLabels: labels }, strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } }, template } },
        refresh: ['spec'],
      },
    )
  }
  return objects
}
