// `weft agent`: the node agent. Registers the node, writes the CNI config once the node
// has a pod CIDR, routes to other nodes' pods (host-gw), runs the kubelet and the service
// proxy and NetworkPolicy enforcement, and serves the kubelet API. Stopping it leaves the pods
// running (and the proxy's and NetworkPolicy's nftables rules in place); the next agent adopts them.
import { chmod, mkdir, readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import type { V1Node } from '@kubernetes/client-node'
import { resources } from '../api/registry.ts'
import { Informer, RestClient, type ServerAddress } from '../client/index.ts'
import { isSpawnFailure, probeNftables } from '../netfilter/index.ts'
import { Spawner, useSpawner } from '../netlink/index.ts'
import { logger, type Logger } from '../util/log.ts'
import { makePrivateDir } from '../util/private-files.ts'
import { startProxy, type ProxyConfig, type RunningProxy } from '../../proxy/run.ts'
import type { RelayedConnection } from '../../proxy/userspace/connection-policy.ts'
import { ANN_SERVICE_RELAY } from '../../netpol/enforcer.ts'
import { startMesh, type MeshConfig, type RunningMesh } from '../../mesh/run.ts'
import { netpolHealthRoute, startNetworkPolicy, type NetpolConfig, type RunningNetpol } from '../../netpol/run.ts'
import { startCniService, type CniService } from '../../cni/service/server.ts'
import type { CniVersion } from '../../cni/protocol/version.ts'
import { CniRuntime, nodeConflist, optionalChainPlugins, writeConflist } from './cni/index.ts'
import { checkHairpin } from './bridge-netfilter.ts'
import { allocatableQuantities, nodeAllocatable, type Reserved } from './cgroups/allocatable.ts'
import { pidCapacity, setupCgroups, type CgroupSettings } from './cgroups/setup.ts'
import type { EvictionThreshold } from './eviction-thresholds.ts'
import { syncHostGwRoutes } from './host-gw.ts'
import { nodeNetworks, type NodeNetwork } from './node-networks.ts'
import { NodeProblemReporter } from './node-problems.ts'
import { MasqueradeSync } from './pod-masquerade.ts'
import { Kubelet, type KubeletOptions } from './kubelet.ts'
import { detectNodeIPs } from './node-ip.ts'
import { NodeRegistration } from './node-registration.ts'
import { LocalPathCleaner } from './local-path-cleanup.ts'
import { storageDir } from './runtime/paths.ts'
import { ANN_LOCAL_PATH_DIR } from '../api/storage.ts'
import { readHostFacts } from './node-status.ts'
import type { RestartBackoffOptions } from './restart-backoff.ts'
import { podsDir } from './runtime/paths.ts'
import { KubeletServer } from './server.ts'
import { SYSTEM_PATH } from './runtime/launcher.ts'
import { StreamingServer } from './streaming/server.ts'
import { apiReviews, KubeletAuth } from './api-auth.ts'
import { CertificateRotation, validityOf } from './cert-rotation.ts'
import { requestNodeCertificate } from './join.ts'
import { requestServingCertificate, servingNames, storedServingCertificate, type ServingPair } from './serving-certificate.ts'

const nodeInfo = resources.find((r) => r.kind === 'Node')!

export interface AgentOptions {
  server: ServerAddress
  /** The validity of the node's client certificate when the agent renews it itself (a joined node). */
  certificateRenewal?: { notBefore: number; notAfter: number }
  nodeName: string
  dataDir: string
  /** The node's InternalIPs; detected from the default route's interface when absent. */
  nodeIPs?: string[]
  /** Pod network namespaces are named `<prefix>-<pod uid>`. */
  netnsPrefix: string
  cniBinDirs: string[]
  cniConfDir: string
  /** Route other nodes' pod CIDRs via their InternalIPs. */
  hostGw: boolean
  /** Masquerade pod traffic to outside the pod network (all nodes' pod CIDRs). */
  ipMasq: boolean
  /** weft-cni drops what a pod sends from another MAC or address than its own (default true). */
  cniAntiSpoof?: boolean
  /** host:port for the kubelet API over TCP; undefined: the first InternalIP and kubeletPort; empty: unix socket only. */
  kubeletListen?: string
  kubeletPort: number
  clusterDNS: string[]
  clusterDomain: string
  resolvConf: string
  labels?: Record<string, string>
  backoff?: RestartBackoffOptions
  /** Lease renewal period (default 10 s). */
  leaseRenewMs?: number
  /** Container log rotation (default 10 MiB × 5 files). */
  logRotation?: KubeletOptions['logRotation']
  /** How often volumes from the API are refreshed in running pods (default 30 s). */
  volumeRefreshMs?: number
  /** Host path prefixes pods' hostPath volumes may name; none by default. */
  allowedHostPaths?: string[]
  /** Pod and container cgroups (--cgroup-driver, --cgroup-root, --pod-max-pids); default: detected. */
  cgroups?: CgroupSettings
  /** --system-reserved. */
  systemReserved?: Reserved
  /** --eviction-hard (parsed); default: none. */
  evictionHard?: EvictionThreshold[]
  /** The service proxy's settings; undefined: no proxy. */
  proxy?: ProxyConfig
  /** NetworkPolicy enforcement's settings; undefined: none (as enabled: false). */
  networkPolicy?: NetpolConfig
  /** The mesh's node proxy; undefined: none. */
  mesh?: MeshConfig
  log?: Logger
}

export class Agent {
  readonly options: AgentOptions
  readonly log: Logger
  client: RestClient | undefined
  kubelet: Kubelet | undefined
  #nodes: Informer<V1Node> | undefined
  #registration: NodeRegistration | undefined
  #server: KubeletServer | undefined
  #streaming: StreamingServer | undefined
  #networkReady = false
  #clientRotation: CertificateRotation | undefined
  #servingRotation: CertificateRotation | undefined
  readonly #servingAbort = new AbortController()
  #kubeletApi: Promise<void> = Promise.resolve()
  #nodeIPs: string[] = []
  /** Other nodes' addresses that relay Service traffic after judging NetworkPolicy themselves (ANN_SERVICE_RELAY). */
  #relayIPs: string[] = []
  #pendingNodes: NodeJS.Timeout | undefined
  #syncingNodes: Promise<void> = Promise.resolve()
  #cni: CniRuntime | undefined
  #cniService: CniService | undefined
  #spawner: Spawner | undefined
  /** The negotiated cniVersion, for the chain of plugin types it was negotiated for. */
  #cniVersion: { types: string; version: CniVersion } | undefined
  /** The optional plugins last warned about (a change warns again). */
  #missingPlugins = ''
  #nftMissingWarned = false
  /** nft writes bridge-family tables here (weft-cni's anti-spoofing can work): true once seen. */
  #antiSpoofUsable = false
  #antiSpoofWarned = false
  #masquerade = new MasqueradeSync()
  /** The families whose same-node Service traffic the masquerade table handles (br_netfilter is off): decided once at start. */
  #hairpin = { ipv4: false, ipv6: false }
  /** Problems with Nodes' network fields: a warning, a Warning Event on the Node and a metric, each once while it lasts. */
  #nodeProblems: NodeProblemReporter | undefined
  #proxy: RunningProxy | undefined
  #netpol: RunningNetpol | undefined
  #localPath: LocalPathCleaner | undefined
  #mesh: RunningMesh | undefined

  constructor(options: AgentOptions) {
    this.options = options
    this.log = options.log ?? logger('agent')
  }

  get socketPath(): string {
    return join(this.options.dataDir, 'kubelet.sock')
  }

  async start(signal?: AbortSignal): Promise<void> {
    const o = this.options
    if (makePrivateDir(o.dataDir).openToOthers) this.log.warn({ dataDir: o.dataDir }, 'the data dir can be read by other users; weft leaves the mode of a directory it did not create alone: chmod 700 it, or use a dir of its own')
    await mkdir(podsDir(o.dataDir), { recursive: true, mode: 0o700 })
    await chmod(podsDir(o.dataDir), 0o700)
    // Every ip/unshare/umount the agent runs is started by a small helper rather than by forking this process.
    const jobs = join(o.dataDir, 'spawn')
    await rm(jobs, { recursive: true, force: true })
    await mkdir(jobs, { mode: 0o700 })
    this.#spawner = new Spawner(jobs)
    useSpawner(this.#spawner)
    this.#nodeIPs = o.nodeIPs?.length ? o.nodeIPs : await detectNodeIPs()
    const plan = await checkHairpin({ log: this.log })
    this.#hairpin = { ipv4: plan.ipv4 === 'masquerade', ipv6: plan.ipv6 === 'masquerade' }
    // weft's own plugins, warm in this process: `bin/weft-cni` hands its invocations here.
    this.#cniService = await startCniService({ onError: (err) => this.log.warn({ err }, 'CNI service request failed') })
    const client = (this.client = new RestClient(o.server, { userAgent: `weft-agent/${o.nodeName}` }))
    const nodeProblems = (this.#nodeProblems = new NodeProblemReporter({ client, nodeName: o.nodeName, log: this.log }))
    const cni = (this.#cni = new CniRuntime({ binDirs: o.cniBinDirs, confDir: o.cniConfDir, cacheDir: join(o.dataDir, 'cni') }))
    const host = readHostFacts()
    const capacity = { cpuMilli: host.cpus * 1000, memoryBytes: host.memoryBytes, pids: pidCapacity() }
    const reserved = o.systemReserved ?? {}
    host.allocatable = allocatableQuantities(nodeAllocatable(capacity, reserved, o.evictionHard ?? []))
    // The pod tree's cgroup gets capacity − reserved (upstream leaves the eviction threshold out of it).
    const cgroups = await setupCgroups(o.cgroups ?? {}, nodeAllocatable(capacity, reserved), this.log.child({ component: 'cgroups' }))
    this.#registration = new NodeRegistration({
      client,
      // The local-path provisioner makes this node's volumes under the directory it publishes.
      identity: { name: o.nodeName, internalIPs: this.#nodeIPs, kubeletPort: o.kubeletPort, labels: o.labels, annotations: { [ANN_LOCAL_PATH_DIR]: storageDir(o.dataDir) } },
      host,
      health: () => ({
        ...(this.#networkReady ? {} : { notReadyReason: 'container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:cni config uninitialized' }),
        ...(this.kubelet?.eviction?.memoryPressure ? { memoryPressure: true } : {}),
      }),
      renewIntervalMs: o.leaseRenewMs,
      log: this.log,
    })
    await this.#registration.register()
    this.#registration.start()
    if (o.certificateRenewal) {
      this.#clientRotation = new CertificateRotation({
        what: 'node client certificate',
        log: this.log,
        // As the node itself (selfnodeclient).
        renew: async (signal) => {
          const credentials = await requestNodeCertificate(client, { nodeName: o.nodeName, dataDir: o.dataDir, caPem: o.server.credentials?.caPem ?? '', timeoutMs: 5 * 60_000, signal })
          client.setCredentials(credentials)
          return credentials.certPem!
        },
      })
      this.#clientRotation.start(o.certificateRenewal)
    }

    this.#nodes = new Informer<V1Node>(client, nodeInfo, { logger: this.log })
    this.#nodes.addHandlers({ onAdd: () => this.#nodesChanged(), onUpdate: () => this.#nodesChanged(), onDelete: () => this.#nodesChanged() })
    this.#nodes.start()
    await this.#nodes.waitForSync(signal)

    // Before the kubelet starts pods: a restarted agent's rules are still there, a first one's come before the pods.
    if (o.networkPolicy) {
      this.#netpol = await startNetworkPolicy(o.networkPolicy, { client, nodeName: o.nodeName, nodeIPs: () => [...this.#nodeIPs, ...this.#relayIPs], ...(this.netpolCoverageGap ? { coverageGap: this.netpolCoverageGap } : {}), log: this.log.child({ component: 'netpol' }) }, signal)
    }

    // Before the kubelet starts pods too: the node proxy listens (and captures, once synced) as early as it can.
    if (o.mesh) {
      const enforcer = this.#netpol?.enforcer
      const networkPolicy = enforcer ? (source: string, destination: string, port: number) => enforcer.judge(source, destination, 'TCP', port) : undefined
      this.#mesh = await startMesh({ client, nodeName: o.nodeName, dataDir: o.dataDir, trustDomain: o.clusterDomain, config: o.mesh, log: this.log.child({ component: 'mesh' }), ...(networkPolicy ? { networkPolicy } : {}) })
    }
    const hostResolvConf = await readFile(o.resolvConf, 'utf8').catch(() => '')
    this.kubelet = new Kubelet({
      client,
      nodeName: o.nodeName,
      dataDir: o.dataDir,
      netnsPrefix: o.netnsPrefix,
      hostIPs: () => this.#nodeIPs,
      cni,
      dns: { clusterDNS: o.clusterDNS, clusterDomain: o.clusterDomain, hostResolvConf },
      backoff: o.backoff,
      logRotation: o.logRotation,
      volumeRefreshMs: o.volumeRefreshMs,
      // The node's own API socket is allowed too: the bootstrap DNS and Ingress pods mount it
      // (a transport only: their service account's token still authenticates them).
      allowedHostPaths: [...(o.allowedHostPaths ?? []), ...('socketPath' in o.server && o.server.socketPath ? [o.server.socketPath] : [])],
      nodeAllocatable: host.allocatable,
      ...(cgroups ? { cgroups } : {}),
      ...(o.evictionHard?.length ? { eviction: { thresholds: o.evictionHard, onPressureChange: () => void this.#registration?.refresh().catch(() => undefined) } } : {}),
      log: this.log.child({ component: 'kubelet' }),
    })
    await this.kubelet.start(signal)
    this.#localPath = new LocalPathCleaner({ client, nodeName: o.nodeName, storageDir: storageDir(o.dataDir), log: this.log.child({ component: 'local-path' }) })
    this.#localPath.start()
    if (o.proxy) {
      const enforcer = this.#netpol?.enforcer
      const connectionPolicy = enforcer ? (c: RelayedConnection) => enforcer.judge(c.source, c.destination, c.protocol, c.port) : undefined
      this.#proxy = await startProxy(o.proxy, client, o.nodeName, this.log.child({ component: 'proxy' }), { nodeIPs: this.#nodeIPs, ...(connectionPolicy ? { connectionPolicy } : {}) }, signal)
      await this.#announceRelay(client, this.#proxy.proxy.mode === 'userspace' && enforcer !== undefined)
      // The agent's own metric is served beside the proxy's.
      this.#proxy.proxy.metrics.registry.registerMetric(nodeProblems.invalid)
      if (this.#mesh) for (const m of this.#mesh.metrics.all) this.#proxy.proxy.metrics.registry.registerMetric(m)
      const netpol = this.#netpol
      if (netpol) {
        for (const m of netpol.metrics.all) this.#proxy.proxy.metrics.registry.registerMetric(m)
        this.#proxy.endpoints.setRoute('/healthz/netpol', netpolHealthRoute(netpol))
      }
    }
    this.#kubeletApi = this.#startKubeletApi(this.#servingAbort.signal).catch((err: unknown) => {
      if (!this.#servingAbort.signal.aborted) this.log.error({ err }, 'cannot serve the kubelet API')
    })
    this.log.info({ node: o.nodeName, ips: this.#nodeIPs }, 'node agent running')
  }

  /**
   * NetworkPolicy rules hook the inet forward chain, which sees pod-to-pod traffic on the
   * bridge only for the families br_netfilter hands to netfilter (the hairpin check at start).
   */
  get netpolCoverageGap(): string | undefined {
    const off = [...(this.#hairpin.ipv4 ? ['IPv4'] : []), ...(this.#hairpin.ipv6 ? ['IPv6'] : [])]
    if (off.length === 0) return undefined
    return `the bridge does not hand ${off.join(' and ')} traffic to netfilter (br_netfilter missing or net.bridge.bridge-nf-call-ip${this.#hairpin.ipv4 ? '' : '6'}tables=0), so policies are not enforced between pods of this node in that family; traffic from and to other nodes is`
  }

  /**
   * In userspace mode Service traffic reaches endpoints from this node's own address, after the
   * relay asked NetworkPolicy (the enforcer's judge). The annotation tells the other nodes so,
   * and their rules treat this node's addresses as they treat their own (see the README).
   */
  async #announceRelay(client: RestClient, relaying: boolean): Promise<void> {
    const node = this.#nodes?.indexer.get(this.options.nodeName)
    if ((node?.metadata?.annotations?.[ANN_SERVICE_RELAY] === 'userspace') === relaying) return
    await client
      .patch<V1Node>(nodeInfo, this.options.nodeName, undefined, { metadata: { annotations: { [ANN_SERVICE_RELAY]: relaying ? 'userspace' : null } } }, 'merge')
      .catch((err: unknown) => this.log.warn({ err }, `cannot ${relaying ? 'set' : 'remove'} the ${ANN_SERVICE_RELAY} annotation: NetworkPolicy on other nodes judges this node's relayed Service traffic by its address`))
  }

  /** Where the kubelet API listens over TCP: --kubelet-listen, else the node's first InternalIP. */
  get kubeletListen(): string | undefined {
    const o = this.options
    if (o.kubeletListen !== undefined) return o.kubeletListen || undefined
    const ip = this.#nodeIPs[0]
    return ip ? `${ip.includes(':') ? `[${ip}]` : ip}:${o.kubeletPort}` : undefined
  }

  /**
   * The kubelet API: HTTPS with the node's serving certificate, the stored one or a new
   * one from a CSR (approved once the controllers see that it names this node's own name
   * and addresses). Neither the TCP listener nor the socket opens before there is one, so
   * `kubectl logs` fails to connect until then.
   */
  async #startKubeletApi(signal: AbortSignal): Promise<void> {
    const o = this.options
    const client = this.client!
    const caPem = o.server.credentials?.caPem
    const names = servingNames(o.nodeName, this.#nodeIPs)
    const request = (timeoutMs: number, sig: AbortSignal) => requestServingCertificate(client, names, { nodeName: o.nodeName, dataDir: o.dataDir, signal: sig, timeoutMs, log: (msg) => this.log.info(msg) })
    let pair: ServingPair | undefined = await storedServingCertificate(o.dataDir, names, caPem)
    while (!pair) {
      try {
        pair = await request(10 * 60_000, signal)
      } catch (err) {
        if (signal.aborted) return
        this.log.warn({ err }, 'no kubelet serving certificate yet: the kubelet API stays closed; asking again in a minute')
        await sleep(60_000, undefined, { signal }).catch(() => undefined)
        if (signal.aborted) return
      }
    }
    if (!caPem) this.log.warn('the node trusts no CA (its kubeconfig has none): the kubelet API accepts bearer tokens only, no client certificates')
    const server = (this.#server = new KubeletServer(this.kubelet!, { nodeName: o.nodeName, clientCaPem: caPem, auth: new KubeletAuth(apiReviews(client)) }))
    this.kubelet!.onSandboxRemoved((sandbox) => {
      if (sandbox.netnsPath) void server.portForward.podGone(sandbox.netnsPath)
    })
    const streaming = (this.#streaming = new StreamingServer(this.kubelet!, { PATH: SYSTEM_PATH }))
    for (const prefix of ['/exec/', '/attach/']) server.handleUpgrades(prefix, (req, socket, head, url) => streaming.handle(req, socket, head, url))
    await server.start({ socketPath: this.socketPath, listen: this.kubeletListen, serving: pair })
    this.#servingRotation = new CertificateRotation({
      what: 'kubelet serving certificate',
      log: this.log,
      renew: async (sig) => {
        const next = await request(5 * 60_000, sig)
        server.setServingCertificate(next)
        return next.certPem
      },
    })
    this.#servingRotation.start(validityOf(pair.certPem))
    this.log.info({ socket: this.socketPath, listen: this.kubeletListen ?? '' }, 'serving the kubelet API (HTTPS)')
  }

  async stop(): Promise<void> {
    this.#clientRotation?.stop()
    this.#servingAbort.abort()
    await this.#kubeletApi
    this.#servingRotation?.stop()
    clearTimeout(this.#pendingNodes)
    this.#registration?.stop()
    this.#streaming?.close()
    await this.#server?.close()
    await this.#proxy?.stop()
    // Its rules stay: a restarting agent does not open every isolated pod meanwhile.
    await this.#netpol?.stop()
    await this.#localPath?.stop()
    await this.#mesh?.stop()
    await this.kubelet?.stop()
    await this.#nodes?.stop()
    await this.#syncingNodes
    await this.#cniService?.close()
    useSpawner(undefined)
    this.#spawner?.close()
    await this.client?.close()
  }

  #nodesChanged(): void {
    clearTimeout(this.#pendingNodes)
    this.#pendingNodes = setTimeout(() => {
      this.#syncingNodes = this.#syncingNodes.then(() => this.#syncNodes()).catch((err: unknown) => this.log.warn({ err }, 'node sync failed'))
    }, 50)
  }

  async #syncNodes(): Promise<void> {
    const o = this.options
    const nodes = this.#nodes?.indexer.list() ?? []
    // Parsed once for the CNI config, the problem report, masquerade and routes: they all see the same pod CIDRs.
    const { networks, problems } = nodeNetworks(nodes, o.nodeName)
    const cidrs = networks.find((n) => n.self)?.podCIDRs ?? []
    if (cidrs.length) {
      try {
        const optional = await optionalChainPlugins(o.cniBinDirs)
        if (optional.missing.join() !== this.#missingPlugins) {
          this.#missingPlugins = optional.missing.join()
          if (optional.missing.length)
            this.log.warn(
              { plugins: optional.missing, binDirs: o.cniBinDirs },
              'optional CNI plugins are missing: left out of the network config, so hostPort (portmap) and the bandwidth annotations (bandwidth) do nothing on this node; install the reference plugins (Debian: containernetworking-plugins) into --cni-bin-dir',
            )
          else this.log.info({ binDirs: o.cniBinDirs }, 'the portmap and bandwidth plugins are there: the network config chains them')
        }
        const types = ['weft-cni', 'weft-ipam', ...(optional.portMap ? ['portmap'] : []), ...(optional.bandwidth ? ['bandwidth'] : [])]
        // The reference portmap and bandwidth of older plugin releases stop at CNI 1.0.0: the list declares what all its plugins speak.
        if (this.#cniVersion?.types !== types.join()) this.#cniVersion = { types: types.join(), version: await this.#cni!.negotiateVersion(types) }
        const text = nodeConflist({ podCIDRs: cidrs, ipamDataDir: join(o.dataDir, 'ipam'), cniVersion: this.#cniVersion.version, ipMasq: false, antiSpoof: await this.#cniAntiSpoof(), portMap: optional.portMap, bandwidth: optional.bandwidth })
        const changed = await writeConflist(o.cniConfDir, text)
        if (changed) this.log.info({ podCIDRs: cidrs, dir: o.cniConfDir }, 'wrote the CNI config')
      } catch (err) {
        this.log.warn({ err }, 'cannot write the CNI config')
      }
    }
    // The network is ready once a usable config is there: weft's, or one an operator put first.
    const ready = await this.#cni!.loadNetwork().then(
      () => true,
      () => false,
    )
    if (ready !== this.#networkReady) {
      this.#networkReady = ready
      await this.#registration?.refresh()
    }
    this.#nodeProblems?.report(nodes, problems)
    const relays = new Set(nodes.filter((n) => n.metadata?.annotations?.[ANN_SERVICE_RELAY] === 'userspace').map((n) => n.metadata?.name))
    const relayIPs = networks.filter((n) => !n.self && relays.has(n.name)).flatMap((n) => n.internalIPs)
    if (relayIPs.join() !== this.#relayIPs.join()) {
      this.#relayIPs = relayIPs
      this.#netpol?.enforcer?.nodeAddressesChanged()
    }
    // Each step on its own: one that fails (no nft, say) must not hold back the others.
    const hairpin = this.#hairpin
    if (o.ipMasq || hairpin.ipv4 || hairpin.ipv6) await this.#syncMasquerade(networks, hairpin)
    if (o.hostGw) {
      try {
        const lines = await syncHostGwRoutes(networks)
        if (lines.length) this.log.info({ changes: lines }, 'updated host-gw routes')
      } catch (err) {
        this.log.warn({ err }, 'cannot update the host-gw routes; retrying at the next Node change')
      }
    }
  }

  /**
   * Whether the CNI config asks weft-cni for anti-spoofing: wanted (--cni-anti-spoof), and
   * nft can write a bridge-family table here. Where it cannot (no nft, no CAP_NET_ADMIN, a
   * kernel without the bridge family), every ADD would fail, so the config says
   * `"antiSpoof": false` and the agent warns once, as it does for masquerade; it asks again
   * at each Node change, and turns it on for new pods once nft works.
   */
  async #cniAntiSpoof(): Promise<boolean> {
    if (this.options.cniAntiSpoof === false) return false
    if (this.#antiSpoofUsable) return true
    const probe = await probeNftables(undefined, { family: 'bridge' })
    if (probe.ok) {
      if (this.#antiSpoofWarned) this.log.info('nft works now: the CNI config turns the bridge\'s anti-spoofing on for the pods started from now on')
      this.#antiSpoofUsable = true
      return true
    }
    if (!this.#antiSpoofWarned) {
      this.#antiSpoofWarned = true
      this.log.warn(
        { reason: probe.reason },
        'the bridge cannot check pod source addresses (anti-spoofing is OFF): the CNI config says "antiSpoof": false, so a pod with CAP_NET_RAW can send as another pod, past NetworkPolicy where it is enforced; install nftables (with the kernel\'s nf_tables bridge family), or pass --cni-anti-spoof=false to say that is intended',
      )
    }
    return false
  }

  async #syncMasquerade(networks: readonly NodeNetwork[], hairpin: { ipv4: boolean; ipv6: boolean }): Promise<void> {
    try {
      await this.#masquerade.sync(networks, { outbound: this.options.ipMasq, hairpin })
      this.#nftMissingWarned = false
    } catch (err) {
      if (!isSpawnFailure(err)) {
        this.log.warn({ err }, 'cannot apply the pod masquerade rules (nft table weft-agent); retrying at the next Node change')
      } else if (!this.#nftMissingWarned) {
        this.#nftMissingWarned = true
        this.log.warn(
          { err: (err as Error).message },
          'nft is not installed: pod masquerade is off, so pods reach destinations outside the pod network with their own addresses (and, without br_netfilter, same-node Service traffic that a proxy DNATs breaks); install nftables, or pass --ip-masq=false to say that is intended',
        )
      }
    }
  }
}
