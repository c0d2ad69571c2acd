// The HTTP face of the API server: one request path for every call — identity,
// routing, content negotiation, errors as Status — in front of ResourceHandler.
import { ServerResponse, type IncomingMessage, type Server } from 'node:http'
import type { Duplex } from 'node:stream'
import { createServer as createHttpsServer } from 'node:https'
import { chmod, rm } from 'node:fs/promises'
import { createReadStream } from 'node:fs'
import { pipeline } from 'node:stream/promises'
import { resolve } from 'node:path'
import type { AddressInfo } from 'node:net'
import type { V1Node, V1Pod } from '@kubernetes/client-node'
import { apiVersionOf, findByPlural, resources, storedInfoOf, type ResourceInfo, type View } from '../api/registry.ts'
import type { Store } from '../store/store.ts'
import { cidrAddress, parseCidr } from '../util/cidr.ts'
import { ApiError, badRequest, invalid, methodNotAllowed, notFound } from '../util/errors.ts'
import { logger, type Logger } from '../util/log.ts'
import { NodePortAllocator, ServiceIPAllocator } from './allocator.ts'
import type { IngressBootstrap } from './bootstrap-ingress.ts'
import { bootstrap } from './bootstrap.ts'
import { aggregatedDiscovery, apiGroup, apiGroupList, apiResourceList, apiVersions, serverVersion } from './discovery.ts'
import { bodyKind, mediaType, parseBody, raiseWriteBuffer, readBody, sendJson, toApiError } from './http-io.ts'
import { errorFormat, formatFor, negotiate, sendError, sendList, sendObject, watchEncoding, type Rendering } from './wire.ts'
import { ApiServerMetrics } from './metrics.ts'
import { ObjectStore, resourceRef, served, type KObject } from './objects.ts'
import { crdInfo, CustomResources } from './custom-resources/registry.ts'
import { isObject as isPlainObject } from './patch-values.ts'
import { openApiDocument, openApiIndex } from './openapi.ts'
import { openApiV2, openApiV2ProtobufType, wantsV2Protobuf } from './openapi-v2.ts'
import { resolveRequest, type ResourceRequest } from './request-info.ts'
import { objectOf, ResourceHandler, type Identity, type WriteOptions } from './resource-handler.ts'
import { ServiceAllocation } from './service-allocation.ts'
import { toTable } from './tables.ts'
import { defaultWatchOptions, serveWatch, type WatchOptions } from './watch.ts'
import { AllocationRepair } from './allocation-repair.ts'
import { NamespaceCache } from './namespace-cache.ts'
import { Compactor } from './compactor.ts'
import { EventExpiry } from './event-expiry.ts'
import { proxyPodLog } from './pod-log.ts'
import { MetricsApi, metricsTable } from './metrics-api.ts'
import { SummaryCache } from './metrics-api-cache.ts'
import { kubeletSummaryFetcher } from './metrics-api-kubelet.ts'
import { findMetricsResource, METRICS_GROUP } from './metrics-api-resources.ts'
import { handlerSources } from './metrics-api-sources.ts'
import { isStreamSubresource, proxyPodStream } from './pod-stream.ts'
import { deletionGuard } from './protected-objects.ts'
import { admissionChain, PriorityAdmission } from './admission/priority.ts'
import { StorageAdmission, storeClassLookup } from './admission/storage.ts'
import { LimitRangerAdmission } from './admission/limit-ranger.ts'
import { ResourceQuotaAdmission } from './admission/resource-quota.ts'
import { isLongRunning, requestTimedOut, RequestLimits, type RequestLimitOptions } from './request-limits.ts'
import type { UserInfo } from '../auth/types.ts'
import { ANONYMOUS, anonymousAllowed, authenticate, forbidden, nonResourceAttributes, resourceAttributes, unauthorized } from './auth.ts'
import { answerReview } from './review-answers.ts'
import { decodeReview } from './reviews.ts'
import { ServerSecurity, type ApiServerSecurity } from './security.ts'
import { issueTokenRequest } from './token-request.ts'
import { PodEviction } from './pod-eviction.ts'

const nodeResource = resources.find((r) => r.kind === 'Node')!
/** Socket buffer size: a whole large answer (a CRD with its managedFields) is taken in one write. */
const SOCKET_HIGH_WATER_MARK = 4 * 1024 * 1024
const HEALTH_PATHS = new Set(['/healthz', '/livez', '/readyz'])
const STORE_HEALTH_TIMEOUT_MS = 2000

/** Waits for `work`, or fails with 504 after `ms` (0: no deadline); work that goes on after is left to finish, its answer dropped. */
async function withDeadline(work: Promise<void>, ms: number): Promise<void> {
  if (ms <= 0) return work
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(requestTimedOut()), ms)
  })
  work.catch(() => undefined)
  try {
    await Promise.race([work, deadline])
  } finally {
    clearTimeout(timer)
  }
}

/** The store's snapshot, for cluster admins (RBAC: `get` on this non-resource URL). */
export const SNAPSHOT_PATH = '/weft/snapshot'

export interface ApiServerOptions {
  store: Store
  /** TLS, client certificates, service-account keys: the server answers only HTTPS. */
  security: ApiServerSecurity
  /** `host:port`; port 0 picks a free one. */
  listen: string
  /** The listeners' timeouts (defaults: 60 s for headers and for a body, 65 s idle keep-alive). */
  limits?: { headersTimeoutMs?: number; bodyTimeoutMs?: number; keepAliveTimeoutMs?: number } & Partial<RequestLimitOptions>
  /** Where pods reach the API server (the `kubernetes` Service's endpoint); default the listen address and port. */
  advertise?: { host: string; port?: number }
  /** Also serve on this unix socket (agents in other network namespaces use it). */
  socketPath?: string
  serviceCidrs?: string[]
  nodePortRange?: { first: number; last: number }
  watch?: Partial<WatchOptions>
  /** How much history to keep: compaction runs this often (default 5 minutes; 0 turns it off). */
  compactionIntervalMs?: number
  /** Lab clusters: each node's kubelet answers on `<dir>/<node name>/kubelet.sock` (for `pods/log`). */
  kubeletSocketDir?: string
  /** metrics.k8s.io: the kubelets' sampling window, how long a node's summary is reused, how long a kubelet may take (defaults 10 s, 10 s, 5 s). */
  metrics?: { windowMs?: number; maxAgeMs?: number; timeoutMs?: number }
  /** Cluster DNS pods (the `coredns` Deployment behind `kube-dns`): how many; 0 or unset for none. */
  dnsReplicas?: number
  /** Events are deleted this long after they were last seen (default 1 h; 0: never). */
  eventTtlMs?: number
  /** The cluster's DNS domain (default cluster.local). */
  clusterDomain?: string
  /** The Ingress controller's pods and the default IngressClass; unset for none. */
  ingress?: Omit<IngressBootstrap, 'apiSocket'>
  log?: Logger
}

type Obj = Record<string, unknown>

/** The paths whose requests are upgrades (pods/exec, attach, portforward). */
const STREAM_PATH = /^\/api\/v1\/namespaces\/[^/?]+\/pods\/[^/?]+\/(exec|attach|portforward)(\?|$)/

/** An upgrade request's connection, for the stream subresources. */
interface Upgrade {
  socket: Duplex
  head: Buffer
}

/** Kinds whose DELETE answers with the deleted object rather than a Status (ReturnDeletedObject upstream). */
const returnsDeletedObject = new Set(['Pod', 'Service'])

function partial(obj: KObject): Obj {
  return { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: obj.metadata }
}

function identityOf(user: UserInfo, req: IncomingMessage): Identity {
  return { user: user.username, uid: user.uid, groups: user.groups, extra: user.extra, userAgent: String(req.headers['user-agent'] ?? '') }
}

export class ApiServer {
  readonly store: Store
  readonly objects: ObjectStore
  readonly handler: ResourceHandler
  readonly evictions: PodEviction
  readonly metricsApi: MetricsApi
  /** The resources of the established CustomResourceDefinitions. */
  readonly crds: CustomResources
  readonly security: ServerSecurity
  readonly metrics = new ApiServerMetrics()
  readonly limits: RequestLimits
  readonly log: Logger
  private readonly options: ApiServerOptions
  private readonly watchOptions: WatchOptions
  private readonly servers: Server[] = []
  private readonly repair: AllocationRepair
  private readonly namespaces: NamespaceCache
  private readonly compactor: Compactor
  private readonly eventExpiry: EventExpiry
  private readonly priority: PriorityAdmission
  private readonly limitRanger: LimitRangerAdmission
  private readonly quota: ResourceQuotaAdmission
  private readonly firstServiceIP: string
  private readonly dnsServiceIP: string
  private openWatches = new Set<ServerResponse>()
  private readonly sockets = new Set<import('node:net').Socket>()
  url = ''

  constructor(options: ApiServerOptions) {
    this.options = options
    this.store = options.store
    this.log = options.log ?? logger('apiserver')
    this.objects = new ObjectStore(options.store)
    const cidrs = (options.serviceCidrs ?? ['10.96.0.0/12']).map(parseCidr)
    const ips = new ServiceIPAllocator(options.store, cidrs)
    const ports = new NodePortAllocator(options.store, options.nodePortRange?.first, options.nodePortRange?.last)
    this.namespaces = new NamespaceCache(this.objects, this.log)
    this.priority = new PriorityAdmission(this.objects, this.log)
    this.security = new ServerSecurity(options.security, this.objects, this.log)
    this.limitRanger = new LimitRangerAdmission(this.objects, this.log)
    this.quota = new ResourceQuotaAdmission(this.objects, this.log)
    // Upstream's order: LimitRanger's defaults first, ResourceQuota's charge last.
    const admission = admissionChain(this.limitRanger, this.security.admission, this.priority, new StorageAdmission(storeClassLookup(this.objects)), this.quota)
    this.handler = new ResourceHandler(this.objects, new ServiceAllocation(ips, ports), this.namespaces, admission, deletionGuard({ clusterDns: (options.dnsReplicas ?? 0) > 0 }))
    this.evictions = new PodEviction(this.handler)
    const summaries = new SummaryCache(kubeletSummaryFetcher(options.kubeletSocketDir, options.security), { maxAgeMs: options.metrics?.maxAgeMs, timeoutMs: options.metrics?.timeoutMs }, this.log)
    this.metricsApi = new MetricsApi(handlerSources(this.handler), summaries, { windowMs: options.metrics?.windowMs })
    this.repair = new AllocationRepair(this.objects, ips, ports, this.log)
    this.crds = new CustomResources(this.objects, this.handler, this.log.child({ component: 'apiextensions' }))
    this.watchOptions = { ...defaultWatchOptions, ...options.watch }
    this.limits = new RequestLimits(options.limits)
    this.compactor = new Compactor(options.store, this.log, options.compactionIntervalMs ?? 5 * 60_000)
    this.eventExpiry = new EventExpiry(this.objects, this.log, options.eventTtlMs ?? 60 * 60_000)
    this.firstServiceIP = cidrAddress(cidrs[0], 1n)
    this.dnsServiceIP = cidrAddress(cidrs[0], 10n)
  }

  private readonly findServed = (group: string, version: string, plural: string): ResourceInfo | undefined =>
    findByPlural(group, version, plural) ?? findMetricsResource(group, version, plural) ?? this.crds.find(group, version, plural)

  /** An HTTPS server: every connection is offered client-certificate authentication. */
  private httpsServer(): Server {
    const sec = this.options.security
    const server = createHttpsServer(
      {
        cert: sec.servingCertPem,
        key: sec.servingKeyPem,
        ca: sec.clientCaPem,
        requestCert: true,
        rejectUnauthorized: false,
        minVersion: 'TLSv1.2',
        keepAliveTimeout: this.options.limits?.keepAliveTimeoutMs ?? 65_000,
        // Watches and log streams run as long as they like; headers and bodies have their own limits.
        requestTimeout: 0,
        headersTimeout: this.options.limits?.headersTimeoutMs ?? 60_000,
        connectionsCheckingInterval: Math.min(30_000, Math.max(50, (this.options.limits?.headersTimeoutMs ?? 60_000) / 2)),
        handshakeTimeout: this.options.limits?.headersTimeoutMs ?? 60_000,
        maxHeaderSize: 64 * 1024,
        shouldUpgradeCallback: (req: IncomingMessage) => req.headers.upgrade !== undefined && STREAM_PATH.test(req.url ?? ''),
      },
      (req, res) => void this.handle(req, res),
    )
    // Only pods/exec, attach and portforward are upgrades; any other request keeps the usual path.
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => void this.handleUpgrade(req, socket, head))
    // A TLS handshake that fails (a client that does not trust our CA, a scanner) is the client's problem.
    server.on('tlsClientError', (err) => this.log.debug({ err: err.message }, 'TLS handshake failed'))
    server.setTimeout(0)
    // Node's server pauses the parser of a keep-alive connection's next request while the last
    // answer has not drained, and a body arriving then fails with HPE_PAUSED (the client sees a
    // reset mid-request, as kubectl did applying the large Gateway API CRDs back to back). A TLS
    // socket takes no highWaterMark option: raise its write buffer so answers up to that size
    // count as drained at once.
    server.on('secureConnection', (socket: import('node:tls').TLSSocket) => raiseWriteBuffer(socket, SOCKET_HIGH_WATER_MARK))
    server.on('connection', (socket: import('node:net').Socket) => {
      this.sockets.add(socket)
      socket.once('close', () => this.sockets.delete(socket))
    })
    this.servers.push(server)
    return server
  }

  async start(): Promise<{ url: string }> {
    const [host, portText] = splitHostPort(this.options.listen)
    await this.security.start()
    await this.priority.start()
    await this.limitRanger.start()
    await this.quota.start()
    const server = this.httpsServer()
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(Number(portText), host, () => resolve())
    })
    const address = server.address() as AddressInfo
    this.url = `https://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`
    if (this.options.socketPath) {
      // The socket speaks the same HTTPS and authenticates the same way; only root may open it.
      await rm(this.options.socketPath, { force: true })
      const unix = this.httpsServer()
      await new Promise<void>((resolve, reject) => {
        unix.once('error', reject)
        unix.listen(this.options.socketPath, () => resolve())
      })
      await chmod(this.options.socketPath, 0o600)
    }
    await this.namespaces.start()
    await this.crds.start()
    const dns = { serviceIP: this.dnsServiceIP, replicas: this.options.dnsReplicas ?? 0, zone: this.options.clusterDomain ?? 'cluster.local', apiSocket: this.options.socketPath && resolve(this.options.socketPath) }
    const ingress = this.options.ingress && { ...this.options.ingress, apiSocket: dns.apiSocket }
    const advertised = this.options.advertise
    await bootstrap(this.handler, advertised?.host ?? address.address, advertised?.port ?? address.port, this.firstServiceIP, dns, ingress)
    this.repair.start()
    this.compactor.start()
    this.eventExpiry.start()
    this.log.info({ url: this.url, socket: this.options.socketPath, store: this.store.backend }, 'API server listening')
    return { url: this.url }
  }

  async close(): Promise<void> {
    this.repair.stop()
    this.compactor.stop()
    this.eventExpiry.stop()
    this.namespaces.stop()
    this.crds.stop()
    this.security.stop()
    this.priority.stop()
    this.limitRanger.stop()
    this.quota.stop()
    for (const res of this.openWatches) res.destroy()
    const closed = Promise.all(
      this.servers.map(
        (s) =>
          new Promise<void>((resolve) => {
            s.close(() => resolve())
            s.closeAllConnections()
          }),
      ),
    )
    // Connections the HTTP layer does not track (a TLS handshake under way, a response it
    // has finished with) would hold close() until the peer lets go.
    for (const socket of this.sockets) socket.destroy()
    await closed
  }

  /** An upgrade request goes the usual way; its answers before the tunnel are written on its socket. */
  private async handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    socket.on('error', () => socket.destroy())
    const res = new ServerResponse(req)
    res.assignSocket(socket as import('node:net').Socket)
    res.shouldKeepAlive = false
    res.once('finish', () => socket.end())
    await this.handle(req, res, { socket, head })
  }

  private async handle(req: IncomingMessage, res: ServerResponse, upgrade?: Upgrade): Promise<void> {
    const started = process.hrtime.bigint()
    const url = URL.parse(req.url ?? '/', 'http://localhost')
    if (!url) {
      // A request target no URL parser accepts (`http://[`): nothing to route or authorize.
      sendError(res, badRequest(`the request target ${JSON.stringify(String(req.url).slice(0, 100))} is not a valid path`), errorFormat(req))
      return
    }
    let labels = { verb: req.method ?? '', group: '', version: '', resource: '', subresource: '' }
    const mutating = req.method !== 'GET' && req.method !== 'HEAD'
    const kind = mutating ? 'mutating' : 'readOnly'
    this.metrics.inflight.inc({ request_kind: kind })
    let watching = false
    const releases: (() => void)[] = []
    try {
      const authn = await authenticate(req, this.security.tokens)
      if ('failed' in authn) {
        this.log.debug({ reason: authn.failed, path: url.pathname, remote: req.socket.remoteAddress }, 'authentication failed')
        throw unauthorized()
      }
      if ('anonymous' in authn && !anonymousAllowed(url.pathname)) throw unauthorized()
      const user = 'user' in authn ? authn.user : ANONYMOUS
      const info = resolveRequest(req.method ?? 'GET', url.pathname, url.searchParams, this.findServed)
      const attributes = info.kind === 'nonResource' ? nonResourceAttributes(user, req.method ?? 'GET', url.pathname) : resourceAttributes(user, info, url.searchParams)
      const decision = this.security.authorizer.authorize(attributes, { fieldSelector: url.searchParams.get('fieldSelector') ?? undefined, labelSelector: url.searchParams.get('labelSelector') ?? undefined })
      if (decision.decision !== 'allow') throw forbidden(attributes, decision, info.kind === 'resource' ? info.info : undefined)
      // Health checks are never turned away; long-running requests have no slot and no deadline.
      const longRunning = info.kind === 'resource' ? isLongRunning(info.verb, info.subresource) : url.pathname === SNAPSHOT_PATH
      const health = info.kind === 'nonResource' && HEALTH_PATHS.has(url.pathname)
      if (!longRunning && !health) releases.push(this.limits.admit(mutating, user))
      if (info.kind === 'resource' && info.verb === 'watch') releases.push(this.limits.admitWatch(user))
      const deadlineMs = longRunning ? 0 : this.limits.timeoutMs(url.searchParams)
      let work: Promise<void>
      if (info.kind === 'nonResource') {
        work = this.handleNonResource(req, res, url)
      } else {
        labels = { verb: info.verb.toUpperCase(), group: info.info.group, version: info.info.version, resource: info.info.plural, subresource: info.subresource ?? '' }
        watching = info.verb === 'watch'
        work = this.handleResource(req, res, url, info, user, upgrade)
      }
      await withDeadline(work, deadlineMs)
    } catch (err) {
      const apiErr = toApiError(err)
      if (apiErr.code >= 500 && apiErr.code !== 504) this.log.error({ err, method: req.method, path: url.pathname }, 'request failed')
      // A body cut off (too slow, too large) is not read to its end: the connection goes with the answer.
      if ((apiErr.code === 504 || apiErr.code === 413) && !req.complete) {
        res.setHeader('connection', 'close')
        res.once('finish', () => req.destroy())
      }
      sendError(res, apiErr, errorFormat(req))
    } finally {
      for (const release of releases) release()
      this.metrics.inflight.dec({ request_kind: kind })
      const code = String(res.statusCode)
      this.metrics.requests.inc({ ...labels, code })
      if (!watching) this.metrics.duration.observe(labels, Number(process.hrtime.bigint() - started) / 1e9)
    }
  }

  /**
   * pods/exec, attach, portforward. A WebSocket upgrade is a GET, authorized as `get` like any
   * GET (as in Kubernetes 1.32); weft also requires `create`, as Kubernetes 1.35 does by
   * default (AuthorizePodWebsocketUpgradeCreatePermission): `get` alone never opens a shell.
   */
  private async streamPod(req: IncomingMessage, res: ServerResponse, r: ResourceRequest, user: UserInfo, upgrade: Upgrade | undefined): Promise<void> {
    if (r.verb !== 'get' && r.verb !== 'create') throw methodNotAllowed(`pods/${r.subresource} takes GET (WebSocket) or POST`)
    if (r.verb === 'get') {
      const attributes = resourceAttributes(user, { ...r, verb: 'create' })
      const decision = this.security.authorizer.authorize(attributes)
      if (decision.decision !== 'allow') throw forbidden(attributes, decision, r.info)
    }
    if (!upgrade) throw badRequest(`Upgrade request required: pods/${r.subresource} streams over a WebSocket (Connection: Upgrade, Upgrade: websocket)`)
    const pod = (await this.handler.get(r)) as unknown as V1Pod
    const nodeName = pod.spec?.nodeName
    const node = nodeName ? ((await this.handler.get({ ...r, info: nodeResource, namespace: undefined, name: nodeName, subresource: undefined }).catch(() => undefined)) as V1Node | undefined) : undefined
    res.statusCode = 101
    await proxyPodStream(req, upgrade.socket, upgrade.head, pod, node, r.subresource as 'exec' | 'attach' | 'portforward', new URL(req.url ?? '/', 'http://localhost').searchParams, { socketDir: this.options.kubeletSocketDir, tls: this.options.security })
  }

  /** `weft server snapshot save`: the store copied while it serves (only cluster admins reach this non-resource URL). */
  private async sendSnapshot(res: ServerResponse): Promise<void> {
    if (!this.store.snapshot) throw badRequest(`this API server's store is ${this.store.backend}: take its snapshots with etcd's own tool (etcdctl snapshot save)`)
    const started = Date.now()
    const snap = await this.store.snapshot()
    try {
      res.writeHead(200, { 'content-type': 'application/vnd.sqlite3', 'content-length': snap.size })
      await pipeline(createReadStream(snap.path), res)
      this.log.info({ bytes: snap.size, ms: Date.now() - started }, 'store snapshot sent')
    } finally {
      await snap.dispose()
    }
  }

  private async handleNonResource(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    if (req.method !== 'GET' && req.method !== 'HEAD') throw methodNotAllowed(`the server does not allow ${req.method} on ${url.pathname}`)
    const path = url.pathname.replace(/\/+$/, '') || '/'
    const accept = String(req.headers.accept ?? '')
    const aggregated = /as=APIGroupDiscoveryList/.test(accept) && /g=apidiscovery\.k8s\.io/.test(accept)
    const aggregatedVersion = /v=v2(?![a-z0-9])/.test(accept) ? 'v2' : /v=v2beta1/.test(accept) ? 'v2beta1' : undefined
    if ((path === '/api' || path === '/apis') && aggregated && aggregatedVersion) {
      const ct = `application/json;g=apidiscovery.k8s.io;v=${aggregatedVersion};as=APIGroupDiscoveryList`
      return sendJson(res, 200, aggregatedDiscovery(path === '/api', aggregatedVersion, this.crds.all()), ct)
    }
    if (path === '/api') return sendJson(res, 200, apiVersions(new URL(this.url).host))
    if (path === '/apis') return sendJson(res, 200, apiGroupList(this.crds.all()))
    if (path === '/version') return sendJson(res, 200, serverVersion)
    if (path === '/healthz' || path === '/livez' || path === '/readyz') return this.health(res, url)
    if (path === SNAPSHOT_PATH) return this.sendSnapshot(res)
    if (path === '/metrics') {
      const text = await this.metrics.registry.metrics()
      res.writeHead(200, { 'content-type': this.metrics.registry.contentType })
      res.end(text)
      return
    }
    if (path === '/openapi/v3') return sendJson(res, 200, openApiIndex(this.crds.openApiV3()))
    if (path === '/openapi/v2') {
      const v2 = openApiV2(this.crds.openApiV2())
      const protobuf = wantsV2Protobuf(String(req.headers.accept ?? ''))
      const body = protobuf ? v2.protobuf : v2.json
      res.writeHead(200, { 'content-type': protobuf ? openApiV2ProtobufType : 'application/json', etag: v2.etag, 'content-length': Buffer.byteLength(body) })
      res.end(body)
      return
    }
    if (path.startsWith('/openapi/v3/')) {
      const doc = openApiDocument(path.slice('/openapi/v3/'.length)) ?? this.crds.openApiV3().get(path.slice('/openapi/v3/'.length))?.doc
      if (doc) {
        res.setHeader('cache-control', url.searchParams.has('hash') ? 'public, immutable' : 'no-cache, private')
        return sendJson(res, 200, doc)
      }
    }
    const parts = path.split('/').filter(Boolean)
    if (parts[0] === 'api' && parts.length === 2) {
      const list = apiResourceList('', parts[1])
      if (list) return sendJson(res, 200, list)
    }
    if (parts[0] === 'apis' && parts.length === 2) {
      const group = apiGroup(parts[1], this.crds.all())
      if (group) return sendJson(res, 200, group)
    }
    if (parts[0] === 'apis' && parts.length === 3) {
      const list = apiResourceList(parts[1], parts[2], this.crds.all())
      if (list) return sendJson(res, 200, list)
    }
    throw new ApiError(404, 'NotFound', 'the server could not find the requested resource', {})
  }

  private async health(res: ServerResponse, url: URL): Promise<void> {
    let ok = true
    let detail = '[+]ping ok\n'
    try {
      // As kube-apiserver's etcd check (--etcd-healthcheck-timeout 2s): an unresponsive store fails the check, it does not hang it.
      let timer: NodeJS.Timeout | undefined
      await Promise.race([
        this.store.currentRevision(),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer within ${STORE_HEALTH_TIMEOUT_MS} ms`)), STORE_HEALTH_TIMEOUT_MS)
        }),
      ]).finally(() => clearTimeout(timer))
      detail += `[+]${this.store.backend} ok\n`
    } catch (err) {
      ok = false
      detail += `[-]${this.store.backend} failed: ${(err as Error).message}\n`
    }
    const body = url.searchParams.has('verbose') ? `${detail}${url.pathname.slice(1)} ${ok ? 'check passed' : 'check failed'}\n` : ok ? 'ok' : detail
    res.writeHead(ok ? 200 : 500, { 'content-type': 'text/plain; charset=utf-8', 'x-content-type-options': 'nosniff' })
    res.end(body)
  }

  /**
   * A view (another version of a stored kind, e.g. events.k8s.io/v1 Events): the request
   * runs against the stored kind, with bodies converted in and answers converted out;
   * Tables are the stored kind's.
   */
  private async serveView(
    req: IncomingMessage,
    res: ServerResponse,
    r: ResourceRequest,
    view: View,
    query: URLSearchParams,
    rendering: Rendering,
    opts: WriteOptions,
    send: (code: number, body: unknown) => void,
    body: () => Promise<unknown>,
  ): Promise<void> {
    if (r.subresource && !(r.subresource === 'status' && r.info.subresources.includes('status'))) throw notFound(resourceRef(r.info), `${r.name}/${r.subresource}`)
    const stored: ResourceRequest = { ...r, info: storedInfoOf(r.info) }
    const h = this.handler
    const out = (obj: KObject): unknown => (rendering.as === 'object' ? view.fromStored(obj as unknown as Obj) : this.render(stored.info, rendering, obj))
    const into = (obj: unknown): Obj => {
      if (!isPlainObject(obj)) throw badRequest(`the body must be a ${r.info.kind} object`)
      if (obj.apiVersion !== undefined && obj.apiVersion !== apiVersionOf(r.info)) {
        throw badRequest(`the object has apiVersion ${JSON.stringify(obj.apiVersion)}, but this endpoint serves ${apiVersionOf(r.info)}`)
      }
      return view.toStored(obj)
    }
    switch (r.verb) {
      case 'get':
        return send(200, out(await h.get(stored)))
      case 'list': {
        const list = await h.list(stored, query)
        const objects = list.entries.map(objectOf)
        if (rendering.as === 'table') {
          const table = toTable(stored.info, objects, { includeObject: rendering.includeObject, now: new Date() })
          table.metadata = list.metadata as typeof table.metadata
          return send(200, table)
        }
        if (rendering.as === 'partial') return send(200, { kind: 'PartialObjectMetadataList', apiVersion: 'meta.k8s.io/v1', metadata: list.metadata, items: objects.map(partial) })
        return send(200, { kind: r.info.listKind, apiVersion: apiVersionOf(r.info), metadata: list.metadata, items: objects.map((o) => view.fromStored(o as unknown as Obj)) })
      }
      case 'watch':
        return this.watch(res, stored, query, rendering, { render: out, type: { apiVersion: apiVersionOf(r.info), kind: r.info.kind } })
      case 'create': {
        const obj = await body()
        const storedObj = into(obj)
        const causes = view.validateCreate?.(obj as Obj) ?? []
        if (causes.length) throw invalid(r.info.kind, r.info.group, String((storedObj.metadata as Obj | undefined)?.name ?? ''), causes)
        return send(201, out(await h.create(stored, storedObj, opts)))
      }
      case 'update':
        return send(200, out(await h.update(stored, into(await body()), opts)))
      case 'patch': {
        const raw = await readBody(req, undefined, this.options.limits?.bodyTimeoutMs)
        return send(200, out(await h.patch(stored, raw, mediaType(req), opts, parseBody, { info: r.info, view })))
      }
      case 'delete': {
        const { obj, gone } = await h.delete(stored, await body(), opts)
        if (gone) return send(200, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details: { name: obj.metadata.name, group: r.info.group, kind: r.info.plural, uid: obj.metadata.uid } })
        return send(200, out(obj))
      }
      case 'deletecollection': {
        const list = (await h.deleteCollection(stored, await body(), opts)) as { items?: KObject[] } & Obj
        return send(200, { ...list, kind: r.info.listKind, apiVersion: apiVersionOf(r.info), items: (list.items ?? []).map((o) => view.fromStored(o as unknown as Obj)) })
      }
    }
  }

  /** `?watch=true`; `view` renders a view's objects and names its type in bookmarks. */
  private async watch(res: ServerResponse, r: ResourceRequest, query: URLSearchParams, rendering: Rendering, view?: { render: (obj: KObject) => unknown; type: { apiVersion: string; kind: string } }): Promise<void> {
    const h = this.handler
    const type = view?.type ?? { apiVersion: apiVersionOf(r.info), kind: r.info.kind }
    this.openWatches.add(res)
    this.metrics.watchers.inc()
    try {
      const session = await serveWatch(
        {
          store: this.store,
          listAll: async (info, namespace) => {
            const list = await h.list({ ...r, info, namespace, name: undefined }, new URLSearchParams())
            return { revision: Number(list.metadata.resourceVersion), objects: list.entries.map(objectOf) }
          },
          render: view ? view.render : r.info.custom ? (obj) => this.render(r.info, rendering, served(r.info, obj)) : rendering.as === 'object' ? undefined : (obj) => this.render(r.info, rendering, obj),
          encoding: watchEncoding(rendering.as === 'object' ? formatFor(rendering, type.apiVersion, type.kind) : rendering.format),
          type,
          options: this.watchOptions,
          checkNotTooLarge: (rv) => this.objects.checkNotTooLarge(rv),
        },
        r,
        query,
        res,
      )
      await session.done
    } finally {
      this.openWatches.delete(res)
      this.metrics.watchers.dec()
    }
  }

  private render(info: ResourceInfo, rendering: Rendering, obj: KObject): unknown {
    if (rendering.as === 'table') return toTable(info, [obj], { includeObject: rendering.includeObject, now: new Date() })
    if (rendering.as === 'partial') return partial(obj)
    return obj
  }

  private async serveMetrics(res: ServerResponse, r: ResourceRequest, query: URLSearchParams, rendering: Rendering): Promise<void> {
    const answer = await this.metricsApi.answer(r, query)
    const items = 'items' in answer ? answer.items : [answer]
    if (rendering.as === 'table') return sendJson(res, 200, metricsTable(items, rendering.includeObject))
    if (rendering.as === 'partial') {
      const partials = items.map((i) => ({ kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: i.metadata }))
      return sendJson(res, 200, 'items' in answer ? { kind: 'PartialObjectMetadataList', apiVersion: 'meta.k8s.io/v1', metadata: {}, items: partials } : partials[0])
    }
    sendJson(res, 200, answer)
  }

  private async handleResource(req: IncomingMessage, res: ServerResponse, url: URL, r: ResourceRequest, user: UserInfo, upgrade?: Upgrade): Promise<void> {
    const query = url.searchParams
    const negotiated = negotiate(req, query)
    // Custom resources are JSON only: a protobuf Accept is answered in JSON, as upstream's CR handler does.
    const rendering: Rendering = r.info.custom ? { ...negotiated, format: 'json', jsonFallback: true } : negotiated
    const opts: WriteOptions = { query, identity: identityOf(user, req), warnings: [] }
    if (r.info.custom?.deprecationWarning) opts.warnings.push(r.info.custom.deprecationWarning)
    if (r.info.custom && r.verb === 'create' && this.crds.terminating(r.info)) {
      throw methodNotAllowed(`create not allowed while custom resource definition is terminating`)
    }
    const send = (code: number, body: unknown) => {
      if (opts.warnings.length) res.setHeader('warning', opts.warnings.map((w) => `299 - ${JSON.stringify(w)}`))
      // A CRD this server wrote is served from this answer on, before the store feed brings it.
      if (r.info === crdInfo && r.verb !== 'get' && r.verb !== 'list' && !query.has('dryRun') && isPlainObject(body) && body.kind === 'CustomResourceDefinition') this.crds.upsert(body as KObject)
      sendObject(res, code, body as Obj, rendering)
    }
    const body = async (): Promise<unknown> => {
      const raw = await readBody(req, undefined, this.options.limits?.bodyTimeoutMs)
      if (raw.length === 0 && (r.verb === 'delete' || r.verb === 'deletecollection')) return undefined
      return parseBody(raw, mediaType(req), bodyKind(r))
    }
    if (r.info.group === METRICS_GROUP) return this.serveMetrics(res, r, query, rendering)
    if (r.info.view) return this.serveView(req, res, r, r.info.view, query, rendering, opts, send, body)
    const h = this.handler
    if (r.info.createOnly && r.verb === 'create' && r.name === undefined && r.subresource === undefined) {
      const review = decodeReview(r, await body(), query, opts.warnings)
      const sec = this.security
      return send(201, await answerReview(r.info.kind, review, { user, namespace: r.namespace, tokens: sec.reviewer, authorizer: sec.authorizer, rules: sec.rbac }))
    }
    if (r.info.kind === 'ServiceAccount' && r.subresource === 'token' && r.verb === 'create' && r.name) {
      const request = await body()
      const kinds = { serviceAccount: r.info, pod: resources.find((k) => k.kind === 'Pod')!, secret: resources.find((k) => k.kind === 'Secret')!, node: nodeResource }
      const restricted = this.security.tokenRequestRestriction(user, r.namespace!, r.name, request)
      if (restricted) throw restricted
      return send(201, await issueTokenRequest(request as Record<string, unknown>, r.namespace!, r.name, this.objects, kinds, this.security.serviceAccountTokens))
    }
    if (r.subresource === 'eviction' && r.verb === 'create' && r.name) {
      const eviction = await body()
      const restricted = this.security.evictionRestriction(user, r.namespace!, r.name, eviction)
      if (restricted) throw restricted
      const answer = await this.evictions.evict(r, eviction, opts)
      return send(answer.code, answer.body)
    }
    if (r.verb === 'delete' && r.name && user.groups.includes('system:nodes')) this.security.checkDelete(user, r.info, r.namespace, r.name, await h.get(r))
    if (r.subresource === 'finalize' && r.verb !== 'update') throw methodNotAllowed('namespaces/finalize takes PUT only')
    if (r.subresource === 'log') {
      if (r.verb !== 'get') throw methodNotAllowed('pods/log takes GET only')
      const pod = (await h.get(r)) as unknown as V1Pod
      const nodeName = pod.spec?.nodeName
      const node = nodeName ? ((await h.get({ ...r, info: nodeResource, namespace: undefined, name: nodeName, subresource: undefined }).catch(() => undefined)) as V1Node | undefined) : undefined
      return proxyPodLog(pod, node, query, res, this.options.kubeletSocketDir, this.options.security)
    }
    if (isStreamSubresource(r.subresource)) return this.streamPod(req, res, r, user, upgrade)
    switch (r.verb) {
      case 'get': {
        const obj = await h.get(r)
        if (r.subresource === 'scale') return send(200, h.scaleOf(r.info, obj))
        return send(200, this.render(r.info, rendering, obj))
      }
      case 'list': {
        const list = await h.list(r, query)
        if (rendering.as === 'table') {
          const table = toTable(r.info, list.entries.map(objectOf), { includeObject: rendering.includeObject, now: new Date() })
          table.metadata = list.metadata as typeof table.metadata
          return send(200, table)
        }
        if (rendering.as === 'partial') {
          return send(200, { kind: 'PartialObjectMetadataList', apiVersion: 'meta.k8s.io/v1', metadata: list.metadata, items: list.entries.map((e) => partial(objectOf(e))) })
        }
        return sendList(res, list, rendering)
      }
      case 'watch':
        return this.watch(res, r, query, rendering)
      case 'create': {
        if (r.subresource === 'binding') {
          if (!r.name) throw methodNotAllowed('binding requires a pod name')
          return send(201, await h.bind(r, await body(), opts))
        }
        if (r.name !== undefined) throw methodNotAllowed(`the server does not allow POST on a named ${r.info.kind}: use PUT to update or POST to the collection to create`)
        if (r.info.namespaced && r.namespace === undefined) {
          throw methodNotAllowed(`create ${r.info.plural} in a namespace: POST to /${r.info.group ? `apis/${r.info.group}` : 'api'}/${r.info.version}/namespaces/NAMESPACE/${r.info.plural}`)
        }
        return send(201, await h.create(r, await body(), opts))
      }
      case 'update': {
        if (!r.name) throw methodNotAllowed('PUT needs an object name in the path')
        const obj = await h.update(r, await body(), opts)
        return send(200, r.subresource === 'scale' ? h.scaleOf(r.info, obj) : obj)
      }
      case 'patch': {
        if (!r.name) throw methodNotAllowed('PATCH needs an object name in the path')
        const raw = await readBody(req, undefined, this.options.limits?.bodyTimeoutMs)
        const obj = await h.patch(r, raw, mediaType(req), opts, parseBody)
        return send(200, r.subresource === 'scale' ? h.scaleOf(r.info, obj) : obj)
      }
      case 'delete': {
        if (r.subresource) throw methodNotAllowed(`DELETE is not supported on ${r.info.plural}/${r.subresource}`)
        const { obj, gone } = await h.delete(r, await body(), opts)
        // Like Kubernetes: an object still pending deletion comes back as it is now; one
        // that is gone comes back as a Status, except for the kinds whose clients expect the object.
        if (gone && !returnsDeletedObject.has(r.info.kind)) {
          return send(200, {
            kind: 'Status',
            apiVersion: 'v1',
            metadata: {},
            status: 'Success',
            details: { name: obj.metadata.name, group: r.info.group, kind: r.info.plural, uid: obj.metadata.uid },
          })
        }
        return send(200, obj)
      }
      case 'deletecollection': {
        const list = await h.deleteCollection(r, await body(), opts)
        return send(200, list)
      }
    }
  }
}

export function splitHostPort(listen: string): [string, string] {
  const m = /^\[?([^\]]*)\]?:(\d+)$/.exec(listen)
  if (!m) throw new Error(`--listen "${listen}" must be ADDRESS:PORT, e.g. 127.0.0.1:6443`)
  return [m[1], m[2]]
}

