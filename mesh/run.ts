// The mesh in the node agent. Informers (pods, namespaces, Services, EndpointSlices,
// MeshAuthorizations and the published mesh root) feed three things:
// - NodeIdentities: a certificate for each service account this node's meshed pods run as;
// - the node proxy (node-proxy.ts), which reads one MeshState, rebuilt after each burst of
//   changes;
// - the mesh's nftables table: this node's meshed pods captured, STRICT pods closed to plaintext.
// Nothing here holds the agent back at start: a node without meshed pods asks for nothing. The
// data path needs the original-destination addon and nft; without them the agent says why
// once, runs on, and meshed pods keep talking in plaintext (identities are still obtained).
import type { V1ConfigMap, V1EndpointSlice, V1Namespace, V1Pod, V1Service } from '@kubernetes/client-node'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { resources, type ResourceInfo } from '../src/api/registry.ts'
import { Informer, type RestClient } from '../src/client/index.ts'
import { MESH_ROOT_CONFIGMAP, MESH_ROOT_KEY, MESH_ROOT_NAMESPACE } from '../src/controllers/certificates/mesh.ts'
import { writePrivate } from '../src/kubelet/join.ts'
import { NftExec, probeNftables, type NftClient } from '../src/netfilter/index.ts'
import type { Logger } from '../src/util/log.ts'
import { ChangeTracker } from '../proxy/change-tracker.ts'
import { slimEndpointSlice, slimService } from '../proxy/slim-objects.ts'
import { ProblemReporter } from '../proxy/problem-reporter.ts'
import { AUTHORIZATION_KIND, AUTHORIZATION_PLURAL, AuthorizationIndex, MESH_GROUP, MESH_VERSION, parseAuthorization, type MeshAuthorizationObject, type ParsedAuthorization } from './authorization.ts'
import { MeshMetrics } from './metrics.ts'
import { NodeIdentities, type NodeIdentitiesOptions } from './node-identities.ts'
import { NodeProxy, type MeshState } from './node-proxy.ts'
import { MeshRules } from './nftables.ts'
import { identitiesOf, meshMode, podMeshed } from './opt-in.ts'
import { meshAddonUnavailable } from './addon.ts'
import { ServiceIndex, WorkloadIndex } from './workloads.ts'

const kind = (k: string) => resources.find((r) => r.kind === k)!

/** MeshAuthorization as the client reads it (a custom resource: the CRD is installed by the API server). */
export const authorizationInfo: ResourceInfo = {
  group: MESH_GROUP,
  version: MESH_VERSION,
  kind: AUTHORIZATION_KIND,
  listKind: `${AUTHORIZATION_KIND}List`,
  plural: AUTHORIZATION_PLURAL,
  singular: 'meshauthorization',
  namespaced: true,
  shortNames: ['meshauthz'],
  categories: [],
  subresources: [],
  model: '',
  createOnly: false,
}

export interface MeshConfig {
  /** Where the nftables capture sends meshed pods' connections (--mesh-outbound-port). */
  outboundPort: number
  /** Where node proxies take each other's mTLS connections (--mesh-inbound-port). */
  inboundPort: number
  /** How long a stopping proxy lets carried connections go on (--mesh-drain-period). */
  drainMs: number
  /** Run the data path (proxy and nftables); false: identities only. */
  dataPath: boolean
}

export const defaultMeshConfig: MeshConfig = { outboundPort: 15001, inboundPort: 15008, drainMs: 30_000, dataPath: true }

export interface MeshDeps {
  client: RestClient
  nodeName: string
  /** The agent's data dir: identities are kept in DATA_DIR/mesh/identities. */
  dataDir: string
  /** The cluster domain. */
  trustDomain: string
  config: MeshConfig
  log: Logger
  /** NetworkPolicy's verdict on a pod-to-pod connection (the agent's enforcer), if it runs. */
  networkPolicy?: (source: string, destination: string, port: number) => boolean
  /** The node's nftables (default: nft in the agent's namespace). */
  nft?: NftClient
  retry?: NodeIdentitiesOptions['retry']
}

export interface RunningMesh {
  identities: NodeIdentities
  /** Undefined when the data path does not run. */
  proxy: NodeProxy | undefined
  metrics: MeshMetrics
  /** Why the data path does not run, if it does not. */
  dataPathProblem: string | undefined
  stop(): Promise<void>
}

export function meshIdentitiesDir(dataDir: string): string {
  return join(dataDir, 'mesh', 'identities')
}

/** The mesh root as last read from the API, for `weft mesh certs` to verify with. */
export function meshRootFile(dataDir: string): string {
  return join(dataDir, 'mesh', 'root-cert.pem')
}

/** Only what the mesh reads of a pod is cached. */
function slimPod(p: V1Pod): V1Pod {
  return {
    metadata: { name: p.metadata?.name, namespace: p.metadata?.namespace, uid: p.metadata?.uid, resourceVersion: p.metadata?.resourceVersion, labels: p.metadata?.labels, annotations: p.metadata?.annotations },
    spec: { nodeName: p.spec?.nodeName, serviceAccountName: p.spec?.serviceAccountName, hostNetwork: p.spec?.hostNetwork, containers: [] },
    status: { phase: p.status?.phase, hostIP: p.status?.hostIP, podIP: p.status?.podIP, podIPs: p.status?.podIPs },
  }
}

function slimNamespace(n: V1Namespace): V1Namespace {
  return { metadata: { name: n.metadata?.name, resourceVersion: n.metadata?.resourceVersion, labels: n.metadata?.labels } }
}

async function keepRoot(dataDir: string, rootPem: string): Promise<void> {
  await mkdir(join(dataDir, 'mesh'), { recursive: true, mode: 0o700 })
  await writePrivate(meshRootFile(dataDir), rootPem)
}

export async function startMesh(deps: MeshDeps): Promise<RunningMesh> {
  const { log, config } = deps
  const metrics = new MeshMetrics()
  let proxy: NodeProxy | undefined
  const identities = new NodeIdentities({
    client: deps.client,
    dir: meshIdentitiesDir(deps.dataDir),
    trustDomain: deps.trustDomain,
    log,
    ...(deps.retry ? { retry: deps.retry } : {}),
    onChange: (key) => {
      metrics.identities.set(identities.list().length)
      proxy?.identityChanged(key)
    },
  })
  const logger = log
  const pods = new Informer<V1Pod>(deps.client, kind('Pod'), { transform: slimPod, logger })
  const namespaces = new Informer<V1Namespace>(deps.client, kind('Namespace'), { transform: slimNamespace, logger })
  const roots = new Informer<V1ConfigMap>(deps.client, kind('ConfigMap'), { namespace: MESH_ROOT_NAMESPACE, fieldSelector: `metadata.name=${MESH_ROOT_CONFIGMAP}`, logger })
  const services = new Informer<V1Service>(deps.client, kind('Service'), { transform: slimService, logger })
  const slices = new Informer<V1EndpointSlice>(deps.client, kind('EndpointSlice'), { transform: slimEndpointSlice, logger })
  const authorizations = new Informer<MeshAuthorizationObject & { metadata: object }>(deps.client, authorizationInfo, { logger })
  const informers: Pick<Informer, 'hasSynced' | 'start' | 'stop'>[] = [pods, namespaces, roots, services, slices, authorizations]
  const tracker = new ChangeTracker([4, 6], deps.nodeName)
  services.addHandlers({ onAdd: (s) => tracker.setService(s), onUpdate: (_, s) => tracker.setService(s), onDelete: (s) => tracker.deleteService(s) })
  slices.addHandlers({ onAdd: (s) => tracker.setSlice(s), onUpdate: (_, s) => tracker.setSlice(s), onDelete: (s) => tracker.deleteSlice(s) })

  let state: MeshState = { workloads: new WorkloadIndex([], () => undefined), services: new ServiceIndex([]), policies: new AuthorizationIndex([]) }
  const nft = deps.nft ?? new NftExec()
  const rules = new MeshRules(nft)
  let rulesFailing = false
  let dataPathProblem: string | undefined = config.dataPath ? meshAddonUnavailable() : 'the data path is off'
  if (!dataPathProblem) {
    const probe = deps.nft ? { ok: true as const } : await probeNftables()
    if (!probe.ok) dataPathProblem = `nftables cannot be used (${probe.reason})`
  }
  if (dataPathProblem && config.dataPath) log.error({ why: dataPathProblem }, 'the mesh data path does not run on this node: meshed pods get identities, but their traffic is not captured (plaintext)')

  // A MeshAuthorization that does not parse: a Warning Event on it (each problem once) besides the log.
  const problems = new ProblemReporter({ client: deps.client, nodeName: deps.nodeName, log, kind: 'MeshAuthorization', component: 'weft-mesh' })
  let reportedPolicies = new Set<string>()
  const reportPolicyProblems = (parsed: { obj: MeshAuthorizationObject; policy: ParsedAuthorization }[]) => {
    const now = new Set<string>()
    for (const { obj, policy } of parsed) {
      const key = `${policy.namespace}/${policy.name}`
      now.add(key)
      problems.set(key, 'parse', obj, 'invalid' in policy ? [{ reason: 'InvalidMeshAuthorization', message: `${policy.invalid}; the namespace's meshed pods take no mesh connections until it is fixed` }] : [])
    }
    for (const key of reportedPolicies) if (!now.has(key)) problems.forget(key)
    reportedPolicies = now
  }
  let pending: NodeJS.Immediate | undefined
  let syncing = Promise.resolve()
  const sync = () => {
    pending ??= setImmediate(() => {
      pending = undefined
      // Identities need only the pods, namespaces and root; the proxy's state needs everything
      // (until then it knows no pod, so it carries nothing: closed, not open).
      if (!pods.hasSynced() || !namespaces.hasSynced() || !roots.hasSynced()) return
      const namespaceOf = (name: string) => namespaces.get(name)
      const allPods = pods.list()
      const root = roots.list()[0]?.data?.[MESH_ROOT_KEY] || undefined
      if (root && root !== identities.rootPem) void keepRoot(deps.dataDir, root).catch((err: unknown) => log.warn({ err }, 'cannot keep the mesh root'))
      identities.setRoot(root)
      const local = allPods.filter((p) => p.spec?.nodeName === deps.nodeName)
      identities.want(identitiesOf(local, namespaceOf, deps.trustDomain))
      if (!informers.every((i) => i.hasSynced())) return
      tracker.take()
      const parsed = authorizations.list().map((obj) => ({ obj, policy: parseAuthorization(obj) }))
      reportPolicyProblems(parsed)
      state = {
        workloads: new WorkloadIndex(allPods, namespaceOf),
        services: new ServiceIndex([...tracker.entries(4).values(), ...tracker.entries(6).values()]),
        policies: new AuthorizationIndex(parsed.map((p) => p.policy)),
      }
      if (proxy) {
        const meshed: string[] = []
        const strict: string[] = []
        for (const p of local) {
          const ns = namespaceOf(p.metadata?.namespace ?? '')
          if (!podMeshed(p, ns)) continue
          const ips = [p.status?.podIP, ...(p.status?.podIPs ?? []).map((x) => x.ip)].filter((ip): ip is string => typeof ip === 'string')
          meshed.push(...ips)
          if (meshMode(ns) === 'STRICT') strict.push(...ips)
        }
        syncing = syncing
          .then(() => rules.apply({ meshed, strict, outboundPort: config.outboundPort }))
          .then(() => {
            if (rulesFailing) log.info('mesh nftables rules written again')
            rulesFailing = false
          })
          .catch((err: unknown) => {
            if (!rulesFailing) log.error({ err }, 'cannot write the mesh nftables rules; retrying on the next change')
            rulesFailing = true
          })
      }
    })
  }
  const onAny = { onAdd: sync, onUpdate: sync, onDelete: sync }
  pods.addHandlers(onAny)
  namespaces.addHandlers(onAny)
  roots.addHandlers(onAny)
  services.addHandlers(onAny)
  slices.addHandlers(onAny)
  authorizations.addHandlers(onAny)
  for (const informer of informers) informer.start()
  if (!dataPathProblem) {
    const starting = new NodeProxy({ nodeName: deps.nodeName, trustDomain: deps.trustDomain, identities, state: () => state, outboundPort: config.outboundPort, inboundPort: config.inboundPort, metrics, log, ...(deps.networkPolicy ? { networkPolicy: deps.networkPolicy } : {}) })
    try {
      await starting.start()
      proxy = starting
      log.info({ outboundPort: proxy.outboundPort, inboundPort: proxy.inboundPort }, 'mesh node proxy listening')
      sync()
    } catch (err) {
      // start() let go of what it had made (the engine and any listener) before it threw.
      dataPathProblem = `the node proxy cannot listen: ${(err as Error).message}`
      log.error({ why: dataPathProblem }, 'the mesh data path does not run on this node: meshed pods get identities, but their traffic is not captured (plaintext)')
    }
  }
  const rootWarning = setTimeout(() => {
    if (!identities.rootPem) log.warn({ configMap: `${MESH_ROOT_NAMESPACE}/${MESH_ROOT_CONFIGMAP}` }, 'the mesh root is not published: this node proxy obtains no mesh identities until it is')
  }, 30_000)
  rootWarning.unref()
  return {
    identities,
    get proxy() {
      return proxy
    },
    metrics,
    dataPathProblem,
    async stop() {
      clearTimeout(rootWarning)
      if (pending) clearImmediate(pending)
      identities.stop()
      await Promise.all(informers.map((i) => i.stop()))
      await syncing
      // The capture rules stay: a restarting agent's pods are refused, not sent in plaintext.
      await proxy?.stop(config.drainMs)
    },
  }
}
