// A weft API server with the scheduler and controllers running, plus a stand-in for the
// node agent (issue 4) that marks bound pods Running and Ready through the API.
import { resources } from '../../src/api/registry.ts'
import { RestClient } from '../../src/client/index.ts'
import { ControlPlane, type ControlPlaneOptions } from '../../src/controllers/control-plane.ts'
import { startTestServer, testPki, type TestServer } from './apiserver.ts'

interface Teardown {
  teardown(fn: () => unknown): void
}

export const podInfo = resources.find((r) => r.kind === 'Pod')!
export const nodeInfo = resources.find((r) => r.kind === 'Node')!

export interface Cluster extends TestServer {
  client: RestClient
  plane: ControlPlane
}

export async function startCluster(t: Teardown, options: Partial<Omit<ControlPlaneOptions, 'server'>> = {}, serverOptions: Parameters<typeof startTestServer>[1] = {}): Promise<Cluster> {
  const server = await startTestServer(t, serverOptions)
  // The test CA signs approved CSRs (nodes' serving certificates), as `weft server` does.
  const pki = await testPki()
  const plane = new ControlPlane({ server: server.address, signingCa: pki.ca, ...options })
  await plane.start()
  const client = new RestClient(server.address)
  t.teardown(async () => {
    await plane.stop()
    await client.close()
  })
  return { ...server, client, plane }
}

export function node(name: string, opts: { cpu?: string; memory?: string; pods?: string; labels?: Record<string, string>; taints?: object[]; ready?: boolean } = {}) {
  const allocatable = { cpu: opts.cpu ?? '4', memory: opts.memory ?? '8Gi', pods: opts.pods ?? '110' }
  const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z')
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, labels: { 'kubernetes.io/hostname': name, ...(opts.labels ?? {}) } },
    spec: opts.taints ? { taints: opts.taints } : {},
    status: {
      capacity: allocatable,
      allocatable,
      conditions: [{ type: 'Ready', status: opts.ready === false ? 'False' : 'True', reason: 'KubeletReady', lastHeartbeatTime: now, lastTransitionTime: now }],
    },
  }
}

/** Keeps a node's Lease fresh, as a kubelet does every 10 s. */
export function heartbeat(client: RestClient, name: string, everyMs = 500): () => void {
  const info = resources.find((r) => r.kind === 'Lease')!
  let stopped = false
  const beat = async () => {
    const renewTime = new Date().toISOString().replace('Z', '000Z').replace(/(\.\d{6})\d*Z$/, '$1Z')
    const lease = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name, namespace: 'kube-node-lease' }, spec: { holderIdentity: name, leaseDurationSeconds: 40, renewTime } }
    await client.patch(info, name, 'kube-node-lease', lease, 'apply', { fieldManager: 'test-kubelet', force: true }).catch(() => undefined)
  }
  const loop = async () => {
    while (!stopped) {
      await beat()
      await new Promise((r) => setTimeout(r, everyMs))
    }
  }
  void loop()
  return () => {
    stopped = true
  }
}

/**
 * Marks bound pods Running and Ready (with an IP from 10.244.x) once `ready(pod)` allows,
 * and finishes the graceful deletion of bound pods, the way the node agent will. Returns
 * a stop function.
 */
export function fakeKubelet(client: RestClient, ready: (pod: any) => boolean = () => true, everyMs = 50): () => void {
  let stopped = false
  let next = 1
  const ips = new Map<string, string>()
  const loop = async () => {
    while (!stopped) {
      try {
        const { items } = await client.list<any>(podInfo)
        for (const pod of items) {
          if (!pod.spec?.nodeName) continue
          if (pod.metadata.deletionTimestamp) {
            // A kubelet stops the containers, then confirms the deletion with grace 0.
            await client.delete(podInfo, pod.metadata.name, pod.metadata.namespace, { gracePeriodSeconds: 0, preconditions: { uid: pod.metadata.uid } }).catch(() => undefined)
            continue
          }
          const isReady = pod.status?.conditions?.some((c: any) => c.type === 'Ready' && c.status === 'True')
          if (isReady || !ready(pod)) continue
          const uid = pod.metadata.uid
          if (!ips.has(uid)) {
            ips.set(uid, `10.244.${Math.floor(next / 250)}.${(next % 250) + 2}`)
            next++
          }
          const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z')
          const conditions = ['Initialized', 'Ready', 'ContainersReady', 'PodScheduled'].map((type) => ({ type, status: 'True', lastTransitionTime: now }))
          await client
            .patch(podInfo, pod.metadata.name, pod.metadata.namespace, { status: { phase: 'Running', podIP: ips.get(uid), podIPs: [{ ip: ips.get(uid) }], startTime: now, conditions } }, 'merge', { subresource: 'status' })
            .catch(() => undefined)
        }
      } catch {}
      await new Promise((r) => setTimeout(r, everyMs))
    }
  }
  void loop()
  return () => {
    stopped = true
  }
}

export async function until(what: string, check: () => boolean | Promise<boolean>, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}
