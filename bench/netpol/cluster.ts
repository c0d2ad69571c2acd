// The cluster the NetworkPolicy bench programs: ~50 application namespaces (plus kube-system,
// monitoring and ingress-nginx), pods on the measured node and on other nodes, and NetworkPolicies
// of the shapes clusters carry: per namespace a default deny, allow-same-namespace, Prometheus
// scrapes on a named port, DNS egress, ingress-controller access, app-to-app rules with pod
// selectors, namespace selectors (matchLabels and matchExpressions), ipBlocks with holes, port
// ranges (endPort) and named ports on both ingress and egress. Odd namespaces lock egress down
// (default-deny egress + DNS); even ones block only the metadata address.
//
// The real pods (topology.ts) live in ns-00 (targets, bulk receiver) and ns-01 (clients, bulk
// sender) among the synthetic ones and are selected by the same generated policies; a few
// standing policies let the flows the bench measures through, and `probeAllow` is the policy
// the bench creates, updates and deletes. Everything is created through the API.
import type { V1Namespace, V1NetworkPolicy, V1NetworkPolicySpec, V1Pod } from '@kubernetes/client-node'
import { resources } from '../../src/api/registry.ts'
import type { RestClient } from '../../src/client/index.ts'
import { closedLoop } from '../lib/load.ts'
import { HTTP_PORT, IPERF_PORT, PROBE_PORT, REAL_PODS, type RealPod } from './topology.ts'

export const info = (kind: string) => resources.find((r) => r.kind === kind)!
export const podInfo = info('Pod')
export const policyInfo = info('NetworkPolicy')
export const namespaceInfo = info('Namespace')

export const MEASURED_NODE = 'bench-node'
export const REMOTE_NODES = 9
const ENVS = ['prod', 'staging', 'dev'] as const
const APPS = 8

export function nsName(k: number): string {
  return `ns-${String(k).padStart(2, '0')}`
}

export interface ClusterShape {
  namespaces: number
  /** NetworkPolicies in all (standing ones included; the measured one comes on top). */
  policies: number
  /** Pods on the measured node (the real ones included). */
  localPods: number
  /** Pods on the other nodes (peers only). */
  remotePods: number
}

export interface Cluster {
  namespaces: V1Namespace[]
  /** Every pod with its status (podIPs, Running, Ready); `create` sends it without status first. */
  pods: V1Pod[]
  policies: V1NetworkPolicy[]
  /** How many policies of each kind, for the README/results. */
  mix: Map<string, number>
}

function namespace(name: string, labels: Record<string, string> = {}): V1Namespace {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels: { 'kubernetes.io/metadata.name': name, ...labels } } }
}

type Port = { name: string; containerPort: number; protocol?: 'TCP' | 'UDP' }

export function podObject(ns: string, name: string, node: string, ip: string | undefined, labels: Record<string, string>, ports: Port[]): V1Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: ns, labels },
    spec: { nodeName: node, containers: [{ name: 'app', image: 'registry.example.com/bench/app:1', ports: ports.map((p) => ({ protocol: 'TCP', ...p })) }] },
    ...(ip ? { status: readyStatus(ip) } : {}),
  }
}

export function readyStatus(ip: string): NonNullable<V1Pod['status']> {
  const now = new Date()
  return {
    phase: 'Running',
    podIP: ip,
    podIPs: [{ ip }],
    hostIP: '192.168.0.10',
    conditions: [
      { type: 'Initialized', status: 'True', lastTransitionTime: now },
      { type: 'ContainersReady', status: 'True', lastTransitionTime: now },
      { type: 'Ready', status: 'True', lastTransitionTime: now },
    ],
  }
}

/** The spec as the API writes it (`from`, which the client library's type calls `_from`). */
function policy(ns: string, name: string, spec: Record<string, unknown>): V1NetworkPolicy {
  return { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { namespace: ns, name }, spec: spec as V1NetworkPolicySpec }
}

const nsSel = (name: string) => ({ matchLabels: { 'kubernetes.io/metadata.name': name } })
const app = (a: string) => ({ matchLabels: { app: a } })

function appPorts(j: number): Port[] {
  const ports: Port[] = [
    { name: 'http', containerPort: 8080 },
    { name: 'metrics', containerPort: 9090 },
  ]
  if (j === 1 || j === 5) ports.push({ name: 'grpc', containerPort: 50051 })
  if (j === 3) ports.push({ name: 'postgres', containerPort: 5432 })
  if (j === 7) ports.push({ name: 'statsd', containerPort: 8125, protocol: 'UDP' })
  return ports
}

const TIERS = ['frontend', 'api', 'api', 'db', 'backend', 'backend', 'frontend', 'worker']

/** The policies of namespace k, in the order they are taken (the first `per` of them). */
function namespacePolicies(k: number, namespaces: number): [string, V1NetworkPolicy][] {
  const ns = nsName(k)
  const team = `team-${k % 10}`
  const other = nsName((k + 7) % namespaces)
  const locked = k % 2 === 1
  const out: [string, V1NetworkPolicy][] = [
    ['default deny ingress', policy(ns, 'default-deny-ingress', { podSelector: {}, policyTypes: ['Ingress'] })],
    ['allow same namespace (pod selector {})', policy(ns, 'allow-same-namespace', { podSelector: {}, ingress: [{ from: [{ podSelector: {} }] }] })],
    [
      'monitoring scrape (namespace + pod selector, named port)',
      policy(ns, 'allow-prometheus', { podSelector: {}, ingress: [{ from: [{ namespaceSelector: nsSel('monitoring'), podSelector: app('prometheus') }], ports: [{ port: 'metrics' }] }] }),
    ],
    locked
      ? ['default deny egress', policy(ns, 'default-deny-egress', { podSelector: {}, policyTypes: ['Egress'] })]
      : [
          'egress anywhere but metadata (ipBlock with except)',
          policy(ns, 'deny-metadata', { podSelector: {}, policyTypes: ['Egress'], egress: [{ to: [{ ipBlock: { cidr: '0.0.0.0/0', except: ['169.254.169.254/32'] } }] }] }),
        ],
    [
      'DNS egress (namespace + pod selector, UDP/TCP 53)',
      policy(ns, 'allow-dns', {
        podSelector: {},
        policyTypes: ['Egress'],
        egress: [{ to: [{ namespaceSelector: nsSel('kube-system'), podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } } }], ports: [{ protocol: 'UDP', port: 53 }, { protocol: 'TCP', port: 53 }] }],
      }),
    ],
    [
      'ingress controller (namespace + pod selector, named port)',
      policy(ns, 'allow-ingress-controller', {
        podSelector: { matchLabels: { tier: 'frontend' } },
        ingress: [{ from: [{ namespaceSelector: nsSel('ingress-nginx'), podSelector: { matchLabels: { 'app.kubernetes.io/name': 'ingress-nginx' } } }], ports: [{ port: 'http' }] }],
      }),
    ],
  ]
  for (let j = 0; j < APPS; j++) {
    const name = `app-${j}-ingress`
    const sel = app(`app-${j}`)
    switch (j % 4) {
      case 0:
        out.push(['app ingress: pod selectors (matchLabels, matchExpressions), TCP port', policy(ns, name, {
          podSelector: sel,
          ingress: [{ from: [{ podSelector: app(`app-${(j + 1) % APPS}`) }, { podSelector: { matchExpressions: [{ key: 'tier', operator: 'In', values: ['frontend', 'api'] }] } }], ports: [{ protocol: 'TCP', port: 8080 }] }],
        })])
        break
      case 1:
        out.push(['app ingress: namespace selector by team + pod selector, named port', policy(ns, name, {
          podSelector: sel,
          ingress: [{ from: [{ namespaceSelector: { matchLabels: { team: `team-${(k + 1) % 10}` } }, podSelector: { matchExpressions: [{ key: 'app', operator: 'In', values: ['app-0', 'app-2'] }] } }], ports: [{ port: 'http' }, { port: 'grpc' }] }],
        })])
        break
      case 2:
        out.push(['app ingress: ipBlock with except, TCP 443 and a port range', policy(ns, name, {
          podSelector: sel,
          ingress: [{ from: [{ ipBlock: { cidr: '10.128.0.0/16', except: ['10.128.5.0/24', '10.128.6.0/23'] } }], ports: [{ protocol: 'TCP', port: 443 }, { protocol: 'TCP', port: 8000, endPort: 8999 }] }],
        })])
        break
      default:
        out.push(['app ingress: namespace selector (matchExpressions on env), any port', policy(ns, name, {
          podSelector: sel,
          ingress: [{ from: [{ namespaceSelector: { matchExpressions: [{ key: 'env', operator: 'In', values: ['prod', 'staging'] }, { key: 'team', operator: 'NotIn', values: [team] }] } }] }],
        })])
    }
  }
  for (let j = 0; j < 4; j++) {
    const name = `app-${j}-egress`
    const sel = app(`app-${j}`)
    const to = [
      { to: [{ podSelector: app(`app-${j === 0 ? 1 : 5}`) }], ports: [{ port: 'grpc' }] },
      { to: [{ namespaceSelector: nsSel(other), podSelector: app('app-3') }], ports: [{ port: 'postgres' }, { protocol: 'TCP', port: 5432 }] },
      { to: [{ ipBlock: { cidr: '0.0.0.0/0', except: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16'] } }], ports: [{ protocol: 'TCP', port: 443 }] },
      { to: [{ podSelector: app('app-7') }], ports: [{ protocol: 'UDP', port: 'statsd' }] },
    ][j]!
    out.push(['app egress: ' + ['pod selector, named port', 'namespace + pod selector, named and numeric port', 'ipBlock with except (internet), TCP 443', 'pod selector, UDP named port'][j]!, policy(ns, name, { podSelector: sel, policyTypes: ['Egress'], egress: [to] })])
  }
  out.push(
    ['ingress from namespaces of one env (namespace selector)', policy(ns, 'allow-from-env', {
      podSelector: { matchExpressions: [{ key: 'app', operator: 'In', values: ['app-2', 'app-4'] }] },
      ingress: [{ from: [{ namespaceSelector: { matchLabels: { env: ENVS[k % 3]! } } }], ports: [{ protocol: 'TCP', port: 8080 }] }],
    })],
    ['ingress from a load-balancer range (ipBlock with except)', policy(ns, 'allow-lb', {
      podSelector: { matchLabels: { tier: 'frontend' } },
      ingress: [{ from: [{ ipBlock: { cidr: '192.168.0.0/16', except: ['192.168.100.0/24'] } }], ports: [{ protocol: 'TCP', port: 8080 }, { protocol: 'TCP', port: 8443 }] }],
    })],
  )
  return out
}

/** The standing policies that let the measured flows through (counted among the 1,000). */
export function standingPolicies(): [string, V1NetworkPolicy][] {
  const fromNs01 = (a: string) => ({ namespaceSelector: nsSel('ns-01'), podSelector: app(a) })
  return [
    ['bench: new peers may reach the target', policy('ns-00', 'probe-peers', {
      podSelector: app('probe-target'),
      ingress: [{ from: [fromNs01('probe-newpeer')], ports: [{ protocol: 'TCP', port: PROBE_PORT }, { protocol: 'UDP', port: PROBE_PORT }] }],
    })],
    ['bench: bulk sender may reach the receiver', policy('ns-00', 'bulk-allow', {
      podSelector: app('bulk-receiver'),
      ingress: [{ from: [fromNs01('bulk-sender')], ports: [{ port: 'http' }, { port: 'iperf' }] }],
    })],
    ['bench: probe egress to the node pod range (ipBlock)', policy('ns-01', 'probe-egress', {
      podSelector: { matchExpressions: [{ key: 'app', operator: 'In', values: ['probe-client', 'probe-newpeer'] }] },
      policyTypes: ['Egress'],
      egress: [{ to: [{ ipBlock: { cidr: '10.72.0.0/24' } }], ports: [{ protocol: 'TCP', port: PROBE_PORT }, { protocol: 'UDP', port: PROBE_PORT }] }],
    })],
    ['bench: bulk sender egress (named ports of the receiver)', policy('ns-01', 'bulk-egress', {
      podSelector: app('bulk-sender'),
      policyTypes: ['Egress'],
      egress: [{ to: [{ namespaceSelector: nsSel('ns-00'), podSelector: app('bulk-receiver') }], ports: [{ port: 'http' }, { port: 'iperf' }] }],
    })],
  ]
}

/** The measured policy: `allow` admits the probe client (named ports of the target), otherwise a label nobody has. */
export function probeAllow(allow: boolean): V1NetworkPolicy {
  return policy('ns-00', 'probe-allow', {
    podSelector: app('probe-target'),
    ingress: [{ from: [{ namespaceSelector: { matchLabels: { team: 'team-1' } }, podSelector: app(allow ? 'probe-client' : 'probe-nobody') }], ports: [{ port: 'probe' }, { port: 'probe-udp', protocol: 'UDP' }] }],
  })
}

/** The real pods' objects (name, namespace, labels, ports). */
export function realPod(role: RealPod, name: string = role, withStatus = true): V1Pod {
  const ip = withStatus ? REAL_PODS[role] : undefined
  const probe: Port[] = [
    { name: 'probe', containerPort: PROBE_PORT },
    { name: 'probe-udp', containerPort: PROBE_PORT, protocol: 'UDP' },
  ]
  switch (role) {
    case 'client':
      return podObject('ns-01', name, MEASURED_NODE, ip, { app: 'probe-client', tier: 'probe' }, probe)
    case 'newPeer':
      return podObject('ns-01', name, MEASURED_NODE, ip, { app: 'probe-newpeer', tier: 'probe' }, probe)
    case 'target':
      return podObject('ns-00', name, MEASURED_NODE, ip, { app: 'probe-target', tier: 'probe' }, probe)
    case 'newTarget':
      return podObject('ns-00', name, MEASURED_NODE, ip, { app: 'probe-newtarget', tier: 'probe' }, probe)
    case 'sender':
      return podObject('ns-01', name, MEASURED_NODE, ip, { app: 'bulk-sender', tier: 'load' }, [])
    case 'receiver':
      return podObject('ns-00', name, MEASURED_NODE, ip, { app: 'bulk-receiver', tier: 'load' }, [
        { name: 'http', containerPort: HTTP_PORT },
        { name: 'iperf', containerPort: IPERF_PORT },
      ])
  }
}

/** The real pods that stay for the whole run (the new peer and new target come and go). */
export const STANDING_REAL: RealPod[] = ['client', 'target', 'sender', 'receiver']

export function buildCluster(shape: ClusterShape): Cluster {
  const namespaces: V1Namespace[] = []
  for (let k = 0; k < shape.namespaces; k++) namespaces.push(namespace(nsName(k), { team: `team-${k % 10}`, env: ENVS[k % 3]! }))
  namespaces.push(namespace('kube-system'), namespace('monitoring', { team: 'platform' }), namespace('ingress-nginx', { team: 'platform' }))

  const pods: V1Pod[] = STANDING_REAL.map((r) => realPod(r))
  // Synthetic pods on the measured node: 10.72.1.0 upwards (the real ones are in 10.72.0.0/24).
  const local = shape.localPods - STANDING_REAL.length
  for (let i = 0; i < local; i++) {
    const k = i % shape.namespaces
    const j = Math.floor(i / shape.namespaces) % APPS
    const ip = `10.72.${1 + (i >> 8)}.${i & 255}`
    pods.push(podObject(nsName(k), `app-${j}-l${i}`, MEASURED_NODE, ip, { app: `app-${j}`, tier: TIERS[j]!, version: i % 3 === 0 ? 'v2' : 'v1' }, appPorts(j)))
  }
  // Remote pods: kube-dns, prometheus and the ingress controller first, then applications; 10.73.0.0 upwards.
  const infra: V1Pod[] = [
    podObject('kube-system', 'coredns-0', 'node-1', '10.73.255.1', { 'k8s-app': 'kube-dns' }, [{ name: 'dns', containerPort: 53, protocol: 'UDP' }, { name: 'dns-tcp', containerPort: 53 }]),
    podObject('kube-system', 'coredns-1', 'node-2', '10.73.255.2', { 'k8s-app': 'kube-dns' }, [{ name: 'dns', containerPort: 53, protocol: 'UDP' }, { name: 'dns-tcp', containerPort: 53 }]),
    podObject('monitoring', 'prometheus-0', 'node-3', '10.73.255.3', { app: 'prometheus' }, [{ name: 'web', containerPort: 9090 }]),
    podObject('ingress-nginx', 'ingress-nginx-controller-0', 'node-4', '10.73.255.4', { 'app.kubernetes.io/name': 'ingress-nginx' }, [{ name: 'http', containerPort: 80 }]),
    podObject('ingress-nginx', 'ingress-nginx-controller-1', 'node-5', '10.73.255.5', { 'app.kubernetes.io/name': 'ingress-nginx' }, [{ name: 'http', containerPort: 80 }]),
  ]
  if (shape.remotePods > 0) pods.push(...infra.slice(0, shape.remotePods))
  for (let i = 0; i < shape.remotePods - infra.length; i++) {
    const k = i % shape.namespaces
    const j = (Math.floor(i / shape.namespaces) + 3) % APPS
    pods.push(podObject(nsName(k), `app-${j}-r${i}`, `node-${1 + (i % REMOTE_NODES)}`, `10.73.${i >> 8}.${i & 255}`, { app: `app-${j}`, tier: TIERS[j]!, version: 'v1' }, appPorts(j)))
  }

  const standing = standingPolicies()
  const per = namespacePolicies(0, shape.namespaces).length
  const byNs = Array.from({ length: shape.namespaces }, (_, k) => namespacePolicies(k, shape.namespaces))
  const chosen: [string, V1NetworkPolicy][] = [...standing]
  for (let slot = 0; slot < per && chosen.length < shape.policies; slot++) {
    for (let k = 0; k < shape.namespaces && chosen.length < shape.policies; k++) chosen.push(byNs[k]![slot]!)
  }
  if (chosen.length < shape.policies) throw new Error(`${shape.namespaces} namespaces hold at most ${per * shape.namespaces + standing.length} policies of this mix; ask for more namespaces`)
  const mix = new Map<string, number>()
  for (const [kind] of chosen) mix.set(kind, (mix.get(kind) ?? 0) + 1)
  return { namespaces, pods, policies: chosen.map(([, p]) => p), mix }
}

/** Creates a pod without status, then sets its status (Running, Ready, podIPs) as a kubelet would. */
export async function createPod(client: RestClient, pod: V1Pod): Promise<V1Pod> {
  const { status, ...spec } = pod
  const created = await client.create<V1Pod>(podInfo, spec as V1Pod)
  if (!status) return created
  return client.updateStatus<V1Pod>(podInfo, { ...created, status })
}

export async function createCluster(client: RestClient, cluster: Cluster, concurrency: number): Promise<{ podsPerSecond: number; policiesPerSecond: number }> {
  for (const ns of cluster.namespaces) {
    try {
      await client.create(namespaceInfo, ns)
    } catch (err) {
      // The server made kube-system itself: give it the bench's labels.
      if ((err as { code?: number }).code !== 409) throw err
      await client.patch(namespaceInfo, ns.metadata!.name!, undefined, { metadata: { labels: ns.metadata!.labels } }, 'merge')
    }
  }
  const check = (what: string, r: { errors: number; firstError: unknown }) => {
    if (r.errors) throw new Error(`${r.errors} ${what} failed; first: ${(r.firstError as Error)?.message ?? String(r.firstError)}`)
  }
  const pods = await closedLoop(cluster.pods.length, concurrency, async (i) => void (await createPod(client, cluster.pods[i]!)))
  check('pod creates', pods)
  const policies = await closedLoop(cluster.policies.length, concurrency, async (i) => void (await client.create(policyInfo, cluster.policies[i]!)))
  check('policy creates', policies)
  return { podsPerSecond: pods.rate, policiesPerSecond: policies.rate }
}
