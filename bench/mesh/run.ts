// The mesh benchmark (issue 22): meshed against direct pod-to-pod, in the same run, across two
// nodes. Everything runs in namespaces this process creates and removes (on success, failure
// and Ctrl-C): an underlay bridge, two node namespaces each running a NodeProxy (node-host.ts,
// the agent's proxy with a given state instead of informers), and a pod namespace behind each.
// Direct and meshed rounds alternate: the only difference is the mesh's nftables capture on
// the client's node. A third path, HAProxy as a mutual-TLS tunnel over the same hops
// (haproxy.ts), is the reference: what a mature C proxy does with the same work here. See
// README.md.
//
//   underlay br0 172.29.0.1 ── n1 172.29.0.2 ── p1 10.251.1.2  (client: weft load, iperf3 -c, wrk)
//                           └─ n2 172.29.0.3 ── p2 10.251.2.2  (server: nginx :80, iperf3 -s :5201)
import { spawn, spawnSync, type ChildProcess as NodeChild } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { createInterface } from 'node:readline'
import { parseArgs } from 'node:util'
import type { V1Namespace, V1Pod } from '@kubernetes/client-node'
import { ipBatch, setSysctl } from '../../src/netlink/index.ts'
import { createCA, issueCertificate } from '../../src/pki/certificates.ts'
import { spiffeId } from '../../mesh/identity.ts'
import { meshAddonUnavailable } from '../../mesh/addon.ts'
import { aptInstall, have } from '../lib/apt.ts'
import { Cleanup } from '../lib/cleanup.ts'
import { hotSpots } from '../lib/cpu-profile.ts'
import { sleep } from '../lib/clock.ts'
import { startProcess } from '../lib/process.ts'
import { atLeast, atMost, fmtMs, fmtNumber, fmtRate, machineSummary, markdownTable, textTable, verdict, type ResultRow } from '../lib/report.ts'
import { median } from '../lib/stats.ts'
import { startBackend } from '../proxy/backend.ts'
import { inClient, stopLoad, wrk } from '../proxy/load.ts'
import { netns } from '../proxy/topology.ts'
import { startHaproxyTunnel } from './haproxy.ts'
import type { NodeHostConfig } from './node-host.ts'

const usage = `Usage: node bench/mesh/run.ts [options]

  --runs N            direct/meshed round pairs (default 3; medians over them)
  --rate N            requests per second of the latency run (default 1000)
  --seconds N         the latency run, per round (default 10)
  --iperf-seconds N   the single-stream throughput run, per round (default 5)
  --close-seconds N   the new-connection run (wrk, a new connection per request), per round (default 5)
  --hold N            connections held open for the memory figure (default 1000)
  --profile DIR       write each node proxy's CPU profile (node --cpu-prof) to DIR and print its hot spots
  --out FILE          results file (default bench/mesh/results.md; "-" for none)
`
const { values: flags } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    rate: { type: 'string', default: '1000' },
    seconds: { type: 'string', default: '10' },
    'iperf-seconds': { type: 'string', default: '5' },
    'close-seconds': { type: 'string', default: '5' },
    hold: { type: 'string', default: '1000' },
    profile: { type: 'string' },
    out: { type: 'string', default: resolve(import.meta.dirname, 'results.md') },
    help: { type: 'boolean', short: 'h' },
  },
})
if (flags.help) {
  process.stdout.write(usage)
  process.exit(0)
}
const num = (name: keyof typeof flags) => {
  const n = Number(flags[name])
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a whole number of at least 1`)
  return n
}
const runs = num('runs')
const rate = num('rate')
const seconds = num('seconds')
const iperfSeconds = num('iperf-seconds')
const closeSeconds = num('close-seconds')
const holdCount = num('hold')

const repo = resolve(import.meta.dirname, '../..')
const weftBin = join(repo, 'bin/weft')
const SERVER = '10.251.2.2'
const TD = 'cluster.local'
const OUTBOUND = 15001
const INBOUND = 15008
// The HAProxy reference path: the client dials n1's address on its pod link.
const HAPROXY_ENTRY = '10.251.1.1'
const HAPROXY_HTTP = 18080
const HAPROXY_IPERF = 15202
const haproxyVersion = () => /version (\S+)/.exec(spawnSync('haproxy', ['-v'], { encoding: 'utf8' }).stdout ?? '')?.[1] ?? ''

const missing = [['iperf3', 'iperf3'], ['wrk', 'wrk'], ['nginx', 'nginx-light'], ['nft', 'nftables'], ['haproxy', 'haproxy']].filter(([c]) => !have(c!)).map(([, p]) => p!)
aptInstall(missing)
const addon = meshAddonUnavailable()
if (addon) throw new Error(addon)

const cleanup = new Cleanup()
cleanup.onSignals()
cleanup.add(() => stopLoad())
const startedAt = Date.now()
const prefix = `wbm${process.pid % 100000}`
const dir = cleanup.tempDir('weft-bench-mesh-')

interface Host {
  child: NodeChild
  ask(command: string): Promise<Record<string, unknown>>
}

/** node-host.ts in `node`'s namespace; stopped (by pid) at cleanup. */
async function startHost(node: string, config: NodeHostConfig): Promise<Host> {
  const file = join(dir, `${node}.json`)
  writeFileSync(file, JSON.stringify(config), { mode: 0o600 })
  const profiling = flags.profile ? ['--cpu-prof', `--cpu-prof-dir=${resolve(flags.profile)}`, `--cpu-prof-name=${node}.cpuprofile`] : []
  const child = spawn('nsenter', [`--net=/run/netns/${node}`, '--', process.execPath, '--disable-warning=ExperimentalWarning', '--expose-gc', ...profiling, join(import.meta.dirname, 'node-host.ts'), file], { stdio: ['pipe', 'pipe', 'inherit'] })
  cleanup.add(async () => {
    // A host that died (exit code or signal) is gone already: waiting for its exit would never end.
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return
    child.stdin!.end()
    const exited = new Promise((r) => child.once('exit', r))
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
    await exited
    clearTimeout(timer)
  })
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]()
  const next = async () => {
    const { value, done } = await lines.next()
    if (done) throw new Error(`the ${node} host exited`)
    return JSON.parse(value as string) as Record<string, unknown>
  }
  await next()
  let queue = Promise.resolve() as Promise<unknown>
  return {
    child,
    ask(command) {
      const answer = queue.then(async () => {
        child.stdin!.write(`${command}\n`)
        const reply = await next()
        if (reply.ok === false) throw new Error(`${node}: ${command}: ${String(reply.error)}`)
        return reply
      })
      queue = answer.catch(() => undefined)
      return answer
    },
  }
}

try {
  // The namespaces, linked as the picture at the top; nothing in the root namespace.
  const underlay = await netns(cleanup, `${prefix}-ul`)
  await ipBatch(['link add br0 type bridge', 'addr add 172.29.0.1/24 dev br0', 'link set br0 up'], underlay)
  const nodes: string[] = []
  const pods: string[] = []
  for (const k of [1, 2]) {
    const node = await netns(cleanup, `${prefix}-n${k}`)
    const pod = await netns(cleanup, `${prefix}-p${k}`)
    await ipBatch([`link add ul${k} type veth peer name eth0 netns ${node}`, `link set ul${k} master br0 up`], underlay)
    await ipBatch([`addr add 172.29.0.${k + 1}/24 dev eth0`, 'link set eth0 up', 'link set lo up', `link add pod type veth peer name eth0 netns ${pod}`, `addr add 10.251.${k}.1/24 dev pod`, 'link set pod up', `route add 10.251.${3 - k}.0/24 via 172.29.0.${4 - k}`], node)
    await ipBatch([`addr add 10.251.${k}.2/24 dev eth0`, 'link set eth0 up', 'link set lo up', `route add default via 10.251.${k}.1`], pod)
    await setSysctl('net.ipv4.ip_forward', '1', node)
    // Through any L4 proxy the client, not the server, closes first and keeps TIME_WAIT: tens of
    // thousands of new connections would exhaust the client's ports and time its connect() out
    // of the kernel's port search. Both paths get the settings of a load-test client.
    await setSysctl('net.ipv4.tcp_tw_reuse', '1', pod)
    await setSysctl('net.ipv4.ip_local_port_range', '1024 65000', pod)
    nodes.push(node)
    pods.push(pod)
  }
  const [n1, n2] = nodes as [string, string]
  const [p1, p2] = pods as [string, string]

  // Identities from a CA of the bench's own, as the weft.dev/mesh signer would issue them.
  const ca = await createCA('weft mesh CA (bench)', 1)
  const svid = async (namespace: string, serviceAccount: string) => {
    const issued = await issueCertificate(ca, { commonName: serviceAccount, organizations: [namespace], uris: [spiffeId({ trustDomain: TD, namespace, serviceAccount })], usages: ['client', 'server'], validityDays: 1 })
    return { namespace, serviceAccount, certPem: issued.certPem, keyPem: issued.keyPem! }
  }
  const pod = (name: string, node: string, ip: string, hostIP: string): V1Pod => ({ metadata: { name, namespace: 'bench', labels: { app: name } }, spec: { nodeName: node, serviceAccountName: name, containers: [] }, status: { phase: 'Running', hostIP, podIP: ip, podIPs: [{ ip }] } })
  const benchPods = [pod('client', 'n1', '10.251.1.2', '172.29.0.2'), pod('server', 'n2', SERVER, '172.29.0.3')]
  const namespaces: V1Namespace[] = [{ metadata: { name: 'bench', labels: { 'weft.dev/mesh': 'enabled' } } }]
  const base = { trustDomain: TD, rootPem: ca.certPem, pods: benchPods, namespaces, outboundPort: OUTBOUND, inboundPort: INBOUND }
  const h1 = await startHost(n1, { ...base, nodeName: 'n1', identities: [await svid('bench', 'client')], capture: ['10.251.1.2'] })
  const h2 = await startHost(n2, { ...base, nodeName: 'n2', identities: [await svid('bench', 'server')], capture: [] })

  await startBackend(cleanup, p2, SERVER, cleanup.tempDir('nginx-', dir), 1)
  startProcess(cleanup, 'nsenter', [`--net=/run/netns/${p2}`, '--', 'iperf3', '-s', '-B', SERVER, '-p', '5201'], { logFile: join(dir, 'iperf3.log') })
  const tunnelCert = async (name: string) => {
    const issued = await issueCertificate(ca, { commonName: name, usages: ['client', 'server'], validityDays: 1 })
    return issued.certPem + issued.keyPem!
  }
  const haproxies = startHaproxyTunnel(cleanup, cleanup.tempDir('haproxy-', dir), [n1, n2], { entry: HAPROXY_ENTRY, exitHost: '172.29.0.3', server: SERVER, ports: [[HAPROXY_HTTP, 18443, 80], [HAPROXY_IPERF, 15203, 5201]] }, { caPem: ca.certPem, n1Pem: await tunnelCert('haproxy-n1'), n2Pem: await tunnelCert('haproxy-n2') })
  await sleep(500)

  interface Round {
    p50: number
    p99: number
    errors: number
    throughputBps: number
    newConnRate: number
    cpuCoresPer1000?: number
    memPer1000MiB?: number
  }
  type Path = 'direct' | 'meshed' | 'haproxy'
  const rounds: Record<Path, Round[]> = { direct: [], meshed: [], haproxy: [] }
  const cpuOf = async () => ((await h1.ask('stats')).cpuUs as number) + ((await h2.ask('stats')).cpuUs as number)
  const heldOf = async () => ((await h1.ask('stats')).heldBytes as number) + ((await h2.ask('stats')).heldBytes as number)

  async function measure(mode: Path): Promise<Round> {
    await h1.ask(mode === 'meshed' ? 'capture on' : 'capture off')
    const [host, httpPort, iperfPort] = mode === 'haproxy' ? [HAPROXY_ENTRY, HAPROXY_HTTP, HAPROXY_IPERF] : [SERVER, 80, 5201]
    const url = `http://${host}:${httpPort}/`
    // A first exchange checks the path (and, meshed, makes the pooled connection).
    await inClient(p1, 'curl', ['-sf', '-o', '/dev/null', '--max-time', '5', url]).catch((err: Error) => {
      throw new Error(`${mode}: ${err.message}${mode === 'haproxy' ? `\n${haproxies.map((p) => p.tail(600)).join('\n')}` : ''}`)
    })
    const cpuBefore = await cpuOf()
    const load = JSON.parse(await inClient(p1, weftBin, ['load', url, '--rate', String(rate), '-d', `${seconds}s`, '--warmup', '1s', '--json', '--progress', 'none', '--no-endpoints'])) as {
      latency: { percentiles: { p: number; ms: number }[] }
      summary?: { errors?: number }
      errors: { count: number }[]
    }
    const cpuUs = (await cpuOf()) - cpuBefore
    const at = (p: number) => load.latency.percentiles.find((x) => x.p === p)?.ms ?? Number.NaN
    const iperfOut = JSON.parse(await inClient(p1, 'iperf3', ['-c', host, '-p', String(iperfPort), '-t', String(iperfSeconds), '-J'])) as { end: { sum_received: { bits_per_second: number } } }
    const close = await wrk(p1, url, { seconds: closeSeconds, threads: 2, connections: 16, close: true })
    const round: Round = { p50: at(50), p99: at(99), errors: load.errors.reduce((n, e) => n + e.count, 0), throughputBps: iperfOut.end.sum_received.bits_per_second, newConnRate: close.requestsPerSecond }
    if (mode === 'meshed') {
      round.cpuCoresPer1000 = cpuUs / 1e6 / (seconds + 1) / (rate / 1000)
      const before = await heldOf()
      const hold = spawn('nsenter', [`--net=/run/netns/${p1}`, '--', process.execPath, '--disable-warning=ExperimentalWarning', join(import.meta.dirname, 'hold.ts'), SERVER, '80', String(holdCount)], { stdio: ['pipe', 'pipe', 'inherit'] })
      const opened = JSON.parse((await createInterface({ input: hold.stdout! })[Symbol.asyncIterator]().next()).value as string) as { open: number; error?: string }
      await sleep(1000)
      const after = await heldOf()
      hold.stdin!.end()
      await new Promise((r) => hold.once('exit', r))
      if (opened.error) throw new Error(`holding ${holdCount} connections: ${opened.error} (${opened.open} open)`)
      round.memPer1000MiB = (after - before) / 1024 / 1024 / (holdCount / 1000)
      await sleep(1000)
    }
    process.stderr.write(`${mode}: p50 ${fmtMs(round.p50)} p99 ${fmtMs(round.p99)} errors ${round.errors}, ${fmtNumber(round.throughputBps / 1e9)} Gbit/s, ${fmtRate(round.newConnRate)} new connections${round.cpuCoresPer1000 !== undefined ? `, ${fmtNumber(round.cpuCoresPer1000)} cores per 1000 req/s, ${fmtNumber(round.memPer1000MiB!)} MiB per 1000 connections` : ''}\n`)
    return round
  }

  for (let run = 1; run <= runs; run++) {
    process.stderr.write(`run ${run}/${runs}\n`)
    for (const mode of run % 2 ? (['direct', 'meshed', 'haproxy'] as const) : (['haproxy', 'meshed', 'direct'] as const)) rounds[mode].push(await measure(mode))
  }
  await h1.ask('capture off')

  const med = (mode: Path, f: (r: Round) => number | undefined) => median(rounds[mode].map(f).filter((v): v is number => v !== undefined))
  const d = { p50: med('direct', (r) => r.p50), p99: med('direct', (r) => r.p99), bps: med('direct', (r) => r.throughputBps), conn: med('direct', (r) => r.newConnRate) }
  const m = { p50: med('meshed', (r) => r.p50), p99: med('meshed', (r) => r.p99), bps: med('meshed', (r) => r.throughputBps), conn: med('meshed', (r) => r.newConnRate), cpu: med('meshed', (r) => r.cpuCoresPer1000), mem: med('meshed', (r) => r.memPer1000MiB) }
  const h = { p50: med('haproxy', (r) => r.p50), p99: med('haproxy', (r) => r.p99), bps: med('haproxy', (r) => r.throughputBps), conn: med('haproxy', (r) => r.newConnRate) }
  const added50 = m.p50 - d.p50
  const added99 = m.p99 - d.p99
  const p50Target = atMost(0.3, ' ms')
  const p99Target = atMost(1, ' ms')
  const half = atLeast(0.5, '×')
  const rows: ResultRow[] = [
    { metric: `latency p50 at ${rate} req/s (meshed vs direct)`, weft: fmtMs(m.p50), peer: fmtMs(d.p50), ratio: `+${fmtMs(added50)}`, target: `added ${p50Target.text}`, verdict: verdict(p50Target, added50) },
    { metric: `latency p99 at ${rate} req/s (meshed vs direct)`, weft: fmtMs(m.p99), peer: fmtMs(d.p99), ratio: `+${fmtMs(added99)}`, target: `added ${p99Target.text}`, verdict: verdict(p99Target, added99) },
    { metric: 'single-stream throughput (iperf3)', weft: `${fmtNumber(m.bps / 1e9)} Gbit/s`, peer: `${fmtNumber(d.bps / 1e9)} Gbit/s`, ratio: `${fmtNumber(m.bps / d.bps)}×`, target: half.text, verdict: verdict(half, m.bps / d.bps) },
    { metric: 'new connections per second (wrk, Connection: close)', weft: fmtRate(m.conn), peer: fmtRate(d.conn), ratio: `${fmtNumber(m.conn / d.conn)}×`, target: half.text, verdict: verdict(half, m.conn / d.conn) },
    { metric: `reference: HAProxy mTLS tunnel, same hops, latency p50 / p99`, weft: `${fmtMs(h.p50)} / ${fmtMs(h.p99)}`, peer: `${fmtMs(d.p50)} / ${fmtMs(d.p99)}`, ratio: `+${fmtMs(h.p50 - d.p50)} / +${fmtMs(h.p99 - d.p99)}`, target: '', verdict: '' },
    { metric: 'reference: HAProxy mTLS tunnel, single-stream throughput', weft: `${fmtNumber(h.bps / 1e9)} Gbit/s`, peer: `${fmtNumber(d.bps / 1e9)} Gbit/s`, ratio: `${fmtNumber(h.bps / d.bps)}×`, target: '', verdict: '' },
    { metric: 'reference: HAProxy mTLS tunnel, new connections per second', weft: fmtRate(h.conn), peer: fmtRate(d.conn), ratio: `${fmtNumber(h.conn / d.conn)}×`, target: '', verdict: '' },
    { metric: `node proxy CPU per 1000 req/s (both nodes)`, weft: `${fmtNumber(m.cpu)} cores`, peer: 'ztunnel 0.06 vCPU', ratio: '', target: '', verdict: '' },
    { metric: `node proxy memory per 1000 connections (both nodes, malloc + V8 heap)`, weft: `${fmtNumber(m.mem)} MiB`, peer: '', ratio: '', target: '', verdict: '' },
  ]
  const machine = machineSummary(startedAt)
  process.stdout.write(`\n${textTable(rows)}\n\n${machine}\n`)
  if (flags.out !== '-') {
    const perRun = (['direct', 'meshed', 'haproxy'] as const)
      .flatMap((mode) => rounds[mode].map((r, i) => `| ${mode} | ${i + 1} | ${fmtMs(r.p50)} | ${fmtMs(r.p99)} | ${r.errors} | ${fmtNumber(r.throughputBps / 1e9)} | ${fmtRate(r.newConnRate)} | ${r.cpuCoresPer1000 === undefined ? '' : fmtNumber(r.cpuCoresPer1000)} | ${r.memPer1000MiB === undefined ? '' : fmtNumber(r.memPer1000MiB)} |`))
      .join('\n')
    writeFileSync(
      flags.out!,
      `# Mesh benchmark results\n\n\`node bench/mesh/run.ts --runs ${runs} --rate ${rate} --seconds ${seconds}\`, ${new Date().toISOString().slice(0, 10)}. ` +
        `"weft" is the meshed path (client pod → its node proxy → mTLS HTTP/2 tunnel → the server's node proxy → server pod), "peer" the direct path between the same pods in the same run; medians over ${runs} runs. ` +
        `The reference rows are HAProxy ${haproxyVersion()} on both nodes as a mutual-TLS TCP tunnel over the same hops, one thread per node (bench/mesh/haproxy.ts): no transparent capture, no policy, no pooling (a TLS handshake per connection).\n\n` +
        `${markdownTable(rows)}\n\n${machine}.\n\n` +
        `Published figures of the peers (their own conditions, not this machine): Istio 1.24's ztunnel uses about 0.06 vCPU and 12 MB at 1,000 HTTP requests/s of 1 KB (istio.io, Performance and Scalability); Istio 1.22's two ztunnels add about 0.17 ms at p90 and 0.20 ms at p99 at 1,000 requests/s. ` +
        `Linkerd 2.11.1 (linkerd.io, "Benchmarking Linkerd and Istio: 2021 Redux"): +6 ms median latency over no mesh at 2,000 requests/s, proxy memory 26.3 MB, max proxy CPU time 36 ms.\n\n` +
        `## Every round\n\n| path | run | p50 | p99 | errors | Gbit/s | new connections | cores per 1000 req/s | MiB per 1000 connections |\n|---|---|---|---|---|---|---|---|---|\n${perRun}\n`,
    )
    process.stdout.write(`results written to ${flags.out}\n`)
  }
} finally {
  await cleanup.run()
}
if (flags.profile) {
  for (const node of ['n1', 'n2']) {
    const file = join(resolve(flags.profile), `${prefix}-${node}.cpuprofile`)
    const { busyMs, spots } = hotSpots(file, 15, repo)
    process.stdout.write(`\n${node} node proxy: ${fmtNumber(busyMs)} ms busy\n${spots.map((s) => `  ${(s.share * 100).toFixed(1).padStart(5)}%  ${s.name}`).join('\n')}\n`)
  }
}
