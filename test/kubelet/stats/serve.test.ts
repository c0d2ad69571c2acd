import t from 'tap'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Agent, request } from 'undici'
import { cpuAndMemoryOnly, parseSummaryRequest, StatsUnavailableError } from '../../../src/kubelet/stats/serve.ts'
import type { Summary } from '../../../src/kubelet/stats/summary.ts'
import { testPki, userCredentials } from '../../helpers/apiserver.ts'
import { makeSummary, startStatsKubelet } from '../../helpers/stats-kubelet.ts'

t.test('only_cpu_and_memory is read as upstream reads it', async (t) => {
  const only = (q: string) => parseSummaryRequest(new URLSearchParams(q)).onlyCpuAndMemory
  t.same([only('only_cpu_and_memory=true'), only(''), only('only_cpu_and_memory=1'), only('only_cpu_and_memory=True'), only('only_cpu_and_memory=true&only_cpu_and_memory=true')], [true, false, false, false, false])
})

t.test('the CPU-and-memory view drops everything else', async (t) => {
  const s = makeSummary('n1', { nanoCores: 5, bytes: 4096 }, [{ namespace: 'a', name: 'p', uid: 'u', containers: [['c', 1, 2]] }])
  const noisy = { ...s, node: { ...s.node, network: { rxBytes: 1 }, fs: {} }, pods: s.pods.map((p) => ({ ...p, volume: [], containers: p.containers.map((c) => ({ ...c, rootfs: {}, logs: {} })) })) } as Summary
  const trimmed = cpuAndMemoryOnly(noisy)
  t.same(JSON.parse(JSON.stringify(trimmed)), JSON.parse(JSON.stringify(s)))
})

t.test('GET /stats/summary on the kubelet API', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'weft-stats-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const summary = makeSummary('node-s', { nanoCores: 1_000_000, bytes: 8192 }, [{ namespace: 'default', name: 'web', uid: 'u1', containers: [['app', 2, 4096]] }])
  const kubelet = await startStatsKubelet(t, dir, 'node-s', summary)
  const pki = await testPki()
  const as = async (cred: { certPem?: string; keyPem?: string }, path: string) => {
    const dispatcher = new Agent({ connect: { socketPath: join(dir, 'node-s', 'kubelet.sock'), ca: pki.ca.certPem, cert: cred.certPem, key: cred.keyPem, servername: 'node-s' } })
    try {
      const res = await request(`https://node-s${path}`, { dispatcher })
      return { status: res.statusCode, type: String(res.headers['content-type']), body: await res.body.text() }
    } finally {
      await dispatcher.close()
    }
  }
  const client = pki.kubeletClient
  const full = await as(client, '/stats/summary')
  t.equal(full.status, 200)
  t.equal(full.type, 'application/json')
  t.same(JSON.parse(full.body), JSON.parse(JSON.stringify(summary)))
  const only = await as(client, '/stats/summary?only_cpu_and_memory=true')
  t.same(JSON.parse(only.body).pods[0].containers[0].cpu.usageNanoCores, 2)
  t.match(kubelet.asked.at(-1), { verb: 'get', resource: 'nodes', subresource: 'stats', name: 'node-s' }, 'authorized as nodes/stats')

  const stranger = await as(await userCredentials('mallory'), '/stats/summary')
  t.equal(stranger.status, 403)
  t.equal(stranger.body, 'Forbidden (user=mallory, verb=get, resource=nodes, subresource=stats)')

  kubelet.summary = async () => {
    throw new StatsUnavailableError('cgroup v2 is not mounted at /sys/fs/cgroup')
  }
  const unavailable = await as(client, '/stats/summary')
  t.equal(unavailable.status, 503)
  t.match(unavailable.body, /stats are not available: cgroup v2 is not mounted/)
  kubelet.summary = async () => {
    throw new Error('boom')
  }
  const broken = await as(client, '/stats/summary')
  t.equal(broken.status, 500)
  t.match(broken.body, /^Internal Error: failed to get summary stats: boom/)
  t.equal((await as(client, '/stats/summary/extra')).status, 404)
})

t.test('a kubelet without a stats collector answers 503', async (t) => {
  const { KubeletServer } = await import('../../../src/kubelet/server.ts')
  const { KubeletAuth } = await import('../../../src/kubelet/api-auth.ts')
  const { issueCertificate } = await import('../../../src/pki/certificates.ts')
  const dir = await mkdtemp(join(tmpdir(), 'weft-stats-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const pki = await testPki()
  const serving = await issueCertificate(pki.ca, { commonName: 'system:node:bare', dnsNames: ['bare'], usages: ['server'], validityDays: 1 })
  const auth = new KubeletAuth({ reviewToken: async () => undefined, reviewAccess: async () => ({ decision: 'allow', reason: '' }) })
  const server = new KubeletServer({ logs: async function* () {}, pods: () => [] }, { nodeName: 'bare', clientCaPem: pki.ca.certPem, auth })
  const socketPath = join(dir, 'kubelet.sock')
  await server.start({ socketPath, serving: { certPem: serving.certPem, keyPem: serving.keyPem! } })
  t.teardown(() => server.close())
  const dispatcher = new Agent({ connect: { socketPath, ca: pki.ca.certPem, cert: pki.kubeletClient.certPem, key: pki.kubeletClient.keyPem, servername: 'bare' } })
  t.teardown(() => dispatcher.close())
  const res = await request('https://bare/stats/summary', { dispatcher })
  t.equal(res.statusCode, 503)
  t.match(await res.body.text(), /does not collect stats/)
})
