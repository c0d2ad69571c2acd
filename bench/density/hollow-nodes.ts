// Hollow nodes, as kubemark's: N Node objects with the real agent's status shape, a Lease
// each renewed every 10 s (spread over the period), and the pods bound to them taken from
// Pending to Running and Ready by status writes alone (no containers). They answer the
// controllers as agents would: the node lifecycle controller sees live Leases, the
// endpoint controllers see Ready pods.
import type { V1Lease, V1Node, V1Pod } from '@kubernetes/client-node'
import { resources } from '../../src/api/registry.ts'
import type { RestClient } from '../../src/client/index.ts'

const nodeInfo = resources.find((r) => r.kind === 'Node')!
const leaseInfo = resources.find((r) => r.kind === 'Lease')!
const podInfo = resources.find((r) => r.kind === 'Pod')!

const stamp = (ms = Date.now()) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z')
const micro = (ms = Date.now()) => new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z')

export interface HollowNodes {
  names: string[]
  /** Pods taken to Running so far. */
  started: number
  /** Status writes that failed (retried on the next event for the pod). */
  errors: number
  /** Lease renewals that succeeded, and those that failed (the next one re-reads the Lease first, as a kubelet does). */
  renewed: number
  renewFailures: number
  stop(): Promise<void>
}

/** Runs `count` hollow nodes named `${prefix}-N` until stopped. */
export async function startHollowNodes(client: RestClient, count: number, opts: { prefix?: string; leaseEveryMs?: number; concurrency?: number } = {}): Promise<HollowNodes> {
  const prefix = opts.prefix ?? 'hollow'
  const every = opts.leaseEveryMs ?? 10_000
  const names = Array.from({ length: count }, (_, i) => `${prefix}-${i}`)
  const abort = new AbortController()
  const state: HollowNodes = { names, started: 0, errors: 0, renewed: 0, renewFailures: 0, stop: async () => undefined }
  const mine = new Set(names)
  await inBatches(names, opts.concurrency ?? 32, async (name, i) => {
    const now = stamp()
    const node: V1Node = {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name, labels: { 'kubernetes.io/hostname': name, 'kubernetes.io/os': 'linux', 'topology.kubernetes.io/zone': `zone-${i % 3}`, 'weft.dev/hollow': 'true' } },
      spec: { podCIDR: undefined },
      status: {
        capacity: { cpu: '64', memory: '256Gi', pods: '110' },
        allocatable: { cpu: '64', memory: '256Gi', pods: '110' },
        addresses: [{ type: 'InternalIP', address: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}` }, { type: 'Hostname', address: name }],
        conditions: [
          { type: 'MemoryPressure', status: 'False', reason: 'KubeletHasSufficientMemory', message: 'kubelet has sufficient memory available', lastHeartbeatTime: now as never, lastTransitionTime: now as never },
          { type: 'DiskPressure', status: 'False', reason: 'KubeletHasNoDiskPressure', message: 'kubelet has no disk pressure', lastHeartbeatTime: now as never, lastTransitionTime: now as never },
          { type: 'PIDPressure', status: 'False', reason: 'KubeletHasSufficientPID', message: 'kubelet has sufficient PID available', lastHeartbeatTime: now as never, lastTransitionTime: now as never },
          { type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'kubelet is posting ready status', lastHeartbeatTime: now as never, lastTransitionTime: now as never },
        ],
        nodeInfo: { architecture: 'amd64', bootID: '', containerRuntimeVersion: 'weft://hollow', kernelVersion: '', kubeProxyVersion: '', kubeletVersion: 'v1.32.0', machineID: '', operatingSystem: 'linux', osImage: 'hollow', systemUUID: '' },
      },
    }
    // Unlike a pod's, a node's status is kept as created: one write registers it.
    await client.create(nodeInfo, node)
  })
  const leases = new Map<string, V1Lease | undefined>()
  await inBatches(names, opts.concurrency ?? 32, async (name) => {
    const lease: V1Lease = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name, namespace: 'kube-node-lease' }, spec: { holderIdentity: name, leaseDurationSeconds: 40, renewTime: micro() as never } }
    leases.set(name, await client.create(leaseInfo, lease))
  })
  // Renewals spread evenly over the period, as many kubelets' would be.
  const renewals = names.map((name, i) =>
    setTimeout(function renew() {
      if (abort.signal.aborted) return
      // After a failure the Lease held here may be stale (a write that timed out may have
      // landed): read it again rather than conflict on every renewal from then on.
      const current = leases.get(name)
      const lease = current ? Promise.resolve(current) : client.get<V1Lease>(leaseInfo, name, 'kube-node-lease', { signal: abort.signal })
      lease
        .then((l) => client.update(leaseInfo, { ...l, spec: { ...l.spec, renewTime: micro() as never } }, { signal: abort.signal }))
        .then((l) => {
          leases.set(name, l)
          state.renewed++
        })
        .catch(() => {
          leases.set(name, undefined)
          state.renewFailures++
        })
        .finally(() => {
          if (!abort.signal.aborted) renewals[i] = setTimeout(renew, every)
        })
    }, (every * i) / names.length),
  )

  // Pods bound to a hollow node go Running and Ready.
  const inFlight = new Set<string>()
  const done = new Set<string>()
  const queue: V1Pod[] = []
  let active = 0
  const limit = opts.concurrency ?? 32
  const pump = () => {
    while (active < limit && queue.length > 0) {
      const pod = queue.shift()!
      active++
      const ip = `10.250.${(state.started >> 8) & 255}.${state.started & 255}`
      const now = stamp()
      const status = {
        phase: 'Running',
        hostIP: '10.0.0.1',
        podIP: ip,
        podIPs: [{ ip }],
        startTime: now,
        conditions: ['PodReadyToStartContainers', 'Initialized', 'ContainersReady', 'Ready', 'PodScheduled'].map((type) => ({ type, status: 'True', lastProbeTime: null, lastTransitionTime: now })),
        containerStatuses: (pod.spec?.containers ?? []).map((c) => ({ name: c.name, image: c.image, imageID: '', containerID: `weft://hollow-${pod.metadata!.uid}`, ready: true, started: true, restartCount: 0, state: { running: { startedAt: now } } })),
      }
      const key = `${pod.metadata!.namespace}/${pod.metadata!.name}`
      client
        .patch(podInfo, pod.metadata!.name!, pod.metadata!.namespace, { status }, 'merge', { subresource: 'status', signal: abort.signal })
        .then(() => {
          done.add(key)
          state.started++
        })
        .catch(() => state.errors++)
        .finally(() => {
          inFlight.delete(key)
          active--
          pump()
        })
    }
  }
  const watching = (async () => {
    const { metadata } = await client.list(podInfo, { limit: 1 })
    for await (const ev of client.watch<V1Pod>(podInfo, { resourceVersion: metadata.resourceVersion, signal: abort.signal })) {
      const pod = ev.object
      const key = `${pod.metadata?.namespace}/${pod.metadata?.name}`
      if (ev.type === 'DELETED') {
        done.delete(key)
        continue
      }
      if (!pod.spec?.nodeName || !mine.has(pod.spec.nodeName) || done.has(key) || inFlight.has(key) || pod.metadata?.deletionTimestamp) continue
      if (pod.status?.phase === 'Running') continue
      inFlight.add(key)
      queue.push(pod)
      pump()
    }
  })().catch(() => undefined)
  state.stop = async () => {
    abort.abort()
    for (const t of renewals) clearTimeout(t)
    await watching
  }
  return state
}

async function inBatches<T>(items: T[], concurrency: number, fn: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) {
        const i = next++
        await fn(items[i]!, i)
      }
    }),
  )
}
