// The node agent's streams on a real one-node lab (weft up: API server, agent, a pod):
//  - port-forward throughput: the real kubectl port-forward (WebSocket tunnelling, and the
//    SPDY fallback) through the API server and the kubelet into the pod, against a direct
//    TCP connection from the node to the pod's IP, in the same run; each transfer in its own
//    client process, runs interleaved, medians compared (target ≥ 0.5× direct);
//  - exec round trip: a v5.channel.k8s.io WebSocket to the API server's pods/exec running
//    `cat`, one line sent and echoed, closed (p50/p99), and `kubectl exec -- true` wall time.
// Everything lives in the lab's namespaces, removed on success, failure and Ctrl-C.
//   npm run bench:kubelet [-- --runs 5 --mib 256 --exec-samples 200]
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs, promisify } from 'node:util'
import { WebSocket } from 'ws'
import type { V1Pod } from '@kubernetes/client-node'
import { findByKind } from '../../src/api/registry.ts'
import { RestClient } from '../../src/client/index.ts'
import { loadKubeconfig } from '../../src/client/kubeconfig.ts'
import { labDown } from '../../src/lab/down.ts'
import { labUp } from '../../src/lab/up.ts'
import { Cleanup } from '../lib/cleanup.ts'
import { median, percentile } from '../lib/stats.ts'

const run = promisify(execFile)
const { values: flags } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    mib: { type: 'string', default: '256' },
    'exec-samples': { type: 'string', default: '200' },
  },
})
const runs = Number(flags.runs)
const bytes = Number(flags.mib) * 1024 * 1024
const CLIENT = fileURLToPath(new URL('./client.ts', import.meta.url))
// The pod: a source on 7100 (sends BYTES then closes) and a sink on 7101 (reads all, answers the count).
const SERVERS = `
const net = require('node:net')
const n = Number(process.env.BYTES)
const chunk = Buffer.alloc(256 * 1024, 7)
net.createServer((s) => {
  let left = n
  const more = () => { while (left > 0) { const c = left >= chunk.length ? chunk : chunk.subarray(0, left); left -= c.length; if (!s.write(c)) return s.once('drain', more) } s.end() }
  s.on('error', () => {})
  more()
}).listen(7100)
net.createServer({ allowHalfOpen: true }, (s) => { let got = 0; s.on('data', (d) => got += d.length); s.on('end', () => s.end(String(got))); s.on('error', () => {}) }).listen(7101, () => console.log('ready'))
`

const cleanup = new Cleanup()
cleanup.onSignals()

async function transfer(host: string, port: number, direction: string, netns?: string): Promise<number> {
  const args = [CLIENT, host, String(port), direction, String(bytes)]
  const [file, argv] = netns ? ['nsenter', [`--net=/run/netns/${netns}`, '--', process.execPath, ...args]] : [process.execPath, args]
  const { stdout } = await run(file, argv, { maxBuffer: 1024 * 1024 })
  const r = JSON.parse(stdout) as { seconds: number; bytes: number }
  return r.bytes / r.seconds / (1024 * 1024)
}

/** `kubectl port-forward` in the background; answers the local ports for 7100 and 7101. */
async function portForward(kubeconfig: string, env: NodeJS.ProcessEnv): Promise<{ ports: [number, number]; child: ChildProcess }> {
  const child = spawn('kubectl', ['--kubeconfig', kubeconfig, 'port-forward', 'pod/bench', ':7100', ':7101'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } })
  cleanup.add(() => void child.kill())
  let out = ''
  let err = ''
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (err += s))
  const ports = await new Promise<[number, number]>((resolve, reject) => {
    child.stdout!.setEncoding('utf8').on('data', (s: string) => {
      out += s
      const found = [...out.matchAll(/Forwarding from 127\.0\.0\.1:(\d+) -> (7100|7101)/g)]
      if (found.length === 2) {
        const sorted = found.sort((a, b) => Number(a[2]) - Number(b[2])).map((m) => Number(m[1]))
        resolve([sorted[0]!, sorted[1]!])
      }
    })
    child.once('exit', (code) => reject(new Error(`kubectl port-forward exited (${code}): ${err}`)))
  })
  return { ports, child }
}

/** One exec round trip over the API server: open, send a line to `cat`, read it back, close. */
function execOnce(server: string, tls: { ca: string; cert: string; key: string }): Promise<number> {
  const started = performance.now()
  return new Promise((resolve, reject) => {
    const url = `${server.replace(/^https/, 'wss')}/api/v1/namespaces/default/pods/bench/exec?command=cat&stdin=true&stdout=true&stderr=true`
    const ws = new WebSocket(url, ['v5.channel.k8s.io'], { ...tls })
    let echoed = ''
    ws.on('open', () => ws.send(Buffer.from([0, ...Buffer.from('ping\n')])))
    ws.on('message', (raw) => {
      const data = raw as Buffer
      if (data[0] !== 1) return
      echoed += data.subarray(1).toString()
      if (echoed === 'ping\n') {
        const ms = performance.now() - started
        ws.close()
        resolve(ms)
      }
    })
    ws.on('error', reject)
  })
}

try {
  const dir = cleanup.tempDir('weft-bench-kubelet-')
  const dataDir = join(dir, 'lab')
  cleanup.add(() => labDown(dataDir).then(() => undefined))
  process.stderr.write('bringing up a one-node lab …\n')
  const lab = await labUp({ dataDir, nodes: 1, agents: true, demo: false, timeoutMs: 180_000, log: (l) => process.stderr.write(`  ${l}\n`) })
  const node = lab.plan.nodes[0]!
  const kubeconfig = join(dataDir, 'kubeconfig')
  const creds = loadKubeconfig(kubeconfig)
  const client = new RestClient({ server: lab.state.url!, credentials: creds.credentials })
  cleanup.add(() => client.destroy())
  const pods = findByKind('v1', 'Pod')!
  await client.create(pods, {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'bench', namespace: 'default' },
    spec: { nodeName: node.name, terminationGracePeriodSeconds: 1, containers: [{ name: 'servers', image: 'weft/bench', command: [process.execPath, '-e', SERVERS], env: [{ name: 'BYTES', value: String(bytes) }] }] },
  } as V1Pod)
  let podIP = ''
  for (let i = 0; i < 600 && !podIP; i++) {
    const pod = await client.get<V1Pod>(pods, 'bench', 'default')
    if (pod.status?.phase === 'Running' && pod.status.podIP && (await run('kubectl', ['--kubeconfig', kubeconfig, 'logs', 'bench']).then((r) => r.stdout.includes('ready'), () => false))) podIP = pod.status.podIP
    else await new Promise((r) => setTimeout(r, 200))
  }
  if (!podIP) throw new Error('the bench pod did not start')

  const ws = await portForward(kubeconfig, {})
  const spdy = await portForward(kubeconfig, { KUBECTL_PORT_FORWARD_WEBSOCKETS: 'false' })
  const modes: Array<[string, (direction: string) => Promise<number>]> = [
    ['direct', (d) => transfer(podIP, d === 'download' ? 7100 : 7101, d, node.netns)],
    ['websocket', (d) => transfer('127.0.0.1', ws.ports[d === 'download' ? 0 : 1], d)],
    ['spdy', (d) => transfer('127.0.0.1', spdy.ports[d === 'download' ? 0 : 1], d)],
  ]
  const samples = new Map<string, number[]>()
  for (let r = 0; r < runs; r++) {
    for (const direction of ['download', 'upload']) {
      for (const [mode, measure] of modes) {
        const mibs = await measure(direction)
        const key = `${direction} ${mode}`
        samples.set(key, [...(samples.get(key) ?? []), mibs])
        process.stderr.write(`run ${r + 1}/${runs} ${key}: ${mibs.toFixed(0)} MiB/s\n`)
      }
    }
  }

  const tls = { ca: creds.credentials.caPem!, cert: creds.credentials.certPem!, key: creds.credentials.keyPem! }
  const execMs: number[] = []
  for (let i = 0; i < Number(flags['exec-samples']); i++) execMs.push(await execOnce(lab.state.url!, tls))
  execMs.sort((a, b) => a - b)
  const kubectlMs: number[] = []
  for (let i = 0; i < 20; i++) {
    const started = performance.now()
    await run('kubectl', ['--kubeconfig', kubeconfig, 'exec', 'bench', '--', 'true'])
    kubectlMs.push(performance.now() - started)
  }
  kubectlMs.sort((a, b) => a - b)

  const lines = [`kubelet streams on a one-node lab; port-forward: ${flags.mib} MiB per transfer, median of ${runs} interleaved runs; peer: a direct connection from the node to the pod IP (target ≥ 0.5×)`]
  let pass = true
  for (const direction of ['download', 'upload']) {
    const direct = median(samples.get(`${direction} direct`)!)
    lines.push(`${direction}: direct ${direct.toFixed(0)} MiB/s`)
    for (const mode of ['websocket', 'spdy']) {
      const m = median(samples.get(`${direction} ${mode}`)!)
      const ratio = m / direct
      pass &&= ratio >= 0.5
      lines.push(`  kubectl port-forward (${mode}): ${m.toFixed(0)} MiB/s = ${ratio.toFixed(2)}× direct ${ratio >= 0.5 ? 'pass' : 'FAIL'}`)
    }
  }
  lines.push(`exec round trip (WebSocket v5 to the API server, cat echoes a line; ${execMs.length} samples): p50 ${percentile(execMs, 50).toFixed(1)} ms, p99 ${percentile(execMs, 99).toFixed(1)} ms`)
  lines.push(`kubectl exec -- true, wall time (20 samples): p50 ${percentile(kubectlMs, 50).toFixed(0)} ms, p99 ${percentile(kubectlMs, 99).toFixed(0)} ms`)
  process.stdout.write(`${lines.join('\n')}\n`)
  process.exitCode = pass ? 0 : 1
} finally {
  await cleanup.run()
}
