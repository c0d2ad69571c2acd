// A real KubeletServer (HTTPS, client certificates from the test CA, authorization asked of
// a recording stand-in) whose node serves a summary the test sets: for the metrics API and
// `kubectl top` tests. It listens where a lab API server looks for it, `<dir>/<node>/kubelet.sock`.
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import type { ResourceAttributes } from '../../src/auth/types.ts'
import { KubeletAuth } from '../../src/kubelet/api-auth.ts'
import { KubeletServer, type KubeletApi } from '../../src/kubelet/server.ts'
import type { Summary } from '../../src/kubelet/stats/summary.ts'
import { issueCertificate } from '../../src/pki/certificates.ts'
import { testPki } from './apiserver.ts'

interface Teardown {
  teardown(fn: () => unknown): void
}

export interface StatsKubelet {
  /** What the next `/stats/summary` answers; a function may throw or never settle. */
  summary: Summary | (() => Promise<Summary>) | undefined
  /** The authorization questions the kubelet asked. */
  asked: ResourceAttributes[]
  requests: number
  server: KubeletServer
}

/**
 * Starts node `name`'s kubelet on `<dir>/<name>/kubelet.sock`, or with `listen` (`127.0.0.1:PORT`)
 * on TCP instead; only apiserver-kubelet-client is allowed.
 */
export async function startStatsKubelet(t: Teardown, dir: string, name: string, summary?: Summary, listen?: string): Promise<StatsKubelet> {
  const pki = await testPki()
  const serving = await issueCertificate(pki.ca, { commonName: `system:node:${name}`, organizations: ['system:nodes'], dnsNames: [name], ipAddresses: ['127.0.0.1'], usages: ['server'], validityDays: 1 })
  const state: StatsKubelet = { summary, asked: [], requests: 0, server: undefined as unknown as KubeletServer }
  const api: KubeletApi = {
    logs: () => {
      throw new Error('no logs here')
    },
    pods: () => [],
    statsSummary: async () => {
      state.requests++
      const s = state.summary
      if (s === undefined) throw new Error('no summary set')
      return typeof s === 'function' ? s() : s
    },
  }
  const auth = new KubeletAuth(
    {
      reviewToken: async () => undefined,
      reviewAccess: async (a) => {
        state.asked.push(a)
        return a.user.username === 'apiserver-kubelet-client' ? { decision: 'allow', reason: '' } : { decision: 'deny', reason: '' }
      },
    },
    { ttls: { allowedMs: 0, deniedMs: 0 } },
  )
  state.server = new KubeletServer(api, { nodeName: name, clientCaPem: pki.ca.certPem, auth })
  const servingPair = { certPem: serving.certPem, keyPem: serving.keyPem! }
  if (listen) await state.server.start({ listen, serving: servingPair })
  else {
    await mkdir(join(dir, name), { recursive: true })
    await state.server.start({ socketPath: join(dir, name, 'kubelet.sock'), serving: servingPair })
  }
  t.teardown(() => state.server.close())
  return state
}

/** A summary for `node`: its own figures and each pod's containers as [name, nano-cores, working-set bytes]. */
export function makeSummary(node: string, usage: { nanoCores: number; bytes: number }, pods: Array<{ namespace: string; name: string; uid?: string; containers: Array<[string, number, number]> }>, time = new Date()): Summary {
  const now = time.toISOString()
  const started = new Date(time.getTime() - 3600_000).toISOString()
  return {
    node: { nodeName: node, startTime: started, cpu: { time: now, usageNanoCores: usage.nanoCores, usageCoreNanoSeconds: usage.nanoCores * 3600 }, memory: { time: now, workingSetBytes: usage.bytes, usageBytes: usage.bytes * 2 } },
    pods: pods.map((p) => ({
      podRef: { namespace: p.namespace, name: p.name, uid: p.uid ?? '' },
      startTime: started,
      containers: p.containers.map(([name, nanoCores, bytes]) => ({ name, startTime: started, cpu: { time: now, usageNanoCores: nanoCores }, memory: { time: now, workingSetBytes: bytes } })),
    })),
  }
}
