// One pod's worker: carries out the pod plan against the runtime (sandbox, CNI, processes),
// reports the pod's status, and tears everything down when the pod goes. Syncs of one pod
// never overlap; anything that may change the plan (the pod object, a container exit, a
// probe result, a backoff ending) asks for another.
import { join } from 'node:path'
import type { V1Container, V1EphemeralContainer, V1Pod, V1PodStatus } from '@kubernetes/client-node'
import { isQuantity, parseQuantityValue } from '../api/quantity.ts'
import { resources } from '../api/registry.ts'
import type { RestClient } from '../client/index.ts'
import { resolveImage } from '../images/resolve-image.ts'
import { applyAction } from '../controllers/apply-actions.ts'
import { ApiError } from '../util/errors.ts'
import type { Logger } from '../util/log.ts'
import type { CgroupManager } from './cgroups/index.ts'
import type { CniRuntime } from './cni/index.ts'
import { podHostname, podHostsFile } from './hosts-file.ts'
import { expandCommand, resolveEnv, type EnvExtra, type ObjectLookups } from './pod-env.ts'
import { fetchClaimObjects, fetchPodObjects } from './pod-objects.ts'
import { claimMounts, podClaimNames, type ClaimMount } from './claim-volumes.ts'
import { processCredentials, setprivArgs } from './security-context.ts'
import { hostPathRefusal } from './host-path-policy.ts'
import { runLifecycleHandler } from './lifecycle-hooks.ts'
import { containerTarget } from './probe-manager.ts'
import { setVolumeOwnership } from './volume-ownership.ts'
import type { TokenManager } from './token-manager.ts'
import { planPod, type PodPlan, type PodStep } from './pod-plan.ts'
import { containerSpecHash, podContainers, type ObservedContainer, type ObservedPod } from './pod-state.ts'
import { podStatus } from './pod-status.ts'
import { StartupTrace } from './startup-trace.ts'
import type { ProbeManager } from './probe-manager.ts'
import { podResolvConf } from './resolv-conf.ts'
import type { RestartBackoff } from './restart-backoff.ts'
import {
  createSandbox,
  isRunning,
  removeSandbox,
  setSandboxIPs,
  prepareMountPath,
  startContainer,
  stopContainer,
  storageDir,
  terminationMessage,
  volumePath,
  watchExit,
  writePodFiles,
  type ContainerProcess,
  type ExitStatus,
  type PodVolume,
  type Sandbox,
} from './runtime/index.ts'
import { volumeFiles } from './volume-files.ts'

const podInfo = resources.find((r) => r.kind === 'Pod')!

export interface PodWorkerContext {
  client: RestClient
  nodeName: string
  dataDir: string
  netnsPrefix: string
  hostIPs: () => string[]
  cni: CniRuntime
  dns: { clusterDNS: string[]; clusterDomain: string; hostResolvConf: string }
  backoff: RestartBackoff
  probes: ProbeManager
  /** Bound service-account tokens for projected volumes. */
  tokens: TokenManager
  /** The service-link variables for a pod's containers (service-env.ts), from the kubelet's Service cache. */
  serviceEnv: (pod: V1Pod) => Record<string, string>
  /** Told after a sandbox is removed. */
  sandboxRemoved?: (sandbox: Sandbox) => void
  /** Host path prefixes hostPath volumes may name (host-path-policy.ts); none by default. */
  allowedHostPaths?: readonly string[]
  nodeAllocatable: Record<string, string>
  /** Pod and container cgroups; none: containers run in the agent's cgroups. */
  cgroups?: CgroupManager
  log: Logger
}

/** The CNI attachment of a pod: its uid stands in for the sandbox container ID. */
export function cniAttachment(pod: { uid: string; namespace: string; name: string }, netnsPath: string) {
  return {
    containerID: pod.uid,
    netns: netnsPath,
    ifName: 'eth0',
    args: { K8S_POD_NAMESPACE: pod.namespace, K8S_POD_NAME: pod.name, K8S_POD_INFRA_CONTAINER_ID: pod.uid, K8S_POD_UID: pod.uid },
  }
}

interface Instance {
  proc: ContainerProcess
  exit?: ExitStatus
  specHash: string
  /** OOM kills its cgroup had seen when it started; more at a 137 exit means OOMKilled. */
  oomBase?: number
  oomKilled?: boolean
  /** Its termination message (terminationMessagePath, or the log's end under FallbackToLogsOnError). */
  message?: string
}

/** As the kubelet: after a preStop hook, a container still gets this long to end on TERM. */
const MIN_GRACE_AFTER_HOOK_SECONDS = 2
/** The kubelet waits for a postStart hook without a limit; weft gives up after this long. */
const POST_START_TIMEOUT_MS = 120_000

function ms(time: string | undefined): number {
  return time ? Date.parse(time) : Date.now()
}

export class PodWorker {
  readonly uid: string
  pod: V1Pod | undefined
  #ctx: PodWorkerContext
  #sandbox: Sandbox | undefined
  #instances = new Map<string, Instance>()
  #previous = new Map<string, Instance>()
  /** emptyDir volumes already given the pod's fsGroup in this sandbox. */
  #ownedVolumes = new Set<string>()
  #startErrors = new Map<string, { reason: string; message: string }>()
  #startTime = new Date()
  #lastStatus = ''
  #finished = false
  #running: Promise<void> | undefined
  #dirty = false
  #retryTimer: NodeJS.Timeout | undefined
  #sandboxFailures = 0
  #terminated = false
  /** The volumes were written for this downwardKey; a refresh from the API was asked for. */
  #volumesKey: string | undefined
  #volumesDue = false
  #lastEvent = ''
  /** The pod's claim volumes, found before its sandbox was made; they stay for the sandbox's life. */
  #claims = new Map<string, ClaimMount>()
  #claimWaits = 0
  /** The eviction manager's message once it chose this pod. */
  #evicted: string | undefined
  /** Resolves when the worker has torn the pod down. */
  readonly done: Promise<void>
  readonly #trace = new StartupTrace()
  #resolveDone!: () => void

  constructor(ctx: PodWorkerContext, pod: V1Pod) {
    this.#ctx = ctx
    this.uid = pod.metadata!.uid!
    this.pod = pod
    this.done = new Promise((r) => (this.#resolveDone = r))
  }

  /** Whether the pod still runs here: not finished, evicted or torn down. */
  get active(): boolean {
    return !this.#finished && !this.#terminated && this.#evicted === undefined && this.pod !== undefined
  }

  /** When the pod's sandbox was made (its first start on this node). */
  get startTime(): Date {
    return this.#startTime
  }

  get sandbox(): Sandbox | undefined {
    return this.#sandbox
  }

  instance(container: string, previous = false): ContainerProcess | undefined {
    return (previous ? this.#previous : this.#instances).get(container)?.proc
  }

  /** The current run of each container (running or not). */
  containers(): ContainerProcess[] {
    return [...this.#instances.values()].map((i) => i.proc)
  }

  /** Takes over a sandbox and its processes found on disk after an agent restart. */
  adopt(sandbox: Sandbox, procs: ContainerProcess[]): void {
    this.#sandbox = sandbox
    this.#startTime = new Date(sandbox.createdAt)
    // Objects may have changed while no agent ran: the first sync rewrites the volumes.
    this.#volumesKey = ''
    const all = podContainers(this.pod?.spec)
    for (const proc of procs) {
      const spec = all.find((c) => c.name === proc.name)
      if (!spec) continue
      const inst: Instance = { proc, specHash: containerSpecHash(spec) }
      this.#instances.set(proc.name, inst)
      this.#watch(inst)
      if (isRunning(proc)) this.#ctx.probes.start(this, spec)
    }
  }

  /**
   * Asks for the pod's configMap, secret, downwardAPI and projected volumes to be read
   * again from the API and rewritten where they changed (running pods only), at the next
   * sync: the kubelet's resync starts one for every pod anyway.
   */
  refreshVolumes(): void {
    if (hasPayloadVolumes(this.pod)) this.#volumesDue = true
  }

  /** Asks for a sync; coalesces with one already queued. */
  kick(): void {
    this.#dirty = true
    if (!this.#running) this.#running = this.#loop()
  }

  async #loop(): Promise<void> {
    while (this.#dirty && !this.#terminated) {
      this.#dirty = false
      try {
        await this.#sync()
      } catch (err) {
        this.#ctx.log.warn({ err, pod: this.#podName() }, 'pod sync failed')
        this.#retryIn(2000)
      }
    }
    this.#running = undefined
  }

  #podName(): string {
    return `${this.pod?.metadata?.namespace}/${this.pod?.metadata?.name}`
  }

  #retryIn(delayMs: number): void {
    clearTimeout(this.#retryTimer)
    this.#retryTimer = setTimeout(() => this.kick(), Math.max(delayMs, 10))
  }

  #key(name: string): string {
    return `${this.uid}/${name}`
  }

  #observe(): ObservedPod {
    const containers: Record<string, ObservedContainer> = {}
    const previous: Record<string, ObservedContainer> = {}
    const view = (i: Instance): ObservedContainer => ({
      name: i.proc.name,
      running: !i.exit,
      startedAt: new Date(i.proc.startedAt),
      ...(i.exit
        ? { finishedAt: new Date(i.exit.finishedAt), exitCode: i.exit.exitCode, reason: i.oomKilled ? 'OOMKilled' : (i.exit.reason ?? (i.exit.exitCode === 0 ? 'Completed' : 'Error')), ...(i.message ? { message: i.message } : {}) }
        : {}),
      restartCount: i.proc.restartCount,
      specHash: i.specHash,
    })
    for (const [name, i] of this.#instances) containers[name] = view(i)
    for (const [name, i] of this.#previous) previous[name] = view(i)
    const sandbox = this.#sandbox ? { ips: this.#sandbox.ips.length ? this.#sandbox.ips : this.#sandbox.netns === undefined ? this.#ctx.hostIPs() : [] } : undefined
    return { ...(sandbox ? { sandbox } : {}), containers, previous, startErrors: Object.fromEntries(this.#startErrors) }
  }

  #plan(pod: V1Pod): PodPlan {
    return planPod(pod, this.#observe(), {
      nowMs: Date.now(),
      backoffUntil: (name) => this.#ctx.backoff.until(this.#key(name)),
      probes: (name) => this.#ctx.probes.results(this.uid, name),
    })
  }

  async #sync(): Promise<void> {
    const pod = this.pod
    if (!pod || pod.metadata?.deletionTimestamp) return this.#terminate()
    if (this.#finished) return
    if (this.#evicted !== undefined) return this.#evictNow(pod, this.#evicted)
    const plan = this.#plan(pod)
    for (const step of plan.steps) {
      const ok = await this.#execute(pod, step)
      if (!ok) break
    }
    if ((pod.spec?.containers ?? []).every((c) => this.#instances.get(c.name)?.exit === undefined && this.#instances.has(c.name))) this.#trace.mark('containers')
    if (this.#volumesKey !== undefined && (this.#volumesDue || this.#volumesKey !== downwardKey(pod))) await this.#rewriteVolumes(pod)
    const after = this.#plan(pod)
    await this.#reportStatus(pod, after)
    if (after.finished) {
      this.#finished = true
      await this.#releaseNetwork()
      return
    }
    if (after.retryAtMs !== undefined) this.#retryIn(after.retryAtMs - Date.now())
  }

  async #execute(pod: V1Pod, step: PodStep): Promise<boolean> {
    switch (step.type) {
      case 'CreateSandbox':
        return (await this.#mountClaims(pod)) && this.#createSandbox(pod)
      case 'KillContainer': {
        const inst = this.#instances.get(step.name)
        if (inst && !inst.exit) {
          this.#ctx.log.info({ pod: this.#podName(), container: step.name, reason: step.reason }, 'killing container')
          this.#ctx.probes.stop(this.uid, step.name)
          await this.#killContainer(pod, inst, pod.spec?.terminationGracePeriodSeconds ?? 30)
        }
        return true
      }
      case 'StartContainer':
        await this.#startContainer(pod, step.name)
        return true
    }
  }

  async #createSandbox(pod: V1Pod): Promise<boolean> {
    const meta = { uid: this.uid, namespace: pod.metadata!.namespace!, name: pod.metadata!.name! }
    const hostNetwork = pod.spec?.hostNetwork === true
    // A new sandbox starts the pod's containers from scratch: their previous runs stay as lastState.
    for (const [name, inst] of this.#instances) this.#previous.set(name, inst)
    this.#instances.clear()
    this.#ownedVolumes.clear()
    let sandbox: Sandbox | undefined
    try {
      sandbox = await createSandbox({
        dataDir: this.#ctx.dataDir,
        ...meta,
        hostname: podHostname(pod, this.#ctx.dns.clusterDomain).hostname,
        ...(hostNetwork ? {} : { netns: `${this.#ctx.netnsPrefix}-${this.uid}` }),
        hostIPC: pod.spec?.hostIPC === true,
        pid: pod.spec?.hostPID ? 'host' : pod.spec?.shareProcessNamespace ? 'pod' : 'container',
      })
      this.#trace.mark('sandbox')
      let ips = this.#ctx.hostIPs()
      if (!hostNetwork) {
        const result = await this.#ctx.cni.addNetwork({ ...cniAttachment(meta, sandbox.netnsPath!), capabilityArgs: { portMappings: portMappings(pod), bandwidth: bandwidthLimits(pod) } })
        ips = (result.ips ?? []).map((ip) => ip.address.split('/')[0]!)
        if (ips.length === 0) throw new Error('the CNI plugins returned no IP address')
        this.#trace.mark('network')
      }
      await writePodFiles(sandbox, {
        hosts: podHostsFile(pod, ips, { clusterDomain: this.#ctx.dns.clusterDomain }),
        resolvConf: podResolvConf(pod, this.#ctx.dns),
      })
      await this.#ctx.cgroups?.podCgroups(pod)
      // Last: a sandbox whose record has no IPs is one a restarted agent makes again.
      await setSandboxIPs(sandbox, hostNetwork ? [] : ips)
      this.#trace.mark('sandboxReady')
      this.#sandbox = sandbox
      this.#sandboxFailures = 0
      this.#startTime = new Date()
      return true
    } catch (err) {
      this.#ctx.log.warn({ err, pod: this.#podName() }, 'failed to create pod sandbox')
      if (sandbox) {
        if (sandbox.netnsPath) await this.#ctx.cni.delNetwork(cniAttachment(meta, sandbox.netnsPath)).catch(() => undefined)
        await removeSandbox(sandbox).catch(() => undefined)
        await this.#ctx.cgroups?.removePod(this.uid).catch(() => undefined)
      }
      this.#sandboxFailures++
      this.#retryIn(Math.min(1000 * 2 ** this.#sandboxFailures, 60_000))
      return false
    }
  }

  /**
   * The volume manager's wait before a sandbox: every claim volume bound and its path ready.
   * Until then the pod stays ContainerCreating, says why in a FailedMount event, and looks
   * again (each second, backing off to 16 s).
   */
  async #mountClaims(pod: V1Pod): Promise<boolean> {
    this.#claims.clear()
    if (podClaimNames(pod).length === 0) return true
    let waiting: string
    try {
      const found = claimMounts(pod, await fetchClaimObjects(this.#ctx.client, pod), { storageDir: storageDir(this.#ctx.dataDir), allowedHostPaths: this.#ctx.allowedHostPaths ?? [] })
      if ('mounts' in found) {
        for (const m of found.mounts) await prepareMountPath(m)
        for (const m of found.mounts) this.#claims.set(m.volume, m)
        this.#claimWaits = 0
        return true
      }
      waiting = found.waiting
    } catch (err) {
      waiting = `Unable to attach or mount volumes: ${err instanceof Error ? err.message : String(err)}`
    }
    this.#event(pod, 'Warning', 'FailedMount', waiting)
    this.#retryIn(Math.min(1000 * 2 ** this.#claimWaits++, 16_000))
    return false
  }

  async #startContainer(pod: V1Pod, name: string): Promise<void> {
    const sandbox = this.#sandbox!
    const spec = podContainers(pod.spec).find((c) => c.name === name)!
    const before = this.#instances.get(name)
    const key = this.#key(name)
    if (before) {
      this.#previous.set(name, before)
      this.#ctx.backoff.restarted(key, ms(before.proc.startedAt), ms(before.exit?.finishedAt))
    }
    const restartCount = before ? before.proc.restartCount + 1 : (this.#previous.get(name)?.proc.restartCount ?? -1) + 1
    // A sandbox adopted after an agent restart: its claim volumes are found again first.
    if (this.#claims.size < podClaimNames(pod).length && !(await this.#mountClaims(pod))) return
    try {
      const credentials = processCredentials(pod, spec)
      if (credentials instanceof Error) throw new ConfigError(credentials.message)
      const lookups = await fetchPodObjects(this.#ctx.client, pod, 'all', this.#ctx.tokens)
      const envResult = resolveEnv(pod, spec, lookups, { ...this.#envExtra(), serviceEnv: this.#ctx.serviceEnv(pod) })
      if ('error' in envResult) throw new ConfigError(envResult.error)
      const volumes = podVolumes(pod, lookups, this.#envExtra())
      for (const [volume, path] of volumes.hostPaths) {
        const refused = hostPathRefusal(volume, path, this.#ctx.allowedHostPaths ?? [])
        if (refused) throw new ConfigError(refused)
      }
      await writePodFiles(sandbox, { volumes: volumes.written })
      await applyFsGroup(pod, sandbox, volumes.written, this.#ownedVolumes)
      this.#trace.mark('config')
      this.#volumesKey = downwardKey(pod)
      const argv = expandCommand(resolveImage(spec).command, envResult.env)
      const cgroups = await this.#ctx.cgroups?.containerCgroups(pod, spec)
      const oomBase = cgroups ? await this.#ctx.cgroups!.oomKills(this.uid, name) : undefined
      const proc = await startContainer(sandbox, {
        name,
        argv,
        // A terminal's type, as container runtimes set it for tty containers.
        env: [...(spec.tty && !('TERM' in envResult.env) ? [{ name: 'TERM', value: 'xterm' }] : []), ...Object.entries(envResult.env).map(([n, value]) => ({ name: n, value }))],
        workingDir: spec.workingDir,
        mounts: mountsOf(sandbox, spec, this.#mountedPaths(volumes.hostPaths), this.#readOnlyClaims()),
        restartCount,
        privileges: setprivArgs(credentials),
        readOnlyRoot: spec.securityContext?.readOnlyRootFilesystem === true,
        ...this.#sharedPidOf(spec),
        hostDevices: credentials.privileged,
        // Only a privileged container writes the host's files; the others get a layer of their own.
        root: credentials.privileged ? 'host' : 'overlay',
        io: { stdin: spec.stdin ? (spec.stdinOnce ? 'once' : 'open') : 'none', tty: spec.tty === true },
        terminationMessagePath: spec.terminationMessagePath || '/dev/termination-log',
        ...(cgroups ? { cgroups } : {}),
      })
      const inst: Instance = { proc, specHash: containerSpecHash(spec), ...(oomBase !== undefined ? { oomBase } : {}) }
      this.#instances.set(name, inst)
      this.#startErrors.delete(name)
      this.#watch(inst)
      await this.#postStart(pod, spec, inst)
      if (!inst.exit) this.#ctx.probes.start(this, spec)
    } catch (err) {
      const reason = err instanceof ConfigError ? 'CreateContainerConfigError' : 'CreateContainerError'
      const message = err instanceof Error ? err.message : String(err)
      this.#ctx.log.warn({ pod: this.#podName(), container: name, reason, message }, 'container did not start')
      this.#startErrors.set(name, { reason, message })
      this.#event(pod, 'Warning', 'Failed', `Error: container ${name}: ${message}`)
      // Retries of a container that cannot start back off like crashes do.
      const now = Date.now()
      this.#ctx.backoff.restarted(key, now, now)
      this.#ctx.backoff.exited(key, now)
      if (before) this.#instances.set(name, before)
    }
  }

  /**
   * Rewrites the volumes whose contents come from the API or the pod (configMap, secret,
   * downwardAPI, projected) from fresh objects, reading only the objects volumes refer to.
   * emptyDirs are the containers' and left alone. On failure the running containers keep
   * what they have.
   */
  async #rewriteVolumes(pod: V1Pod): Promise<void> {
    const sandbox = this.#sandbox
    this.#volumesDue = false
    if (!sandbox || ![...this.#instances.values()].some((i) => !i.exit)) return
    const key = downwardKey(pod)
    if (!hasPayloadVolumes(pod)) {
      this.#volumesKey = key
      return
    }
    try {
      const volumes = podVolumes(pod, await fetchPodObjects(this.#ctx.client, pod, 'volumes', this.#ctx.tokens), this.#envExtra())
      const payloads = volumes.written.filter((v) => v.files !== undefined)
      await writePodFiles(sandbox, { volumes: payloads })
      await applyFsGroup(pod, sandbox, payloads, this.#ownedVolumes)
      this.#volumesKey = key
    } catch (err) {
      const message = `cannot update the pod's volumes, the containers keep the previous contents: ${err instanceof Error ? err.message : String(err)}`
      this.#ctx.log.warn({ pod: this.#podName(), err }, 'volume refresh failed')
      this.#event(pod, 'Warning', 'FailedMount', message)
    }
  }

  /**
   * Records an Event on the pod, once per distinct message in a row. Best effort and in
   * the background (applyAction drops a failed create): an Event never holds up or fails a sync.
   */
  /** The host paths of the pod's hostPath and claim volumes. */
  #mountedPaths(hostPaths: Map<string, string>): Map<string, string> {
    const all = new Map(hostPaths)
    for (const [name, m] of this.#claims) all.set(name, m.path)
    return all
  }

  #readOnlyClaims(): Set<string> {
    return new Set([...this.#claims.values()].filter((m) => m.readOnly).map((m) => m.volume))
  }

  #event(pod: V1Pod, type: 'Normal' | 'Warning', reason: string, message: string): void {
    const text = `${reason} ${message}`
    if (text === this.#lastEvent) return
    this.#lastEvent = text
    const event = { involved: { apiVersion: 'v1', kind: 'Pod', metadata: pod.metadata }, type, reason, message }
    void applyAction({ client: this.#ctx.client, component: 'kubelet', host: this.#ctx.nodeName }, { verb: 'event', event })
  }

  #envExtra(): EnvExtra {
    const ips = this.#sandbox?.ips.length ? this.#sandbox.ips : this.#ctx.hostIPs()
    return { podIP: ips[0], podIPs: ips, hostIP: this.#ctx.hostIPs()[0], hostIPs: this.#ctx.hostIPs(), nodeName: this.#ctx.nodeName, nodeAllocatable: this.#ctx.nodeAllocatable }
  }

  /** An ephemeral container with targetContainerName shares that container's pid namespace. */
  #sharedPidOf(spec: V1Container): { pidNamespaceOf?: ContainerProcess['process'] } {
    const target = (spec as V1EphemeralContainer).targetContainerName
    if (!target) return {}
    const inst = this.#instances.get(target)
    if (!inst || inst.exit) throw new Error(`the target container ${target} is not running`)
    return { pidNamespaceOf: inst.proc.process }
  }

  #specOf(name: string): V1Container | undefined {
    const spec = this.pod?.spec
    return podContainers(spec).find((c) => c.name === name)
  }

  #watch(inst: Instance): void {
    void watchExit(inst.proc).then(async (exit) => {
      // As the runtime reports it: a SIGKILL that the cgroup's OOM killer sent.
      if (exit.exitCode === 137 && this.#ctx.cgroups && !inst.exit) {
        const kills = await this.#ctx.cgroups.oomKills(this.uid, inst.proc.name).catch(() => 0)
        if (kills > (inst.oomBase ?? 0)) inst.oomKilled = true
      }
      const policy = this.#specOf(inst.proc.name)?.terminationMessagePolicy
      inst.message = await terminationMessage(inst.proc, exit.exitCode, policy).catch(() => undefined)
      inst.exit ??= exit
      this.#ctx.backoff.exited(this.#key(inst.proc.name), ms(exit.finishedAt))
      this.#ctx.probes.stop(this.uid, inst.proc.name)
      this.kick()
    })
  }

  async #reportStatus(pod: V1Pod, plan: PodPlan): Promise<void> {
    const status: V1PodStatus = podStatus(pod, this.#observe(), plan, {
      hostIPs: this.#ctx.hostIPs(),
      now: new Date(),
      startTime: this.#startTime,
      probes: (name) => this.#ctx.probes.results(this.uid, name),
    })
    if (this.#evicted !== undefined) evictedStatus(status, this.#evicted)
    const text = JSON.stringify(withoutTimes(status))
    // Sent already, and the API still says so: nothing to do. Someone else may have changed
    // what this kubelet owns (the node lifecycle controller marks pods not Ready while the
    // node is silent): then it is said again, as upstream's status manager reconciles.
    if (text === this.#lastStatus && !ownedStatusDiffers(pod.status, status)) return
    try {
      await this.#ctx.client.patch(podInfo, pod.metadata!.name!, pod.metadata!.namespace, { status }, 'merge', { subresource: 'status' })
      this.#lastStatus = text
      this.#traceStatus(status)
    } catch (err) {
      if (err instanceof ApiError && err.code === 404) return
      throw err
    }
  }

  #traceStatus(status: V1PodStatus): void {
    if (status.containerStatuses?.length && status.containerStatuses.every((c) => c.state?.running)) this.#trace.mark('runningStatus')
    if (status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) this.#trace.mark('ready')
    const record = this.#trace.finish()
    if (record) this.#ctx.log.info({ pod: this.#podName(), uid: this.uid, ...record }, 'pod startup')
  }

  async #releaseNetwork(): Promise<void> {
    const sandbox = this.#sandbox
    if (!sandbox?.netnsPath) return
    await this.#ctx.cni.delNetwork(cniAttachment(sandbox, sandbox.netnsPath))
  }

  /** Stops the containers (with the pod's grace period), removes the network and sandbox, and confirms the deletion. */
  /**
   * Stops a container as the kubelet kills one: its preStop hook first, within the grace
   * period, then TERM with what is left of it (2 s at least), then KILL.
   */
  async #killContainer(pod: V1Pod | undefined, inst: Instance, graceSeconds: number): Promise<void> {
    const spec = this.#specOf(inst.proc.name)
    const preStop = spec?.lifecycle?.preStop
    let grace = graceSeconds
    if (preStop && pod && this.#sandbox && graceSeconds > 0) {
      const started = Date.now()
      const result = await runLifecycleHandler(preStop, containerTarget(this.#sandbox, inst.proc, spec!), graceSeconds * 1000)
      if (!result.ok) {
        this.#ctx.log.warn({ pod: this.#podName(), container: inst.proc.name, message: result.message }, 'preStop hook failed')
        this.#event(pod, 'Warning', 'FailedPreStopHook', result.message)
      }
      grace = Math.max(MIN_GRACE_AFTER_HOOK_SECONDS, graceSeconds - Math.floor((Date.now() - started) / 1000))
    }
    inst.exit = await stopContainer(inst.proc, grace)
  }

  /** postStart: a failure kills the container (restarted as its restart policy says), as the kubelet does. */
  async #postStart(pod: V1Pod, spec: V1Container, inst: Instance): Promise<void> {
    const postStart = spec.lifecycle?.postStart
    if (!postStart || !this.#sandbox) return
    const result = await runLifecycleHandler(postStart, containerTarget(this.#sandbox, inst.proc, spec), POST_START_TIMEOUT_MS)
    if (result.ok || inst.exit) return
    this.#ctx.log.warn({ pod: this.#podName(), container: spec.name, message: result.message }, 'postStart hook failed')
    this.#event(pod, 'Warning', 'FailedPostStartHook', result.message)
    await this.#killContainer(pod, inst, pod.spec?.terminationGracePeriodSeconds ?? 30)
  }

  async #terminate(): Promise<void> {
    const pod = this.pod
    const grace = pod?.metadata?.deletionGracePeriodSeconds ?? pod?.spec?.terminationGracePeriodSeconds ?? 30
    this.#ctx.probes.stopPod(this.uid)
    await Promise.all(
      [...this.#instances.values()].map(async (inst) => {
        if (!inst.exit) await this.#killContainer(pod, inst, grace)
      }),
    )
    const sandbox = this.#sandbox
    if (sandbox) {
      if (sandbox.netnsPath) await this.#ctx.cni.delNetwork(cniAttachment(sandbox, sandbox.netnsPath))
      await removeSandbox(sandbox)
      this.#ctx.sandboxRemoved?.(sandbox)
    }
    await this.#ctx.cgroups?.removePod(this.uid)
    this.#sandbox = undefined
    this.#ctx.backoff.forget(`${this.uid}/`)
    this.#terminated = true
    clearTimeout(this.#retryTimer)
    if (pod?.metadata?.deletionTimestamp) {
      await this.#ctx.client
        .delete(podInfo, pod.metadata.name!, pod.metadata.namespace, { gracePeriodSeconds: 0, preconditions: { uid: this.uid } })
        .catch((err: unknown) => {
          if (!(err instanceof ApiError && (err.code === 404 || err.code === 409))) throw err
        })
    }
    this.#resolveDone()
  }

  /**
   * Fails the pod as the eviction manager does: its containers are killed (1 s grace, as
   * for a hard threshold) and it is reported Failed with reason Evicted and this message.
   */
  evict(message: string): void {
    if (this.#finished || this.#evicted !== undefined) return
    this.#evicted = message
    this.kick()
  }

  async #evictNow(pod: V1Pod, message: string): Promise<void> {
    this.#ctx.probes.stopPod(this.uid)
    await Promise.all(
      [...this.#instances.values()].map(async (inst) => {
        if (!inst.exit) inst.exit = await stopContainer(inst.proc, 1)
      }),
    )
    this.#event(pod, 'Warning', 'Evicted', message)
    await this.#reportStatus(pod, { ...this.#plan(pod), steps: [], finished: 'Failed' })
    this.#finished = true
    await this.#releaseNetwork()
  }

  /** Stops timers without touching the pod (the agent is shutting down; pods keep running). */
  detach(): void {
    this.#terminated = true
    clearTimeout(this.#retryTimer)
  }
}

class ConfigError extends Error {}

/** What the kubelet writes for an evicted pod: Failed, Evicted, and the DisruptionTarget condition. */
function evictedStatus(status: V1PodStatus, message: string): void {
  status.phase = 'Failed'
  status.reason = 'Evicted'
  status.message = message
  const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z') as unknown as Date
  status.conditions = [...(status.conditions ?? []).filter((c) => c.type !== 'DisruptionTarget'), { type: 'DisruptionTarget', status: 'True', reason: 'TerminationByKubelet', message, lastTransitionTime: now }]
}

/** Whether the API's status disagrees with the kubelet's on its phase or the status of a condition the kubelet sets. */
function ownedStatusDiffers(api: V1PodStatus | undefined, ours: V1PodStatus): boolean {
  if ((api?.phase ?? '') !== (ours.phase ?? '')) return true
  for (const c of ours.conditions ?? []) {
    if (api?.conditions?.find((a) => a.type === c.type)?.status !== c.status) return true
  }
  return false
}

function withoutTimes(status: V1PodStatus): unknown {
  return { ...status, conditions: status.conditions?.map((c) => ({ ...c, lastTransitionTime: undefined })) }
}

function portMappings(pod: V1Pod) {
  const out: { hostPort: number; containerPort: number; protocol: 'tcp' | 'udp' | 'sctp'; hostIP?: string }[] = []
  for (const c of pod.spec?.containers ?? []) {
    for (const p of c.ports ?? []) {
      if (!p.hostPort) continue
      out.push({ hostPort: p.hostPort, containerPort: p.containerPort, protocol: (p.protocol ?? 'TCP').toLowerCase() as 'tcp', ...(p.hostIP ? { hostIP: p.hostIP } : {}) })
    }
  }
  return out
}

/** The kubelet's bandwidth annotations (bits per second), for the bandwidth plugin. */
export function bandwidthLimits(pod: V1Pod): { ingressRate?: number; ingressBurst?: number; egressRate?: number; egressBurst?: number } {
  const out: { ingressRate?: number; ingressBurst?: number; egressRate?: number; egressBurst?: number } = {}
  const annotations = pod.metadata?.annotations ?? {}
  for (const dir of ['ingress', 'egress'] as const) {
    const text = annotations[`kubernetes.io/${dir}-bandwidth`]
    if (!text) continue
    const rate = parseQuantityValue(text)
    if (rate === undefined || rate <= 0) throw new Error(`annotation kubernetes.io/${dir}-bandwidth "${text}" is not a positive quantity`)
    out[`${dir}Rate`] = Math.round(rate)
    // As the kubelet: no burst limit of its own.
    out[`${dir}Burst`] = 2 ** 31 - 1
  }
  return out
}

/** The volumes weft writes into the pod directory, and the hostPath ones it mounts as they are. */
function podVolumes(pod: V1Pod, lookups: ObjectLookups, extra: EnvExtra): { written: PodVolume[]; hostPaths: Map<string, string> } {
  const written: PodVolume[] = []
  const hostPaths = new Map<string, string>()
  for (const volume of pod.spec?.volumes ?? []) {
    // Claim volumes are found before the sandbox (#mountClaims) and mounted from their host paths.
    if (volume.persistentVolumeClaim) continue
    if (volume.emptyDir) {
      const { medium, sizeLimit } = volume.emptyDir
      const limit = sizeLimit !== undefined && isQuantity(sizeLimit) ? parseQuantityValue(sizeLimit) : undefined
      written.push({ name: volume.name, ...(medium === 'Memory' ? { memory: true, ...(limit !== undefined && limit > 0 ? { sizeLimit: limit } : {}) } : {}) })
      continue
    }
    const result = volumeFiles(pod, volume, lookups, extra)
    if ('error' in result) throw new ConfigError(result.error)
    if ('hostPath' in result) hostPaths.set(volume.name, result.hostPath)
    else written.push({ name: volume.name, files: result.files, ...(result.memory ? { memory: true } : {}) })
  }
  return { written, hostPaths }
}

/**
 * fsGroup: the pod's volumes (not hostPath ones) belong to its group. An emptyDir is done once
 * per sandbox (`owned` remembers it), as the kubelet does at volume set-up, not at every
 * container start; the other kinds whenever they are written (their files are new).
 */
async function applyFsGroup(pod: V1Pod, sandbox: Sandbox, volumes: readonly PodVolume[], owned: Set<string>): Promise<void> {
  const sc = pod.spec?.securityContext
  if (sc?.fsGroup === undefined) return
  for (const v of volumes) {
    const emptyDir = v.files === undefined
    if (emptyDir && owned.has(v.name)) continue
    await setVolumeOwnership(volumePath(sandbox.dir, v.name), sc.fsGroup, !emptyDir, sc.fsGroupChangePolicy)
    if (emptyDir) owned.add(v.name)
  }
}

/** Whether the pod has volumes whose contents come from the API or the pod itself (and may change while it runs). */
function hasPayloadVolumes(pod: V1Pod | undefined): boolean {
  return (pod?.spec?.volumes ?? []).some((v) => v.configMap || v.secret || v.downwardAPI || v.projected)
}

/** What downwardAPI volume files may show of the pod: a change rewrites the volumes at once. */
function downwardKey(pod: V1Pod): string {
  const m = pod.metadata ?? {}
  return JSON.stringify([m.name, m.namespace, m.uid, m.labels ?? {}, m.annotations ?? {}])
}

function mountsOf(sandbox: Sandbox, spec: V1Container, hostPaths: Map<string, string>, readOnlyVolumes: ReadonlySet<string>) {
  return (spec.volumeMounts ?? []).map((m) => {
    const host = hostPaths.get(m.name)
    const source = host !== undefined ? join(host, m.subPath ?? '') : volumePath(sandbox.dir, m.name, m.subPath ?? '')
    // A subPath may not lead out of its volume through a link (one a container made, say).
    const within = host ?? volumePath(sandbox.dir, m.name)
    return { source, target: m.mountPath, readOnly: m.readOnly === true || readOnlyVolumes.has(m.name), ...(m.subPath ? { within } : {}) }
  })
}
