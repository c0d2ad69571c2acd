// The Ingress benchmark (issues 7, 21): wrk against `weft ingress` and against nginx and
// HAProxy configured with the same routes, the same backend, one worker (thread) each, over TLS
// with keep-alive, TLS with a new connection per request and (optionally) plain HTTP; then TLS
// keep-alive with as many workers as CPUs each; interleaved rounds on one machine.
// Then "Ingress created → routable" with 1,000 Ingresses present. Everything listens on
// 127.0.0.1; every process is stopped by pid and the temp dir removed (on success, failure
// and Ctrl-C). See README.md.
import { execFileSync, spawnSync } from 'node:child_process'
import { availableParallelism } from 'node:os'
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { X509Certificate } from 'node:crypto'
import { parseArgs } from 'node:util'
import { pool } from '../apiserver/http.ts'
import { startWeftServer } from '../apiserver/weft-server.ts'
import { processTree } from '../dns/memory.ts'
import { Cleanup } from '../lib/cleanup.ts'
import { hotSpots } from '../lib/cpu-profile.ts'
import { profileTail } from '../lib/cpu-profile-window.ts'
import { cpuSeconds, freePort, startProcess, type ChildProcess } from '../lib/process.ts'
import { atLeast, atMost, fmtMs, fmtNumber, fmtRate, machineSummary, markdownTable, textTable, verdict, type ResultRow, type Target } from '../lib/report.ts'
import { median, summarize, type Summary } from '../lib/stats.ts'
import { BODY, startBackend } from './backend.ts'
import { makeCert } from './cert.ts'
import { waitForBody } from './curl.ts'
import { ensureTools } from './deps.ts'
import { HAPROXY, startHaproxy } from './haproxy.ts'
import { perfProfile, removePerfMap } from './perf.ts'
import { proxyConfig, startNginx } from './nginx.ts'
import { measureRoutable, probePool, waitRoutable } from './routable.ts'
import { ROUTED, TARGET, createBackends, createIngresses, hostRoute, routedSet, sliceVersions } from './routes.ts'
import { startWeftIngress } from './weft-ingress.ts'
import { errorCount, runWrk, type WrkResult } from './wrk.ts'

const usage = `Usage: node bench/ingress/run.ts [options]

  --rounds N            rounds of (nginx, HAProxy, weft), order alternating (default 3)
  --seconds N           wrk run per server, scenario and round (default 10)
  --warmup N            wrk warm-up per server and scenario, seconds (default 2)
  --connections N       wrk -c (default 50)
  --workers N           weft --workers, nginx worker_processes and HAProxy nbthread of the main
                        rows (default 1: one serving thread each)
  --scaled N            also TLS keep-alive with weft --workers N, nginx worker_processes N and
                        HAProxy nbthread N (default: the CPUs, ${availableParallelism()} here; 0: none)
  --ingresses N         Ingresses present for the routable test (default 1000, at least ${ROUTED + 1})
  --new N               new Ingresses timed create → routable (default 100)
  --profile-seconds N   one extra TLS keep-alive run against a separate weft with --cpu-prof (default 10; 0: none)
  --cpu-prof DIR        keep that profile in DIR (default: the temp dir, removed)
  --perf-seconds N      native stacks: perf record -g for N s on a separate weft (node --perf-basic-prof)
                        during a TLS keep-alive run, summarised (default 0: none)
  --no-plain            skip the plain-HTTP keep-alive scenario
  --access-log          both proxies log every request (nginx to a file, weft at WEFT_LOG_LEVEL=info)
  --node-pipe           also measure a Node process that only pipes bytes to the backend (no HTTP):
                        the ceiling of any proxy written in Node on this machine, as a third column
  --quick               1 round of 3 s, 1 s warm-ups, 200 Ingresses, 3 s profile
  --out FILE            results file (default bench/ingress/results.md; "-" for none)
`
const { values: flags } = parseArgs({
  options: {
    rounds: { type: 'string' },
    seconds: { type: 'string' },
    warmup: { type: 'string' },
    connections: { type: 'string', default: '50' },
    workers: { type: 'string', default: '1' },
    scaled: { type: 'string' },
    ingresses: { type: 'string' },
    new: { type: 'string', default: '100' },
    'profile-seconds': { type: 'string' },
    'cpu-prof': { type: 'string' },
    'perf-seconds': { type: 'string' },
    'no-plain': { type: 'boolean', default: false },
    'access-log': { type: 'boolean', default: false },
    quick: { type: 'boolean', default: false },
    'node-pipe': { type: 'boolean', default: false },
    out: { type: 'string', default: resolve(import.meta.dirname, 'results.md') },
    help: { type: 'boolean', short: 'h' },
  },
})
if (flags.help) {
  process.stdout.write(usage)
  process.exit(0)
}
const quick = flags.quick!
function integer(name: keyof typeof flags, min: number, normal: number, fast: number): number {
  const raw = flags[name]
  const n = raw === undefined ? (quick ? fast : normal) : Number(raw)
  if (!Number.isInteger(n) || n < min) {
    process.stderr.write(`--${name} must be an integer ≥ ${min}\n\n${usage}`)
    process.exit(2)
  }
  return n
}
const rounds = integer('rounds', 1, 3, 1)
const seconds = integer('seconds', 1, 10, 3)
const warmup = integer('warmup', 0, 2, 1)
const connections = integer('connections', 1, 50, 50)
const workers = integer('workers', 1, 1, 1)
const scaled = integer('scaled', 0, availableParallelism(), availableParallelism())
const ingressCount = integer('ingresses', ROUTED + 1, 1000, 200)
const newCount = integer('new', 1, 100, 100)
const profileSeconds = integer('profile-seconds', 0, 10, 3)
const perfSeconds = integer('perf-seconds', 0, 0, 0)
const accessLog = flags['access-log']!
const cpuProfDir = flags['cpu-prof'] === undefined ? undefined : resolve(flags['cpu-prof'])

const progress = (line: string): void => void process.stderr.write(`${line}\n`)
const started = Date.now()
const cleanup = new Cleanup()
cleanup.onSignals()
let interrupted = false
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => (interrupted = true))

const n = (count: number): string => count.toLocaleString('en-US')
const ratioText = (r: number): string => (Number.isFinite(r) ? `${fmtNumber(r)}×` : '—')

interface Scenario {
  key: string
  title: string
  scheme: 'http' | 'https'
  close: boolean
  rpsTarget?: Target
  p99Target?: Target
}

// Targets (issue 21) are against nginx.
const scenarios: Scenario[] = [
  { key: 'tls-keepalive', title: 'TLS keep-alive', scheme: 'https', close: false, rpsTarget: atLeast(0.6, '×'), p99Target: atMost(2, '×') },
  { key: 'tls-new', title: 'TLS, new connection per request', scheme: 'https', close: true, rpsTarget: atLeast(0.8, '×'), p99Target: atMost(2, '×') },
  ...(flags['no-plain'] ? [] : [{ key: 'http-keepalive', title: 'plain HTTP keep-alive', scheme: 'http' as const, close: false, rpsTarget: atLeast(0.6, '×') }]),
]
/** The scenario of the scaled rows (--scaled). */
const scaledScenario: Scenario = { key: 'tls-keepalive-scaled', title: `TLS keep-alive, ${scaled} workers each`, scheme: 'https', close: false }

interface Proxy {
  label: string
  process: ChildProcess
  ports: { http: number; https: number }
  /** Per scenario key: one result per round, and the proxy's CPU seconds during it. */
  results: Map<string, { wrk: WrkResult; cpu: number }[]>
}

function treeCpu(pid: number): number {
  return processTree(pid).reduce((sum, p) => {
    try {
      return sum + cpuSeconds(p)
    } catch {
      return sum
    }
  }, 0)
}

async function wrkRun(work: string, p: Proxy, s: Scenario, secs: number, round: number): Promise<{ wrk: WrkResult; cpu: number }> {
  const outFile = join(work, `wrk-${p.label}-${s.key}-${round}.txt`)
  const cpu0 = treeCpu(p.process.pid)
  const port = s.scheme === 'https' ? p.ports.https : p.ports.http
  const r = await runWrk(cleanup, { url: `${s.scheme}://127.0.0.1:${port}${TARGET.path}`, host: TARGET.host, connections, seconds: secs, close: s.close, outFile })
  const cpu = treeCpu(p.process.pid) - cpu0
  if (p.process.exited) throw new Error(`${p.label} exited during the ${s.title} run; log ${p.process.logFile}:\n${p.process.tail()}`)
  if (errorCount(r) > 0 || r.requests === 0) {
    const e = r.socketErrors
    throw new Error(`${p.label}, ${s.title}${round ? `, round ${round}` : ' warm-up'}: ${n(r.requests)} requests, ${n(r.non2xx)} non-2xx/3xx answers, socket errors connect ${e.connect} read ${e.read} write ${e.write} timeout ${e.timeout} (wrk output ${outFile})`)
  }
  return { wrk: r, cpu }
}

/** The certificate a proxy serves to SNI 127.0.0.1, as wrk (OpenSSL) asks for it: its SHA-256 fingerprint. */
function servedFingerprint(port: number): string {
  const pem = execFileSync('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', '127.0.0.1'], { input: '', encoding: 'utf8', stdio: ['pipe', 'pipe', 'ignore'], timeout: 5000 })
  return new X509Certificate(pem.slice(pem.indexOf('-----BEGIN CERTIFICATE-----'))).fingerprint256
}

function versionOf(command: string, args: string[]): string {
  const r = spawnSync(command, args, { encoding: 'utf8' })
  const text = `${r.stdout ?? ''}${r.stderr ?? ''}`.split('\n')[0]!.trim()
  return text || `${command} (version unknown)`
}

function scenarioRows(s: Scenario, weft: Proxy, peer: Proxy, peerName: string): ResultRow[] {
  const w = weft.results.get(s.key)!
  const g = peer.results.get(s.key)!
  const perRound = (f: (r: { wrk: WrkResult; cpu: number }) => number) => median(w.map((r, i) => f(r) / f(g[i]!)))
  const med = (list: typeof w, f: (r: { wrk: WrkResult; cpu: number }) => number) => median(list.map(f))
  const row = (metric: string, fmt: (v: number) => string, f: (r: { wrk: WrkResult; cpu: number }) => number, target?: Target): ResultRow => {
    const ratio = perRound(f)
    return { metric, weft: fmt(med(w, f)), peer: fmt(med(g, f)), ratio: ratioText(ratio), target: target?.text ?? '', verdict: verdict(target, ratio) }
  }
  const close = s.close ? " -H 'Connection: close'" : ''
  const title = `${s.title} vs ${peerName}`
  return [
    row(`${title}: requests/s (wrk -t1 -c${connections}${close}, median of ${rounds})`, fmtRate, (r) => r.wrk.rps, s.rpsTarget),
    row(`${title}: latency p99`, fmtMs, (r) => r.wrk.p99Ms, s.p99Target),
    row(`${title}: latency p50`, fmtMs, (r) => r.wrk.p50Ms),
    row(`${title}: requests per proxy CPU-second (per core)`, fmtNumber, (r) => r.wrk.requests / r.cpu),
  ]
}

function perRoundNotes(p: Proxy): string {
  return [...scenarios, scaledScenario]
    .filter((s) => p.results.has(s.key))
    .map((s) => {
      const list = p.results.get(s.key)!
      return `${s.title} ${list.map((r) => `${fmtRate(r.wrk.rps)} p99 ${fmtMs(r.wrk.p99Ms)} (CPU ${r.cpu.toFixed(1)} s)`).join(' / ')}`
    })
    .join('; ')
}

try {
  ensureTools()
  const work = cleanup.tempDir('weft-bench-ingress-')
  const cert = makeCert(work)
  const backendDir = join(work, 'backend')
  mkdirSync(backendDir)
  const backend = await startBackend(cleanup, backendDir)
  progress(`backend (nginx, return 200) on 127.0.0.1:${backend.port}`)
  const api = await startWeftServer(cleanup, { dataDir: cleanup.tempDir('api-', work) })
  const client = pool(api.url, 16, api.tls)
  cleanup.add(() => client.destroy())
  progress(`API server at ${api.url}`)
  await createBackends(client, backend.port, cert)
  const routes = routedSet()
  await createIngresses(client, routes, 16)
  const slicesBefore = await sliceVersions(client)
  progress(`created ${ROUTED} Ingresses (${new Set(routes.map((r) => r.host)).size} hosts), ${n(routes.reduce((sum, r) => sum + r.paths.length, 0))} paths, the TLS Secret, Services and EndpointSlices`)

  /** nginx and HAProxy with `n` workers (threads), each from the same route list. */
  const startPeers = async (n: number, suffix: string): Promise<[Proxy, Proxy]> => {
    const nginxDir = join(work, `nginx${suffix}`)
    mkdirSync(nginxDir)
    const nginxPorts = { http: await freePort(), https: await freePort() }
    const nginxConf = proxyConfig({ dir: nginxDir, workers: n, httpPort: nginxPorts.http, httpsPort: nginxPorts.https, backendPort: backend.port, cert, routes, accessLog: accessLog ? join(nginxDir, 'access.log') : undefined })
    const nginxProc = startNginx(cleanup, nginxDir, nginxConf, 'nginx')
    await waitForBody(`nginx${suffix}`, nginxProc, nginxPorts, TARGET.host, TARGET.path, BODY)
    const haproxyDir = join(work, `haproxy${suffix}`)
    mkdirSync(haproxyDir)
    const haproxyPorts = { http: await freePort(), https: await freePort() }
    const haproxyProc = startHaproxy(cleanup, { dir: haproxyDir, threads: n, httpPort: haproxyPorts.http, httpsPort: haproxyPorts.https, backendPort: backend.port, cert, routes }, 'haproxy')
    await waitForBody(`haproxy${suffix}`, haproxyProc, haproxyPorts, TARGET.host, TARGET.path, BODY)
    return [
      { label: `nginx${suffix}`, process: nginxProc, ports: nginxPorts, results: new Map() },
      { label: `haproxy${suffix}`, process: haproxyProc, ports: haproxyPorts, results: new Map() },
    ]
  }
  const startWeft = async (n: number, suffix: string): Promise<Proxy> => {
    const w = await startWeftIngress(cleanup, { apiUrl: api.url, kubeconfig: api.kubeconfig, dir: work, label: `measured${suffix}`, workers: n })
    const ports = { http: w.httpPort, https: w.httpsPort }
    await waitForBody(`weft${suffix}`, w.process, ports, TARGET.host, TARGET.path, BODY)
    return { label: `weft${suffix}`, process: w.process, ports, results: new Map() }
  }
  const expected = new X509Certificate(cert.cert).fingerprint256
  const checkCert = (list: Proxy[]) => {
    for (const p of list) if (servedFingerprint(p.ports.https) !== expected) throw new Error(`${p.label} does not serve the bench certificate to SNI 127.0.0.1`)
  }

  if (accessLog) process.env.WEFT_LOG_LEVEL = 'info'
  const [nginx, haproxy] = await startPeers(workers, '')
  const weft = await startWeft(workers, '')
  checkCert([nginx, haproxy, weft])
  const weftPorts = weft.ports
  progress(`nginx (${workers} worker), HAProxy (${workers} thread) and weft ingress (${workers} worker) all serve ${TARGET.host}${TARGET.path} → backend, with the same certificate`)
  let pipe: Proxy | undefined
  if (flags['node-pipe']) {
    const ports = { http: await freePort(), https: await freePort() }
    const proc = startProcess(cleanup, process.execPath, [join(import.meta.dirname, 'node-pipe.ts'), String(ports.http), String(ports.https), String(backend.port), cert.certFile, cert.keyFile], { logFile: join(work, 'node-pipe.log') })
    await waitForBody('node-pipe', proc, ports, TARGET.host, TARGET.path, BODY)
    pipe = { label: 'node-pipe', process: proc, ports, results: new Map() }
    progress(`node-pipe (a Node process piping bytes to the backend, no HTTP) on 127.0.0.1:${ports.http} and :${ports.https}`)
  }
  const contenders = pipe ? [nginx, haproxy, weft, pipe] : [nginx, haproxy, weft]
  for (const p of contenders) for (const s of scenarios) p.results.set(s.key, [])
  let scaledSet: Proxy[] = []
  if (scaled > 1) {
    const [n, h] = await startPeers(scaled, `×${scaled}`)
    const w = await startWeft(scaled, `×${scaled}`)
    checkCert([n, h, w])
    scaledSet = [n, h, w]
    for (const p of scaledSet) p.results.set(scaledScenario.key, [])
    progress(`and with ${scaled} workers (threads) each: nginx, HAProxy and weft ingress`)
  }
  if (warmup > 0) {
    for (const p of contenders) for (const s of scenarios) await wrkRun(work, p, s, warmup, 0)
    for (const p of scaledSet) await wrkRun(work, p, scaledScenario, warmup, 0)
  }
  for (let round = 1; round <= rounds; round++) {
    const runs: [Scenario, Proxy[]][] = [...scenarios.map((s): [Scenario, Proxy[]] => [s, contenders]), ...(scaledSet.length > 0 ? [[scaledScenario, scaledSet] as [Scenario, Proxy[]]] : [])]
    for (const [s, list] of runs) {
      const order = round % 2 === 1 ? list : [...list].reverse()
      for (const p of order) {
        const r = await wrkRun(work, p, s, seconds, round)
        p.results.get(s.key)!.push(r)
        progress(`round ${round}: ${s.title}: ${p.label} ${fmtRate(r.wrk.rps)}, p99 ${fmtMs(r.wrk.p99Ms)}, proxy CPU ${r.cpu.toFixed(1)} s`)
      }
    }
  }
  if ((await sliceVersions(client)) !== slicesBefore) throw new Error('the EndpointSlices changed during the run: something else manages them')
  for (const p of [nginx, haproxy, ...scaledSet]) await p.process.stop()

  let profileText = ''
  if (profileSeconds > 0) {
    const dir = cpuProfDir ?? join(work, 'profile')
    mkdirSync(dir, { recursive: true })
    const before = new Set(readdirSync(dir))
    const profiled = await startWeftIngress(cleanup, { apiUrl: api.url, kubeconfig: api.kubeconfig, dir: work, label: 'profiled', cpuProfDir: dir })
    const ports = { http: profiled.httpPort, https: profiled.httpsPort }
    await waitForBody('weft (profiled)', profiled.process, ports, TARGET.host, TARGET.path, BODY)
    const loadStarted = Date.now()
    const r = await wrkRun(work, { label: 'weft', process: profiled.process, ports, results: new Map() }, scenarios[0]!, profileSeconds, -1)
    await profiled.process.stop(15_000)
    const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile') && !before.has(f))
    if (file) {
      // Only the load and the shutdown after it: start-up (module loading) is left out.
      const window = profileTail(join(dir, file), Date.now() - loadStarted)
      const root = resolve(import.meta.dirname, '../..')
      const { busyMs, spots } = hotSpots(window, 20, root)
      const inclusive = hotSpots(window, 400, root, true).spots.filter((h) => / (src|ingress)\//.test(h.name)).slice(0, 15)
      const list = (hs: typeof spots) => hs.map((h) => `  ${(h.share * 100).toFixed(1).padStart(5)}%  ${h.name}`).join('\n')
      profileText =
        `weft ingress CPU profile ${join(dir, file)}: TLS keep-alive, ${profileSeconds} s, ${fmtRate(r.wrk.rps)} under the profiler; ${fmtMs(busyMs)} busy in the load window.\n` +
        `Self time:\n${list(spots)}\nInclusive time, weft's own functions:\n${list(inclusive)}\n`
      process.stdout.write(`\n${profileText}`)
    } else progress(`no CPU profile appeared in ${dir}`)
  }

  let perfText = ''
  if (perfSeconds > 0) {
    const profiled = await startWeftIngress(cleanup, { apiUrl: api.url, kubeconfig: api.kubeconfig, dir: work, label: 'perf', perfBasicProf: true })
    const pid = profiled.process.pid
    cleanup.add(() => removePerfMap(pid))
    const ports = { http: profiled.httpPort, https: profiled.httpsPort }
    await waitForBody('weft (perf)', profiled.process, ports, TARGET.host, TARGET.path, BODY)
    const load = wrkRun(work, { label: 'weft', process: profiled.process, ports, results: new Map() }, scenarios[0]!, perfSeconds + 3, -2)
    await new Promise((r) => setTimeout(r, 1500))
    const summary = await perfProfile(pid, perfSeconds, join(work, 'perf.data'))
    const r = await load
    await profiled.process.stop(15_000)
    removePerfMap(pid)
    perfText = `weft ingress (--workers 1) under perf record -g, node --perf-basic-prof: TLS keep-alive, ${perfSeconds} s of ${perfSeconds + 3} s, ${fmtRate(r.wrk.rps)} under the profiler.\n${summary}`
    process.stdout.write(`\n${perfText}`)
  }

  // Routable: fill up to --ingresses with distinct hosts, then time --new creates one by one.
  const extras = Array.from({ length: ingressCount - ROUTED }, (_, i) => hostRoute('extra', i))
  const extraRate = await createIngresses(client, extras, 16)
  const probe = probePool(weftPorts.http)
  cleanup.add(() => probe.close())
  await waitRoutable(probe, extras.at(-1)!.host, 30_000)
  progress(`${n(ingressCount)} Ingresses present (${n(extras.length)} more created at ${fmtRate(extraRate)}); timing ${newCount} new ones`)
  const routable = await measureRoutable(client, probe, newCount)
  const rt: Summary = summarize(routable.ms)
  progress(`create → routable: p50 ${fmtMs(rt.p50)}, p99 ${fmtMs(rt.p99)}, max ${fmtMs(rt.max)}`)
  if (weft.process.exited) throw new Error(`weft exited; log ${weft.process.logFile}:\n${weft.process.tail()}`)

  const untargeted = (s: Scenario): Scenario => ({ ...s, rpsTarget: undefined, p99Target: undefined })
  const rows: ResultRow[] = scenarios.flatMap((s) => [...scenarioRows(s, weft, nginx, 'nginx'), ...scenarioRows(untargeted(s), weft, haproxy, 'HAProxy')])
  if (scaledSet.length > 0) {
    const [n, h, w] = scaledSet as [Proxy, Proxy, Proxy]
    rows.push(...scenarioRows(scaledScenario, w, n, `nginx (worker_processes ${scaled})`), ...scenarioRows(scaledScenario, w, h, `HAProxy (nbthread ${scaled})`))
  }
  if (pipe) {
    for (const s of scenarios) {
      const [row] = scenarioRows(untargeted(s), pipe, nginx, 'nginx')
      rows.push({ ...row!, metric: `node-pipe (no HTTP: the ceiling of a Node proxy), ${row!.metric}` })
    }
  }
  const routableTarget = atMost(100, ' ms')
  rows.push({ metric: `Ingress created → routable, p99 (${newCount} new, ${n(ingressCount)} present)`, weft: fmtMs(rt.p99), peer: '—', ratio: '—', target: routableTarget.text, verdict: verdict(routableTarget, rt.p99) })
  rows.push({ metric: 'Ingress created → routable, p50 / max', weft: `${fmtMs(rt.p50)} / ${fmtMs(rt.max)}`, peer: '—', ratio: '—', target: '', verdict: '' })
  rows.push({ metric: 'wrk non-2xx answers and socket errors (all runs)', weft: '0', peer: '0', ratio: '—', target: '', verdict: '' })

  const setup =
    `${machineSummary(started)}; ${versionOf('nginx', ['-v'])}, ${versionOf(HAPROXY, ['-v'])}, ${versionOf('wrk', ['-v'])}, Node ${process.version}; ` +
    `${rounds} round(s) of ${seconds} s per server and scenario (order alternating, ${warmup} s warm-ups), wrk -t1 -c${connections} --latency to Host ${TARGET.host} path ${TARGET.path}; ` +
    `weft ingress --workers ${workers} vs nginx worker_processes ${workers} and HAProxy nbthread ${workers}${scaledSet.length > 0 ? `, then ${scaled} each (TLS keep-alive)` : ''}; ${ROUTED} Ingresses routed; access logs ${accessLog ? 'on in weft and nginx' : 'off in all'}`
  process.stdout.write(`\ningress: weft ingress vs nginx and HAProxy (peers) — ${setup}\n\n${textTable(rows)}\n`)
  if (flags.out !== '-') {
    const md =
      `# bench/ingress results\n\n${new Date().toISOString()}: ${setup}.\n\n` +
      `"weft" = \`weft ingress\` (routes from the API), "peer" = nginx or HAProxy (as the row says) configured from the same route list (bench/ingress/nginx.ts, haproxy.ts); all proxy to the same backend ` +
      `(a second nginx answering a 100-byte body). Ratio = weft ÷ peer, the median over rounds of ratios measured back to back.\n\n${markdownTable(rows)}\n\nPer round:\n\n` +
      [nginx, haproxy, weft, ...scaledSet].map((p) => `- ${p.label}: ${perRoundNotes(p)}\n`).join('') +
      (pipe ? `- node-pipe: ${perRoundNotes(pipe)}\n` : '') +
      `- create → routable (ms, in creation order): ${routable.ms.map((m) => m.toFixed(0)).join(' ')}\n` +
      (profileText ? `\n\`\`\`\n${profileText}\`\`\`\n` : '') +
      (perfText ? `\n\`\`\`\n${perfText}\`\`\`\n` : '')
    writeFileSync(flags.out!, md)
    process.stdout.write(`\nwrote ${flags.out}\n`)
  }
} catch (err) {
  if (!interrupted) process.stderr.write(`bench failed: ${(err as Error).stack ?? err}\n`)
  process.exitCode = 1
} finally {
  await cleanup.run()
}
