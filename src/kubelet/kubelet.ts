// The kubelet's pod side: watches the pods bound to this node, runs one worker per pod,
// adopts what an earlier agent left running, cleans up what belongs to no pod, and serves
// container logs.
import type { V1Pod, V1Service } from '@kubernetes/client-node'
import { resources } from '../api/registry.ts'
import { byNamespace, Informer, namespaceIndex, type RestClient } from '../client/index.ts'
import { serviceLinkEnv, slimLinkService } from './service-env.ts'
import { deleteNetns, listNetns, netnsExists } from '../netlink/index.ts'
import type { Logger } from '../util/log.ts'
import type { CniRuntime } from './cni/index.ts'
import { EvictionManager, type NodeMemory, type PodMemoryUsage } from './eviction.ts'
import type { EvictionThreshold } from './eviction-thresholds.ts'
import { StatsCollector, type StatsPod } from './stats/collector.ts'
import { StatsUnavailableError } from './stats/serve.ts'
import type { Summary } from './stats/summary.ts'
import { cniProcesses, killProcesses } from './cni/orphans.ts'
import { TokenManager } from './token-manager.ts'
import { cniAttachment, PodWorker, type PodWorkerContext } from './pod-worker.ts'
import { ProbeManager } from './probe-manager.ts'
import { RestartBackoff, type RestartBackoffOptions } from './restart-backoff.ts'
import { adoptContainers, execCommand, followLog, isRunning, listSandboxes, logPath, removeSandbox, stopContainer, streamLog, watchExit, type ContainerProcess, type Sandbox } from './runtime/index.ts'
import { defaultLogRotation, rotateLog, type LogRotationOptions } from './runtime/log-rotation.ts'
import { LogRequestError, type KubeletApi, type LogRequest } from './server.ts'
import { attachToLog } from './streaming/log-attach.ts'
import { attachToRelay } from './streaming/relay-attach.ts'
import type { PortForwardTarget } from './streaming/port-forward-upgrade.ts'
import { StreamRequestError, type AttachSession, type StreamFlags, type StreamingRuntime, type StreamTarget } from './streaming/types.ts'
import { isAlive } from '../util/proc.ts'

const podInfo = resources.find((r) => r.kind === 'Pod')!
const serviceInfo = resources.find((r) => r.kind === 'Service')!

/**
 * Whether a sandbox found on disk finished its network setup: its namespace exists and it
 * recorded the pod IPs, the last step of making it. That implies the CNI result is cached:
 * the IPs are recorded after CNI ADD returned, and ADD writes the cache before it returns.
 */
function networkReady(sandbox: Sandbox): boolean {
  if (sandbox.netns === undefined) return true
  return netnsExists(sandbox.netns) && sandbox.ips.length > 0
}

export interface KubeletOptions extends Pick<PodWorkerContext, 'client' | 'nodeName' | 'dataDir' | 'netnsPrefix' | 'hostIPs' | 'cni' | 'dns' | 'nodeAllocatable' | 'allowedHostPaths' | 'cgroups' | 'log'> {
  /** Hard eviction thresholds (memory.available is acted on) and "the node" whose memory they watch (default: cgroups.nodeMemory()). */
  eviction?: { thresholds: readonly EvictionThreshold[]; memory?: () => Promise<NodeMemory>; intervalMs?: number; pressureTransitionMs?: number; onPressureChange?: (pressure: boolean) => void }
  backoff?: RestartBackoffOptions
  /** How often every pod is synced even without news (default 10 s). */
  resyncMs?: number
  /**
   * How often running pods' configMap, secret, downwardAPI and projected volumes are read
   * again from the API (default 30 s): a pod's first sync after each period does it.
   */
  volumeRefreshMs?: number
  /** Container log rotation (default: 10 MiB × 5 files, checked every 10 s, as the kubelet). */
  logRotation?: Partial<LogRotationOptions> & { intervalMs?: number }
}

export class Kubelet implements KubeletApi, StreamingRuntime {
  readonly informer: Informer<V1Pod>
  readonly #services: Informer<V1Service>
  readonly #o: KubeletOptions
  readonly #ctx: PodWorkerContext
  readonly #sandboxListeners: Array<(sandbox: Sandbox) => void> = []
  readonly #workers = new Map<string, PodWorker>()
  #resync: NodeJS.Timeout | undefined
  #rotation: NodeJS.Timeout | undefined
  #volumeRefresh: NodeJS.Timeout | undefined
  #rotating = false
  /** The /stats/summary source (with cgroups only): `await kubelet.stats?.summary()`. */
  readonly stats: StatsCollector | undefined
  readonly eviction: EvictionManager | undefined

  constructor(options: KubeletOptions) {
    this.#o = options
    this.informer = new Informer<V1Pod>(options.client, podInfo, { fieldSelector: `spec.nodeName=${options.nodeName}`, logger: options.log })
    // Services, for the link variables containers get (the kubelet's service lister).
    this.#services = new Informer<V1Service>(options.client, serviceInfo, { logger: options.log, indexers: { [namespaceIndex]: byNamespace }, transform: slimLinkService })
    const probes = new ProbeManager((uid: string) => this.#workers.get(uid)?.kick())
    const { backoff, resyncMs: _resync, logRotation: _rotation, volumeRefreshMs: _refresh, eviction: _eviction, ...shared } = options
    const services = this.#services
    this.#ctx = {
      sandboxRemoved: (sandbox) => {
        for (const listener of this.#sandboxListeners) listener(sandbox)
      },
      ...shared,
      backoff: new RestartBackoff(backoff),
      probes,
      tokens: new TokenManager(options.client),
      serviceEnv: (pod) => serviceLinkEnv(services.get('default/kubernetes'), services.byIndex(namespaceIndex, pod.metadata?.namespace ?? 'default'), pod.spec?.enableServiceLinks !== false),
    }
    const cgroups = options.cgroups
    if (cgroups) this.stats = new StatsCollector({ nodeName: options.nodeName, nodeStartTime: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'), cgroups, pods: () => this.#statsPods() })
    const ev = options.eviction
    const memory = ev?.memory ?? (cgroups ? () => cgroups.nodeMemory() : undefined)
    if (ev && memory) {
      this.eviction = new EvictionManager({
        thresholds: ev.thresholds,
        memory,
        pods: () => this.podMemoryUsage(),
        evict: async (pod, message) => this.#workers.get(pod.metadata?.uid ?? '')?.evict(message),
        ...(ev.intervalMs !== undefined ? { intervalMs: ev.intervalMs } : {}),
        ...(ev.pressureTransitionMs !== undefined ? { pressureTransitionMs: ev.pressureTransitionMs } : {}),
        ...(ev.onPressureChange ? { onPressureChange: ev.onPressureChange } : {}),
        log: options.log,
      })
    }
  }

  /** Lists the node's pods, adopts or removes the sandboxes on disk, then starts syncing. */
  async start(signal?: AbortSignal): Promise<void> {
    this.informer.start()
    this.#services.start()
    if (!(await this.informer.waitForSync(signal)) || !(await this.#services.waitForSync(signal))) return
    await this.#adoptOrClean()
    this.informer.addHandlers({
      onAdd: (pod) => this.#update(pod),
      onUpdate: (_old, pod) => this.#update(pod),
      onDelete: (pod) => this.#gone(pod),
    })
    for (const pod of this.informer.indexer.list()) this.#update(pod)
    this.#resync = setInterval(() => {
      for (const w of this.#workers.values()) w.kick()
    }, this.#o.resyncMs ?? 10_000)
    this.#rotation = setInterval(() => void this.rotateLogs(), this.#o.logRotation?.intervalMs ?? 10_000)
    this.stats?.start()
    this.eviction?.start()
    // Marks the volumes due; the resync above (or any other sync) rewrites them.
    this.#volumeRefresh = setInterval(() => {
      for (const w of this.#workers.values()) w.refreshVolumes()
    }, this.#o.volumeRefreshMs ?? 30_000)
  }

  /** Rotates the logs of running containers that have reached the size limit. */
  async rotateLogs(): Promise<void> {
    if (this.#rotating) return
    this.#rotating = true
    const opts = { ...defaultLogRotation, ...this.#o.logRotation }
    try {
      for (const worker of this.#workers.values()) {
        for (const proc of worker.containers()) {
          if (!proc.logReopens || !isRunning(proc)) continue
          await rotateLog(proc.logPath, opts).catch((err: unknown) => this.#o.log.warn({ err, log: proc.logPath }, 'cannot rotate a container log'))
        }
      }
    } finally {
      this.#rotating = false
    }
  }

  /** Stops watching; the pods keep running for the next agent to adopt. */
  async stop(): Promise<void> {
    clearInterval(this.#resync)
    clearInterval(this.#rotation)
    clearInterval(this.#volumeRefresh)
    this.stats?.stop()
    this.eviction?.stop()
    for (const w of this.#workers.values()) w.detach()
    this.#ctx.probes.stopAll()
    await this.informer.stop()
    await this.#services.stop()
  }

  /** The running pods with their containers' working sets (from their cgroups), for the eviction manager. */
  async podMemoryUsage(): Promise<PodMemoryUsage[]> {
    const out: PodMemoryUsage[] = []
    const cgroups = this.#o.cgroups
    for (const w of this.#workers.values()) {
      if (!w.active) continue
      const podPath = await cgroups?.findPod(w.uid)
      if (!cgroups || podPath === undefined) {
        out.push({ pod: w.pod! })
        continue
      }
      const containers: Array<{ name: string; workingSetBytes: number }> = []
      for (const proc of w.containers()) {
        if (!isRunning(proc)) continue
        const usage = await cgroups.usage(cgroups.containerPath(podPath, proc.name))
        containers.push({ name: proc.name, workingSetBytes: usage.workingSetBytes ?? 0 })
      }
      out.push({ pod: w.pod!, containers })
    }
    return out
  }

  #statsPods(): StatsPod[] {
    const ts = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, 'Z')
    return [...this.#workers.values()]
      .filter((w) => w.active && w.sandbox)
      .map((w) => ({
        uid: w.uid,
        name: w.pod!.metadata!.name!,
        namespace: w.pod!.metadata!.namespace!,
        startTime: ts(w.startTime),
        containers: w.containers().filter((p) => isRunning(p)).map((p) => ({ name: p.name, startTime: p.startedAt.replace(/\.\d{3}Z$/, 'Z') })),
      }))
  }

  /** The `/stats/summary` document, from the cgroups (503 when this node runs without them). */
  async statsSummary(): Promise<Summary> {
    if (!this.stats) throw new StatsUnavailableError('this kubelet does not collect stats: it runs without cgroups (--cgroup-driver none, or none usable)')
    return this.stats.summary()
  }

  pods(): V1Pod[] {
    return this.informer.indexer.list()
  }

  #update(pod: V1Pod): void {
    const uid = pod.metadata?.uid
    if (!uid) return
    let worker = this.#workers.get(uid)
    if (!worker) {
      // A pod that finished before this agent started is left alone.
      const phase = pod.status?.phase
      if ((phase === 'Succeeded' || phase === 'Failed') && !pod.metadata?.deletionTimestamp) return
      worker = this.#newWorker(pod)
    }
    worker.pod = pod
    worker.kick()
  }

  #newWorker(pod: V1Pod): PodWorker {
    const worker = new PodWorker(this.#ctx, pod)
    this.#workers.set(worker.uid, worker)
    void worker.done.then(() => this.#workers.delete(worker.uid))
    return worker
  }

  #gone(pod: V1Pod): void {
    this.#ctx.tokens.forgetPod(pod.metadata?.uid ?? '')
    const worker = this.#workers.get(pod.metadata?.uid ?? '')
    if (!worker) return
    worker.pod = undefined
    worker.kick()
  }

  async #adoptOrClean(): Promise<void> {
    const byUid = new Map(this.informer.indexer.list().map((p) => [p.metadata!.uid!, p]))
    const kept = new Set<string>()
    const plugins = cniProcesses()
    for (const sandbox of await listSandboxes(this.#o.dataDir)) {
      const pod = byUid.get(sandbox.uid)
      const procs = await adoptContainers(sandbox)
      // Plugin calls an earlier agent left running for this sandbox: no result will come of them.
      const orphans = plugins.get(sandbox.uid) ?? []
      if (orphans.length > 0) {
        const killed = await killProcesses(orphans)
        this.#o.log.info({ pod: `${sandbox.namespace}/${sandbox.name}`, killed }, 'killed the CNI plugin calls an earlier agent left running')
      }
      if (pod && !pod.metadata?.deletionTimestamp) {
        if (networkReady(sandbox)) {
          this.#newWorker(pod).adopt(sandbox, procs)
          if (sandbox.netns) kept.add(sandbox.netns)
          this.#o.log.info({ pod: `${sandbox.namespace}/${sandbox.name}`, containers: procs.length }, 'adopted pod')
          continue
        }
        // As the kubelet does with a sandbox whose network is not ready: kill it and make a new one.
        this.#o.log.warn({ pod: `${sandbox.namespace}/${sandbox.name}` }, 'the pod sandbox has no network (the agent stopped during CNI ADD); removing it to create a new one')
        await this.#removeSandbox(sandbox, procs)
        this.#newWorker(pod)
        continue
      }
      this.#o.log.info({ pod: `${sandbox.namespace}/${sandbox.name}` }, 'removing the sandbox of a pod that is gone')
      await this.#removeSandbox(sandbox, procs)
    }
    // Namespaces of this agent that no sandbox record names (a crash between creating
    // the namespace and writing the record) and IP reservations of attachments that are gone.
    for (const name of listNetns()) {
      if (name.startsWith(`${this.#o.netnsPrefix}-`) && !kept.has(name)) await deleteNetns(name)
    }
    const valid = [...this.#workers.keys()].map((uid) => ({ containerID: uid, ifname: 'eth0' }))
    await this.#o.cni.gcNetwork(valid).catch((err: unknown) => this.#o.log.warn({ err }, 'CNI GC failed'))
  }

  async #removeSandbox(sandbox: Sandbox, procs: ContainerProcess[]): Promise<void> {
    await Promise.all(procs.map((p) => stopContainer(p, 2)))
    if (sandbox.netnsPath) await this.#o.cni.delNetwork(cniAttachment(sandbox, sandbox.netnsPath)).catch((err: unknown) => this.#o.log.warn({ err }, 'CNI DEL failed'))
    await removeSandbox(sandbox)
    this.#ctx.sandboxRemoved?.(sandbox)
    await this.#o.cgroups?.removePod(sandbox.uid)
  }

  async *logs(req: LogRequest, signal: AbortSignal): AsyncIterable<Buffer> {
    const pod = this.informer.indexer.list().find((p) => p.metadata?.namespace === req.namespace && p.metadata?.name === req.pod)
    if (!pod) throw new LogRequestError(404, `pod "${req.namespace}/${req.pod}" is not on node`)
    const worker = this.#workers.get(pod.metadata!.uid!)
    const proc = worker?.instance(req.container)
    if (!worker?.sandbox || !proc) throw new LogRequestError(400, `container "${req.container}" in pod "${req.pod}" is waiting to start: ContainerCreating`)
    const restartCount = req.previous ? proc.restartCount - 1 : proc.restartCount
    if (restartCount < 0) throw new LogRequestError(400, `previous terminated container "${req.container}" in pod "${req.pod}" not found`)
    const path = logPath(worker.sandbox.dir, req.container, restartCount)
    const opts = { tailLines: req.tailLines, sinceTime: req.since?.toISOString(), timestamps: req.timestamps, limitBytes: req.limitBytes }
    if (!req.follow || req.previous) {
      yield* streamLog(path, opts)
      return
    }
    yield* followLog(path, { ...opts, signal, until: watchExit(proc) })
  }

  /** The running container a stream names; 404 with upstream's messages otherwise. */
  #runningContainer(target: StreamTarget): { proc: ContainerProcess; sandbox: Sandbox } {
    const pod = this.informer.indexer.list().find((p) => p.metadata?.namespace === target.namespace && p.metadata?.name === target.pod)
    if (!pod) throw new StreamRequestError(404, 'pod does not exist')
    const worker = this.#workers.get(pod.metadata!.uid!)
    const proc = worker?.instance(target.container)
    if (!worker?.sandbox || !proc || !isAlive(proc.process)) throw new StreamRequestError(404, `container not found (${JSON.stringify(target.container)})`)
    return { proc, sandbox: worker.sandbox }
  }

  async execCommand(target: StreamTarget, argv: readonly string[]): Promise<[string, string[]]> {
    return execCommand(this.#runningContainer(target).proc, argv)
  }

  /**
   * A container with stdin or a tty: a session on its attach relay. Any other: its output as
   * the log records it, from now (it has no live pipes to join).
   */
  async attach(target: StreamTarget, flags: StreamFlags): Promise<AttachSession> {
    const { proc, sandbox } = this.#runningContainer(target)
    if (proc.io) return attachToRelay(proc, flags)
    return attachToLog(logPath(sandbox.dir, target.container, proc.restartCount), watchExit(proc))
  }

  /** Calls `listener` after a pod's sandbox is removed (to let go of what refers to it). */
  onSandboxRemoved(listener: (sandbox: Sandbox) => void): void {
    this.#sandboxListeners.push(listener)
  }

  /** Where `kubectl port-forward` connects for a running pod of this node. */
  portForwardTarget(namespace: string, name: string): PortForwardTarget | undefined {
    const pod = this.informer.indexer.list().find((p) => p.metadata?.namespace === namespace && p.metadata?.name === name)
    const sandbox = pod && this.#workers.get(pod.metadata!.uid!)?.sandbox
    if (!sandbox) return undefined
    return { netnsPath: sandbox.netnsPath, uid: sandbox.uid }
  }
}
