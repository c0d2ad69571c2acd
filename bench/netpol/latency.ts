// Time to enforcement, measured with real traffic: a pod probes another in a tight loop (a new
// TCP or UDP flow every millisecond, each timestamped when its first packet left: pod.ts); the
// bench writes to the API and takes the time just before the request. A newly allowed flow is
// enforced at the first probe after the write that got through (nothing gets through before
// the rules allow it, so one success settles it); a newly denied one at the first failed probe
// after the last success (a probe that failed for another reason, earlier, does not count).
// Between writes the bench waits for the new state to show, then a random 150-400 ms more, so
// writes do not fall into step with the enforcer's min-sync timer.
import type { V1Pod } from '@kubernetes/client-node'
import type { RestClient } from '../../src/client/index.ts'
import { nowMs, sleep } from '../lib/clock.ts'
import { createPod, podInfo, policyInfo, probeAllow, readyStatus, realPod } from './cluster.ts'
import { PROBE_PORT, REAL_PODS, type PodAgent, type Probe, type RealPod } from './topology.ts'

export const PROBE_TIMEOUT_MS = 150
const GIVE_UP_MS = 10_000

export type Expect = 'allow' | 'deny'

export interface Sample {
  expect: Expect
  what: string
  /** Write → first probe that behaved as the new rules say, ms; Infinity when it never did within GIVE_UP_MS. */
  ms: number
  /** The API call's own round trip, ms. */
  writeMs: number
}

/**
 * The probes sent at or after `from`, in send order. A probe sent after `from` reports after it,
 * so only results from `index` (the array's length at `from`) on need looking at.
 */
function after(results: readonly Probe[], from: number, index: number): Probe[] {
  const out: Probe[] = []
  for (let i = index; i < results.length; i++) if (results[i]!.t >= from) out.push(results[i]!)
  return out.sort((a, b) => a.t - b.t)
}

/** When the probes in [from, to) show `expect` (see the file comment), or undefined. */
export function enforcedAt(probes: readonly Probe[], expect: Expect): number | undefined {
  if (expect === 'allow') return probes.find((p) => p.ok)?.t
  let lastOk = -1
  probes.forEach((p, i) => p.ok && (lastOk = i))
  return probes.slice(lastOk + 1).find((p) => !p.ok)?.t
}

/** Waits until the agent's probes after `from` (results from `index` on) show `expect` for good. */
async function waitForState(agent: PodAgent, from: number, index: number, expect: Expect): Promise<boolean> {
  const deadline = from + GIVE_UP_MS
  for (;;) {
    const probes = after(agent.results, from, index)
    if (expect === 'allow' && probes.some((p) => p.ok)) return true
    if (expect === 'deny') {
      let lastOk = -1
      probes.forEach((p, i) => p.ok && (lastOk = i))
      // 20 failures in a row after the last success: ~20 ms of denied probes, each past its timeout.
      if (probes.length - lastOk - 1 >= 20) return true
    }
    if (nowMs() > deadline) return false
    await sleep(10)
  }
}

/** One write and the flow's change it causes, timed. */
export async function transition(agent: PodAgent, expect: Expect, what: string, write: () => Promise<unknown>): Promise<Sample> {
  const index = agent.results.length
  const at = nowMs()
  await write()
  const writeMs = nowMs() - at
  const seen = await waitForState(agent, at, index, expect)
  // Let every probe sent up to now report (a denied one takes PROBE_TIMEOUT_MS), plus jitter.
  await sleep(PROBE_TIMEOUT_MS + 50 + 150 + Math.random() * 250)
  const t = seen ? enforcedAt(after(agent.results, at, index), expect) : undefined
  return { expect, what, ms: t === undefined ? Infinity : t - at, writeMs }
}

/** Starts `agent` probing `target` and waits until its probes show `expect` (the state before the first write). */
export async function startProbing(agent: PodAgent, target: RealPod, expect: Expect): Promise<void> {
  const index = agent.results.length
  const from = nowMs()
  agent.send({ op: 'probe', host: REAL_PODS[target], port: PROBE_PORT, intervalMs: 1, timeoutMs: PROBE_TIMEOUT_MS })
  if (!(await waitForState(agent, from, index, expect))) throw new Error(`probes to ${target} did not show ${expect} at the start: the cluster is not what the bench expects`)
  await sleep(PROBE_TIMEOUT_MS + 50)
}

export function stopProbing(agent: PodAgent): void {
  agent.send({ op: 'stop' })
  // Keep memory flat over a long run: no later transition looks at these.
  agent.results.length = 0
}

/**
 * `changes` writes to the measured policy, in cycles of four: create (the client is allowed),
 * update (its pod selector names nobody: denied), update back (allowed), delete (denied).
 */
export async function policyChanges(client: RestClient, agent: PodAgent, changes: number): Promise<Sample[]> {
  const samples: Sample[] = []
  await startProbing(agent, 'target', 'deny')
  let current: { metadata?: { resourceVersion?: string } } | undefined
  const put = async (allow: boolean) => {
    const p = probeAllow(allow)
    current = await client.update(policyInfo, { ...p, metadata: { ...p.metadata, resourceVersion: current?.metadata?.resourceVersion } })
  }
  try {
    for (let i = 0; i < changes; i++) {
      switch (i % 4) {
        case 0:
          samples.push(await transition(agent, 'allow', 'create', async () => (current = await client.create(policyInfo, probeAllow(true)))))
          break
        case 1:
          samples.push(await transition(agent, 'deny', 'update', () => put(false)))
          break
        case 2:
          samples.push(await transition(agent, 'allow', 'update', () => put(true)))
          break
        default:
          samples.push(await transition(agent, 'deny', 'delete', () => client.delete(policyInfo, 'probe-allow', 'ns-00')))
          current = undefined
      }
    }
  } finally {
    stopProbing(agent)
    if (current) await client.delete(policyInfo, 'probe-allow', 'ns-00').catch(() => undefined)
  }
  return samples
}

let podSerial = 0

/**
 * A new pod (`role`: the new peer or the new target), created bound to the measured node,
 * then — the measured write — given its status (Running, Ready, its IP) as the kubelet would;
 * then deleted (grace period 0) and the flow timed back. `prober` probes across it.
 */
export async function newPods(client: RestClient, prober: PodAgent, role: 'newPeer' | 'newTarget', count: number): Promise<{ ready: Sample[]; deleted: Sample[] }> {
  const isPeer = role === 'newPeer'
  // Peer: the new pod probes the target (denied until it is in the peer set). Target: the client probes it (allowed until it is isolated).
  const onReady: Expect = isPeer ? 'allow' : 'deny'
  const onDelete: Expect = isPeer ? 'deny' : 'allow'
  const ready: Sample[] = []
  const deleted: Sample[] = []
  await startProbing(prober, isPeer ? 'target' : 'newTarget', onDelete)
  try {
    for (let i = 0; i < count; i++) {
      const name = `${isPeer ? 'probe-newpeer' : 'probe-newtarget'}-${process.pid}-${++podSerial}`
      const created = await createPod(client, realPod(role, name, false))
      // The create is a sync of its own (the pod has no address yet: nothing changes); let it pass.
      await sleep(150 + Math.random() * 100)
      ready.push(await transition(prober, onReady, 'pod Ready', () => client.updateStatus<V1Pod>(podInfo, { ...created, status: readyStatus(REAL_PODS[role]) })))
      deleted.push(await transition(prober, onDelete, 'pod deleted', () => client.delete(podInfo, name, created.metadata!.namespace!, { gracePeriodSeconds: 0 })))
    }
  } finally {
    stopProbing(prober)
  }
  return { ready, deleted }
}

export interface Churn {
  stop(): Promise<{ writes: number; errors: number; firstError?: string }>
}

/**
 * Background writes while a measurement runs, `rate` per second on schedule: each moves one
 * pod of another node between two apps (a label patch), so its address leaves some peer sets
 * of the measured node and joins others. Every write is a sync of the measured node's enforcer
 * with set elements to change; the measured write waits behind them as it would in a busy cluster.
 */
/** Which pods the churn has moved (it goes on where the last round stopped). */
const moved = new Set<string>()
let churnNext = 0

export function startChurn(client: RestClient, pods: readonly V1Pod[], rate: number): Churn {
  const movable = pods.filter((p) => p.spec?.nodeName !== undefined && /^app-\d+$/.test(p.metadata?.labels?.app ?? '') && p.spec.nodeName.startsWith('node-'))
  if (!movable.length) throw new Error('no pods on other nodes to churn')
  let writes = 0
  let errors = 0
  let firstError: string | undefined
  const pending = new Set<Promise<void>>()
  const timer = setInterval(() => {
    const p = movable[churnNext++ % movable.length]!
    const key = `${p.metadata!.namespace}/${p.metadata!.name}`
    const j = Number(p.metadata!.labels!.app!.slice(4))
    const app = moved.has(key) ? `app-${j}` : `app-${(j + 1) % 8}`
    if (moved.has(key)) moved.delete(key)
    else moved.add(key)
    const write = client
      .patch(podInfo, p.metadata!.name!, p.metadata!.namespace!, { metadata: { labels: { app } } }, 'merge')
      .then(
        () => void writes++,
        (err: unknown) => {
          errors++
          firstError ??= String((err as Error)?.message ?? err)
        },
      )
      .finally(() => pending.delete(write))
    pending.add(write)
  }, 1000 / rate)
  return {
    async stop() {
      clearInterval(timer)
      await Promise.all(pending)
      return { writes, errors, firstError }
    },
  }
}
