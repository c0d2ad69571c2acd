// Port-forward throughput (issue 16): bytes through the kubelet's /portForward (plain SPDY
// and SPDY in a WebSocket) against a direct TCP connection to the pod, in the same run.
// The pod is a network namespace this process creates (and removes on success, failure and
// Ctrl-C) with a source (7100: sends BYTES) and a sink (7101: reads all, answers the count).
// Each transfer runs in its own client process, as kubectl would; runs are interleaved and
// the medians compared. Target: port-forward ≥ 0.5× direct.
import { execFileSync, spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { KubeletServer } from '../../src/kubelet/server.ts'
import { addNetns, deleteNetns, netnsPath } from '../../src/netlink/index.ts'
import { createCA, issueCertificate } from '../../src/pki/certificates.ts'
import { Cleanup } from '../lib/cleanup.ts'
import { median } from '../lib/stats.ts'
import { execRoundTrip } from './exec-round-trip.ts'

const { values: flags } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    mib: { type: 'string', default: '512' },
  },
})
const runs = Number(flags.runs)
const bytes = Number(flags.mib) * 1024 * 1024
const CLIENT = fileURLToPath(new URL('./client.ts', import.meta.url))
const SERVERS = `
const net = require('node:net')
const n = Number(process.env.BYTES)
const chunk = Buffer.alloc(256 * 1024, 7)
net.createServer((s) => {
  let left = n
  const more = () => { while (left > 0) { const c = left >= chunk.length ? chunk : chunk.subarray(0, left); left -= c.length; if (!s.write(c)) return s.once('drain', more) } s.end() }
  s.on('error', () => {})
  more()
}).listen(7100, '127.0.0.1')
net.createServer({ allowHalfOpen: true }, (s) => { let got = 0; s.on('data', (d) => got += d.length); s.on('end', () => s.end(String(got))); s.on('error', () => {}) }).listen(7101, '127.0.0.1', () => console.log('ready'))
`

const cleanup = new Cleanup()
cleanup.onSignals()

async function transfer(mode: string, direction: string, socketPath: string, certDir: string, ns: string): Promise<number> {
  const args = [CLIENT, mode, direction, direction === 'download' ? '7100' : '7101', String(bytes), socketPath, certDir]
  const child = mode === 'direct' ? spawn('nsenter', [`--net=${netnsPath(ns)}`, '--', process.execPath, ...args], { stdio: ['ignore', 'pipe', 'inherit'] }) : spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s))
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
  if (code !== 0) throw new Error(`the ${mode} ${direction} client exited with ${code}`)
  const r = JSON.parse(out) as { seconds: number; bytes: number }
  return r.bytes / r.seconds / (1024 * 1024)
}

try {
  const ns = `wbpf-${process.pid}-${Math.random().toString(36).slice(2, 7)}`
  await addNetns(ns)
  cleanup.add(() => deleteNetns(ns))
  execFileSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up'])
  const servers = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', SERVERS], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, BYTES: String(bytes) } })
  cleanup.add(() => void servers.kill())
  await new Promise<void>((resolve, reject) => {
    servers.stdout.once('data', () => resolve())
    servers.once('exit', (c) => reject(new Error(`the pod servers exited (${c})`)))
  })

  const certDir = cleanup.tempDir('weft-bench-pf-')
  const ca = await createCA('bench-ca')
  const serving = await issueCertificate(ca, { commonName: 'system:node:n1', dnsNames: ['n1'], usages: ['server'] })
  const client = await issueCertificate(ca, { commonName: 'bench', usages: ['client'] })
  writeFileSync(join(certDir, 'ca.pem'), ca.certPem)
  writeFileSync(join(certDir, 'client.pem'), client.certPem)
  writeFileSync(join(certDir, 'client-key.pem'), client.keyPem!, { mode: 0o600 })
  const kubelet = new KubeletServer(
    { pods: () => [], logs: async function* () {}, portForwardTarget: (n, p) => (n === 'default' && p === 'bench' ? { netnsPath: netnsPath(ns) } : undefined) },
    { nodeName: 'n1', clientCaPem: ca.certPem, auth: { authenticate: async () => ({ user: { username: 'bench', groups: [] } }), authorize: async () => ({ decision: 'allow', reason: '' }) } },
  )
  const socketPath = join(certDir, 'kubelet.sock')
  await kubelet.start({ socketPath, serving: { certPem: serving.certPem, keyPem: serving.keyPem! } })
  cleanup.add(() => kubelet.close())

  const modes = ['direct', 'spdy', 'websocket']
  const directions = ['download', 'upload']
  const samples = new Map<string, number[]>()
  for (let run = 0; run < runs; run++) {
    for (const direction of directions) {
      for (const mode of modes) {
        const mibs = await transfer(mode, direction, socketPath, certDir, ns)
        const key = `${direction} ${mode}`
        samples.set(key, [...(samples.get(key) ?? []), mibs])
        process.stderr.write(`run ${run + 1}/${runs} ${key}: ${mibs.toFixed(0)} MiB/s\n`)
      }
    }
  }
  const lines = [`port-forward throughput, ${flags.mib} MiB per transfer, median of ${runs} interleaved runs (target ≥ 0.5× direct)`]
  let pass = true
  for (const direction of directions) {
    const direct = median(samples.get(`${direction} direct`)!)
    lines.push(`${direction}: direct ${direct.toFixed(0)} MiB/s`)
    for (const mode of ['spdy', 'websocket']) {
      const m = median(samples.get(`${direction} ${mode}`)!)
      const ratio = m / direct
      pass &&= ratio >= 0.5
      lines.push(`  port-forward ${mode}: ${m.toFixed(0)} MiB/s = ${ratio.toFixed(2)}× direct ${ratio >= 0.5 ? 'PASS' : 'FAIL'}`)
    }
  }
  if (execRoundTrip) {
    const ms = (await execRoundTrip({ socketPath, certDir, netnsPath: netnsPath(ns) }, 200)).sort((a, b) => a - b)
    lines.push(`exec round trip: p50 ${ms[Math.floor(ms.length * 0.5)]!.toFixed(2)} ms, p99 ${ms[Math.floor(ms.length * 0.99)]!.toFixed(2)} ms`)
  } else lines.push('exec round trip: not measured (no exec hook registered in bench/kubelet/exec-round-trip.ts)')
  process.stdout.write(`${lines.join('\n')}\n`)
  process.exitCode = pass ? 0 : 1
} finally {
  await cleanup.run()
}
