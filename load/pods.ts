// `weft load --from-pods N`: N load-generator pods (image weft/load) spread over nodes, so
// the load comes from inside the pod network as real clients' does. They are created with
// their jobs, followed through their logs until each says it is ready, started together
// over attach (one start time for all), and their seconds are merged as they arrive; at the
// end their snapshots merge exactly. The pods are deleted afterwards, whatever happened.
import type { RestClient, ServerAddress } from '../src/client/rest-client.ts'
import { resources } from '../src/api/registry.ts'
import { isNotFound } from '../src/util/errors.ts'
import { objectAt, stringAt } from './json-fields.ts'
import type { LoadJob } from './job.ts'
import { attachStdin, type PodStdin } from './pod-attach.ts'
import { followPodLines } from './pod-log-lines.ts'
import { chooseNodes, loadContainer, loadPodManifest, newRunId, podName, podState, PodsError, runLabel, splitPlan, spreadOverNodes } from './pod-spec.ts'
import { mergeSnapshots, mergeWindows } from './recorder.ts'
import type { LoadPlan, Progress, ResolvedTarget, RunSnapshot, WindowSnapshot } from './types.ts'
import { WindowMerger } from './window-merger.ts'
import { formatLine, parseWorkerLine, type WorkerMessage } from './worker-protocol.ts'

const podInfo = resources.find((r) => r.kind === 'Pod')!
const nodeInfo = resources.find((r) => r.kind === 'Node')!

export interface FromPodsOptions {
  client: RestClient
  /** Where the API is (attach opens a WebSocket there). */
  address: ServerAddress
  namespace: string
  count: number
  /** Nodes to use (default: every Ready, schedulable node), round-robin. */
  nodes?: string[]
  target: ResolvedTarget
  /** The whole run's plan: rates and the request limit are shared out. */
  plan: LoadPlan
  image?: string
  runId?: string
  /** How long pods may take to run and say they are ready (default 120 s). */
  readyTimeoutMs?: number
  /** The common start is this far after the last pod was told (default 1 s). */
  startDelayMs?: number
  /** Aborting before the start fails the run; after it, stops the pods and returns what they recorded. */
  signal?: AbortSignal
  /** On SIGINT/SIGTERM delete the pods and exit (default true). */
  handleSignals?: boolean
  /** Each second merged over every generator, in order. */
  onWindow?(window: WindowSnapshot): void
  /** Once a second: the generators' progress summed (p50/p99: the highest of theirs). */
  onProgress?(progress: Progress): void
  /** Called with the common start (epoch ms) once every pod was told it: a scenario's clock starts there. */
  onStart?(atMs: number): void
  /** What happens, for people (pods created, ready, started; lines a pod printed that are not messages). */
  onStatus?(message: string): void
}

export interface FromPodsResult {
  runId: string
  snapshot: RunSnapshot
  /** Each generator: its pod, node, and requests it sent. */
  generators: { name: string; node: string; sent: number }[]
  /** The run was stopped early (signal): the snapshot holds what was recorded until then. */
  aborted: boolean
}

interface Generator {
  index: number
  name: string
  node: string
  phase: string
  pod?: unknown
  following: boolean
  ready: boolean
  progress?: Progress
  snapshot?: RunSnapshot
  failure?: string
  stdin?: PodStdin
}

const pollMs = 500
const deleteWaitMs = 30_000

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve()
    const timer = setTimeout(done, ms)
    signal?.addEventListener('abort', done, { once: true })
    function done(): void {
      clearTimeout(timer)
      signal?.removeEventListener('abort', done)
      resolve()
    }
  })
}

function sumProgress(all: Progress[]): Progress {
  const totals = all.map((p) => p.totalMs).filter((t): t is number => t !== undefined)
  return {
    elapsedMs: Math.max(...all.map((p) => p.elapsedMs)),
    totalMs: totals.length ? Math.max(...totals) : undefined,
    sent: all.reduce((s, p) => s + p.sent, 0),
    done: all.reduce((s, p) => s + p.done, 0),
    errors: all.reduce((s, p) => s + p.errors, 0),
    rate: all.reduce((s, p) => s + p.rate, 0),
    p50: Math.max(...all.map((p) => p.p50)),
    p99: Math.max(...all.map((p) => p.p99)),
  }
}

/** Deletes every pod of the run and waits (up to 30 s) until they are gone. */
export async function deleteRunPods(client: RestClient, namespace: string, runId: string, waitMs = deleteWaitMs): Promise<void> {
  const labelSelector = `${runLabel}=${runId}`
  await client.request('DELETE', `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods`, { apiVersion: 'v1', kind: 'DeleteOptions', gracePeriodSeconds: 5 }, { query: { labelSelector } })
  const deadline = Date.now() + waitMs
  while (Date.now() < deadline) {
    const { items } = await client.list(podInfo, { namespace, labelSelector })
    if (items.length === 0) return
    await sleep(250)
  }
  throw new PodsError('GeneratorFailed', `load pods of run ${runId} in ${namespace} were not gone within ${waitMs / 1000} s; delete them with: kubectl delete pods -n ${namespace} -l ${labelSelector}`)
}

export async function runFromPods(o: FromPodsOptions): Promise<FromPodsResult> {
  const plans = splitPlan(o.plan, o.count)
  const { items: nodes } = await o.client.listAll(nodeInfo)
  const placement = spreadOverNodes(o.count, chooseNodes(nodes, o.nodes))
  const runId = o.runId ?? newRunId()
  if (!/^[a-z0-9]{1,16}$/.test(runId)) throw new PodsError('InvalidOption', 'a run id is 1 to 16 lower-case letters and digits')
  const status = (message: string): void => o.onStatus?.(message)
  const generators: Generator[] = placement.map((node, index) => ({ index, name: podName(runId, index), node, phase: 'Pending', following: false, ready: false }))
  const stopFollowing = new AbortController()
  let stopSent = false
  let settle: (() => void) | undefined
  const changed = (): void => settle?.()
  const failed = (): Generator | undefined => generators.find((g) => g.failure !== undefined)
  const merger = new WindowMerger(o.count, mergeWindows, (w) => o.onWindow?.(w))

  const onSignal = (signal: NodeJS.Signals): void => {
    status(`${signal}: deleting the load pods of run ${runId}`)
    stopFollowing.abort()
    const exit = (): never => process.exit(130)
    deleteRunPods(o.client, o.namespace, runId, 10_000).then(exit, exit)
  }
  const handleSignals = o.handleSignals ?? true
  if (handleSignals) {
    process.once('SIGINT', onSignal)
    process.once('SIGTERM', onSignal)
  }

  const receive = (g: Generator, message: WorkerMessage): void => {
    switch (message.type) {
      case 'ready':
        g.ready = true
        break
      case 'progress':
        g.progress = { elapsedMs: message.elapsedMs, totalMs: message.totalMs, sent: message.sent, done: message.done, errors: message.errors, rate: message.rate, p50: message.p50, p99: message.p99 }
        break
      case 'window': {
        const { type: _, ...window } = message
        merger.add(g.index, window)
        break
      }
      case 'done':
        // Cut short, and not by us: its pod was deleted or evicted mid-run.
        if (message.stopped && !stopSent) g.failure ??= 'it was stopped before the end of the run (SIGTERM: its pod deleted or evicted?)'
        else g.snapshot = message.snapshot
        break
      case 'error':
        g.failure ??= message.message
        break
      case 'heartbeat':
        break
    }
    changed()
  }

  const follow = async (g: Generator): Promise<void> => {
    g.following = true
    let seen = 0
    let quietRetries = 0
    while (!stopFollowing.signal.aborted && g.snapshot === undefined && g.failure === undefined) {
      const before = seen
      const { lines, error } = await followPodLines(o.client, o.namespace, g.name, loadContainer, (line) => {
        if (!line.startsWith('{')) return status(`${g.name}: ${line.slice(0, 500)}`)
        try {
          receive(g, parseWorkerLine(line))
        } catch (err) {
          status(`${g.name}: ignored a malformed line: ${(err as Error).message}`)
        }
      }, { skip: seen, signal: stopFollowing.signal })
      seen = Math.max(seen, lines)
      if (stopFollowing.signal.aborted || g.snapshot !== undefined || g.failure !== undefined) break
      // The stream ended without the pod's last word: it exited, or the stream broke.
      const pod = await o.client.get(podInfo, g.name, o.namespace).catch((err: unknown) => (isNotFound(err) ? undefined : g.pod))
      if (pod === undefined) g.failure = 'its pod was deleted'
      else if (['Succeeded', 'Failed'].includes(stringAt(objectAt(pod, 'status'), 'phase') ?? '')) g.failure = `it ended without a result: ${podState(pod)}`
      else if (seen === before && ++quietRetries > 20) g.failure = `its log could not be read${error ? `: ${error.message}` : ''}`
      if (seen > before) quietRetries = 0
      if (g.failure !== undefined) break
      await sleep(pollMs, stopFollowing.signal)
    }
    changed()
  }

  /** Polls the pods: phases, followers started once a container runs, vanished pods. */
  const watchPods = async (): Promise<void> => {
    while (!stopFollowing.signal.aborted) {
      try {
        const { items } = await o.client.list(podInfo, { namespace: o.namespace, labelSelector: `${runLabel}=${runId}` })
        const byName = new Map(items.map((p) => [stringAt(objectAt(p, 'metadata'), 'name') ?? '', p]))
        for (const g of generators) {
          const pod = byName.get(g.name)
          if (!pod) {
            if (g.snapshot === undefined) g.failure ??= 'its pod was deleted'
            continue
          }
          g.pod = pod
          g.phase = stringAt(objectAt(pod, 'status'), 'phase') ?? 'Pending'
          if (!g.following && ['Running', 'Succeeded', 'Failed'].includes(g.phase)) void follow(g)
        }
        changed()
      } catch (err) {
        status(`listing the load pods failed (retrying): ${(err as Error).message}`)
      }
      await sleep(pollMs, stopFollowing.signal)
    }
  }

  /** Resolves when `done()` holds, a generator failed, the deadline passed or `signal` aborted. */
  const until = async (done: () => boolean, deadline: number, signal?: AbortSignal): Promise<'ok' | 'failed' | 'timeout' | 'aborted'> => {
    for (;;) {
      if (failed()) return 'failed'
      if (done()) return 'ok'
      if (signal?.aborted) return 'aborted'
      const left = deadline - Date.now()
      if (left <= 0) return 'timeout'
      await new Promise<void>((resolve) => {
        const timer = setTimeout(finish, Math.min(left, 1000))
        signal?.addEventListener('abort', finish, { once: true })
        settle = finish
        function finish(): void {
          clearTimeout(timer)
          signal?.removeEventListener('abort', finish)
          settle = undefined
          resolve()
        }
      })
    }
  }

  const failure = (g: Generator): PodsError => new PodsError('GeneratorFailed', `load pod ${g.name} on node ${g.node} failed: ${g.failure}`)
  let progressTimer: NodeJS.Timeout | undefined
  const run = async (): Promise<FromPodsResult> => {
    status(`run ${runId}: creating ${o.count} load pod${o.count === 1 ? '' : 's'} in ${o.namespace} on ${[...new Set(placement)].join(', ')}`)
    for (const g of generators) {
      const job: LoadJob = { generator: g.name, target: o.target, plan: plans[g.index]! }
      await o.client.create(podInfo, loadPodManifest({ runId, index: g.index, namespace: o.namespace, node: g.node, job, image: o.image }) as never, { namespace: o.namespace })
    }
    void watchPods()
    const readyTimeoutMs = o.readyTimeoutMs ?? 120_000
    const ready = await until(() => generators.every((g) => g.ready), Date.now() + readyTimeoutMs, o.signal)
    if (ready === 'failed') throw failure(failed()!)
    if (ready === 'aborted') throw new PodsError('Aborted', 'stopped before the load pods were ready')
    if (ready === 'timeout') {
      const late = generators.filter((g) => !g.ready).map((g) => `${g.name} on ${g.node}: ${g.pod ? podState(g.pod) : 'not found'}${g.phase === 'Running' ? ', no ready line yet' : ''}`)
      throw new PodsError('NotReady', `load pods not ready within ${Math.round(readyTimeoutMs / 1000)} s: ${late.join('; ')}`)
    }
    status(`${o.count} load pod${o.count === 1 ? '' : 's'} ready`)
    const sessions = await Promise.allSettled(generators.map(async (g) => (g.stdin = await attachStdin(o.address, o.namespace, g.name, loadContainer))))
    const refused = sessions.find((s): s is PromiseRejectedResult => s.status === 'rejected')
    if (refused) throw new PodsError('GeneratorFailed', (refused.reason as Error).message)
    const atMs = Date.now() + (o.startDelayMs ?? 1000)
    const start = formatLine({ type: 'start', atMs })
    const told = await Promise.allSettled(generators.map((g) => g.stdin!.write(start)))
    const untold = told.findIndex((r) => r.status === 'rejected')
    if (untold >= 0) throw new PodsError('GeneratorFailed', `load pod ${generators[untold]!.name} on node ${generators[untold]!.node}: the start line could not be sent: ${((told[untold] as PromiseRejectedResult).reason as Error).message}`)
    status(`started: sending from ${new Date(atMs).toISOString()}`)
    o.onStart?.(atMs)
    if (o.onProgress) {
      progressTimer = setInterval(() => {
        const all = generators.map((g) => g.progress).filter((p): p is Progress => p !== undefined)
        if (all.length > 0) o.onProgress!(sumProgress(all))
      }, 1000)
    }
    // Every pod ends by itself by then; one that does not is lost (its node gone quiet).
    const endBy = atMs + o.plan.warmupMs + o.plan.phases.reduce((sum, p) => sum + p.durationMs, 0) + o.plan.timeoutMs + 60_000
    let outcome = await until(() => generators.every((g) => g.snapshot !== undefined), endBy, o.signal)
    let aborted = false
    if (outcome === 'aborted') {
      aborted = true
      status('stopping the load pods')
      const stop = formatLine({ type: 'stop' })
      stopSent = true
      await Promise.allSettled(generators.map((g) => g.stdin?.write(stop)))
      outcome = await until(() => generators.every((g) => g.snapshot !== undefined), Date.now() + o.plan.timeoutMs + 15_000)
    }
    if (outcome === 'failed') throw failure(failed()!)
    if (outcome === 'timeout') throw new PodsError('GeneratorFailed', `load pods did not report ${aborted ? 'after the stop' : 'by the end of the run'}: ${generators.filter((g) => !g.snapshot).map((g) => `${g.name} on ${g.node}`).join(', ')}`)
    const snapshot = mergeSnapshots(generators.map((g) => g.snapshot!))
    merger.finish(snapshot)
    const sent = (g: Generator): number => g.snapshot!.windows.reduce((sum, w) => sum + w.sent, 0)
    return { runId, snapshot, generators: generators.map((g) => ({ name: g.name, node: g.node, sent: sent(g) })), aborted }
  }

  let outcome: { result: FromPodsResult } | { error: unknown }
  try {
    outcome = { result: await run() }
  } catch (error) {
    outcome = { error }
  }
  clearInterval(progressTimer)
  stopFollowing.abort()
  for (const g of generators) g.stdin?.close()
  const cleanup = await deleteRunPods(o.client, o.namespace, runId).then(() => undefined, (err: Error) => err)
  if (handleSignals) {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }
  if ('error' in outcome) {
    if (cleanup && outcome.error instanceof Error) outcome.error.message += `; and cleaning up: ${cleanup.message}`
    throw outcome.error
  }
  if (cleanup) throw cleanup
  return outcome.result
}
