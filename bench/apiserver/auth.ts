// The authentication benchmark: Pod creates/s by a service account's bearer token that a
// RoleBinding allows, with thousands of unrelated bindings in the RBAC index, against the
// same creates by the admin client certificate (system:masters: no RBAC evaluation), in
// one server, alternating, medians over several runs. See README.md.
import { readdirSync, writeFileSync } from 'node:fs'
import { availableParallelism, cpus, tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import type { Pool } from 'undici'
import { Cleanup } from '../lib/cleanup.ts'
import { nowMs } from '../lib/clock.ts'
import { hotSpots } from '../lib/cpu-profile.ts'
import { monotonicUs, profileWindows, type ClockWindow } from '../lib/cpu-profile-window.ts'
import type { LoadResult } from '../lib/load.ts'
import { cpuSeconds } from '../lib/process.ts'
import { fmtMs, fmtNumber, fmtRate, markdownTable, textTable, verdict, type ResultRow, type Target } from '../lib/report.ts'
import { median } from '../lib/stats.ts'
import { createAuthState, creatorToken, CREATOR, expectStatus } from './auth-setup.ts'
import { pool } from './http.ts'
import { startWeftServer } from './weft-server.ts'
import { createPods } from './workloads.ts'

const usage = `Usage: node bench/apiserver/auth.ts [flags]

  --creates N                 Pod creates per run and caller (default 3000)
  --runs N                    runs per caller, alternating which goes first; medians are reported (default 5)
  --concurrency N             creates in flight (default 64)
  --role-bindings N           unrelated RoleBindings in the creates' namespace (default 2000)
  --cluster-role-bindings N   unrelated ClusterRoleBindings (default 500)
  --tmpdir DIR                where the data dir goes (default the OS temp dir)
  --cpu-prof DIR              write a CPU profile of the server into DIR and print where the time goes
  --out FILE                  results file (default bench/apiserver/auth-results.md; "-" for none)
`

const { values: flags } = parseArgs({
  options: {
    creates: { type: 'string', default: '3000' },
    runs: { type: 'string', default: '5' },
    concurrency: { type: 'string', default: '64' },
    'role-bindings': { type: 'string', default: '2000' },
    'cluster-role-bindings': { type: 'string', default: '500' },
    tmpdir: { type: 'string', default: tmpdir() },
    'cpu-prof': { type: 'string' },
    out: { type: 'string', default: resolve(import.meta.dirname, 'auth-results.md') },
    help: { type: 'boolean', short: 'h' },
  },
  strict: true,
})
if (flags.help) {
  process.stdout.write(usage)
  process.exit(0)
}

function count(name: keyof typeof flags, min: number): number {
  const n = Number(flags[name])
  if (!Number.isInteger(n) || n < min) {
    process.stderr.write(`--${name} must be an integer ≥ ${min}, got "${flags[name]}"\n\n${usage}`)
    process.exit(2)
  }
  return n
}

const config = {
  creates: count('creates', 1),
  runs: count('runs', 1),
  concurrency: count('concurrency', 1),
  roleBindings: count('role-bindings', 0),
  clusterRoleBindings: count('cluster-role-bindings', 0),
  tmpdir: resolve(flags.tmpdir!),
  cpuProf: flags['cpu-prof'] ? resolve(flags['cpu-prof']) : undefined,
  out: flags.out === '-' ? undefined : resolve(flags.out!),
}

const NS = 'auth-bench'
const WARMUP = 500
const TARGET_RATIO = 0.9

type Caller = 'certificate' | 'token'

interface CallerRuns {
  runs: LoadResult[]
  serverCores: number[]
  /** Server CPU time per create, ms: less sensitive than creates/s to other load on the machine. */
  cpuMsPerCreate: number[]
  /** When its runs went on, to cut the server's CPU profile per caller. */
  windows: ClockWindow[]
}

interface AuthResult {
  byCaller: Record<Caller, CallerRuns>
  /** token ÷ certificate creates/s, per run pair. */
  pairRatios: number[]
  profile?: string
}

const log = (msg: string) => process.stderr.write(`${msg}\n`)
const fmtCount = (n: number): string => n.toLocaleString('en-US')

function describe(r: LoadResult): string {
  const s = r.latency.summary()
  return `${fmtRate(r.rate)} (p50 ${fmtMs(s.p50)}, p99 ${fmtMs(s.p99)})`
}

function mustSucceed(what: string, r: LoadResult): void {
  if (r.errors > 0) throw new Error(`${what}: ${r.errors} of ${r.ok + r.errors} calls failed; first: ${(r.firstError as Error)?.message ?? r.firstError}`)
}

async function timedCreates(p: Pool, serverPid: number, prefix: string): Promise<{ result: LoadResult; serverCores: number; cpuMsPerCreate: number; window: ClockWindow }> {
  const fromUs = monotonicUs()
  const t0 = nowMs()
  const cpu0 = cpuSeconds(serverPid)
  const result = await createPods(p, config.creates, config.concurrency, (i) => ({ namespace: NS, name: `${prefix}-${i}` }))
  const seconds = (nowMs() - t0) / 1000
  const cpu = cpuSeconds(serverPid) - cpu0
  return { result, serverCores: cpu / seconds, cpuMsPerCreate: (cpu * 1000) / Math.max(1, result.ok), window: { fromUs, toUs: monotonicUs() } }
}

async function bench(cleanup: Cleanup): Promise<AuthResult> {
  const dataDir = cleanup.tempDir('weft-bench-auth-', config.tmpdir)
  const server = await startWeftServer(cleanup, { dataDir, cpuProfDir: config.cpuProf })
  log(`server pid ${server.process.pid} at ${server.url}`)
  const admin = pool(server.url, config.concurrency, server.tls)
  let bearer: Pool | undefined
  try {
    const t0 = nowMs()
    await createAuthState(admin, { namespace: NS, roleBindings: config.roleBindings, clusterRoleBindings: config.clusterRoleBindings })
    log(`made ${fmtCount(config.roleBindings)} unrelated RoleBindings in ${NS} and ${fmtCount(config.clusterRoleBindings)} ClusterRoleBindings in ${((nowMs() - t0) / 1000).toFixed(1)} s`)
    const token = await creatorToken(admin, NS)
    bearer = pool(server.url, config.concurrency, { ca: server.tls.ca, token })
    // RBAC decides: the account may create Pods in NS and do nothing else asked here.
    await expectStatus(bearer, `/api/v1/namespaces/${NS}/pods`, 403)
    await expectStatus(bearer, `/api/v1/namespaces/${NS}/secrets`, 403)
    log(`token for system:serviceaccount:${NS}:${CREATOR}: list pods and secrets refused (403)`)

    const callers: Record<Caller, Pool> = { certificate: admin, token: bearer }
    for (const caller of ['certificate', 'token'] as const) {
      mustSucceed(`${caller} warm-up`, await createPods(callers[caller], WARMUP, config.concurrency, (i) => ({ namespace: NS, name: `warm-${caller}-${i}` })))
    }
    log(`warm-up: ${WARMUP} creates by each caller`)

    const byCaller: Record<Caller, CallerRuns> = { certificate: { runs: [], serverCores: [], cpuMsPerCreate: [], windows: [] }, token: { runs: [], serverCores: [], cpuMsPerCreate: [], windows: [] } }
    const pairRatios: number[] = []
    for (let run = 0; run < config.runs; run++) {
      const order: Caller[] = run % 2 === 0 ? ['certificate', 'token'] : ['token', 'certificate']
      for (const caller of order) {
        const { result, serverCores, cpuMsPerCreate, window } = await timedCreates(callers[caller], server.process.pid, `${caller}-${run}`)
        mustSucceed(`run ${run + 1}, ${caller}`, result)
        byCaller[caller].runs.push(result)
        byCaller[caller].serverCores.push(serverCores)
        byCaller[caller].cpuMsPerCreate.push(cpuMsPerCreate)
        byCaller[caller].windows.push(window)
        log(`run ${run + 1}, ${caller.padEnd(11)}: ${describe(result)}; server ${serverCores.toFixed(2)} cores, ${fmtMs(cpuMsPerCreate)} CPU per create`)
      }
      pairRatios.push(byCaller.token.runs[run].rate / byCaller.certificate.runs[run].rate)
    }

    await server.process.stop(15_000)
    const profile = config.cpuProf
      ? readdirSync(config.cpuProf)
          .filter((f) => f.endsWith('.cpuprofile') && f.includes(`.${server.process.pid}.`))
          .map((f) => join(config.cpuProf!, f))[0]
      : undefined
    return { byCaller, pairRatios, profile }
  } finally {
    await admin.destroy()
    await bearer?.destroy()
  }
}

const ratioTarget: Target = { text: `≥ ${TARGET_RATIO}×`, met: (v) => v >= TARGET_RATIO }
const fmtTimes = (r: number): string => (Number.isFinite(r) ? `${r.toFixed(2)}×` : '—')

function rowsFor(r: AuthResult): ResultRow[] {
  const rate = (c: Caller) => median(r.byCaller[c].runs.map((x) => x.rate))
  const pct = (c: Caller, p: 'p50' | 'p99') => median(r.byCaller[c].runs.map((x) => x.latency.summary()[p]))
  const cpu = (c: Caller) => median(r.byCaller[c].cpuMsPerCreate)
  const ratio = rate('token') / rate('certificate')
  const bindings = `${fmtCount(config.roleBindings)} RoleBindings + ${fmtCount(config.clusterRoleBindings)} ClusterRoleBindings`
  const row = (metric: string, token: string, cert: string, ratioText: string, target = '', v: ResultRow['verdict'] = ''): ResultRow => ({ metric, weft: token, peer: cert, ratio: ratioText, target, verdict: v })
  return [
    row(`Pod creates/s, SA token + RBAC (${bindings}) vs admin certificate (c=${config.concurrency}, median of ${r.pairRatios.length})`, fmtRate(rate('token')), fmtRate(rate('certificate')), fmtTimes(ratio), ratioTarget.text, verdict(ratioTarget, ratio)),
    row('  same, median of the per-run ratios', '', '', fmtTimes(median(r.pairRatios))),
    row('create latency p50', fmtMs(pct('token', 'p50')), fmtMs(pct('certificate', 'p50')), fmtTimes(pct('token', 'p50') / pct('certificate', 'p50'))),
    row('create latency p99', fmtMs(pct('token', 'p99')), fmtMs(pct('certificate', 'p99')), fmtTimes(pct('token', 'p99') / pct('certificate', 'p99'))),
    row('server CPU per create (median)', fmtMs(cpu('token')), fmtMs(cpu('certificate')), fmtTimes(cpu('token') / cpu('certificate'))),
  ]
}

/**
 * The server's CPU profile cut to each caller's runs: busy time per create for each, and the
 * functions whose self time per create grew most from certificate to token (where the
 * authenticated path's extra time goes), plus inclusive time under the auth code.
 */
function profileReport(file: string, r: AuthResult): string {
  const root = resolve(import.meta.dirname, '../..')
  const per = (caller: Caller) => {
    const creates = r.byCaller[caller].runs.reduce((n, x) => n + x.ok, 0)
    const cut = profileWindows(file, r.byCaller[caller].windows, caller)
    const self = hotSpots(cut.path, 100_000, root)
    const inclusive = hotSpots(cut.path, 100_000, root, true)
    const usPerCreate = (ms: number) => (ms * 1000) / creates
    return {
      kept: cut.kept,
      busyUs: usPerCreate(self.busyMs),
      self: new Map(self.spots.map((x) => [x.name, usPerCreate(x.ms)])),
      auth: inclusive.spots.filter((x) => /src\/(auth\/|apiserver\/(auth|security)\.ts)/.test(x.name)).map((x) => ({ name: x.name, us: usPerCreate(x.ms) })),
    }
  }
  const cert = per('certificate')
  const token = per('token')
  if (cert.kept === 0 || token.kept === 0) return `CPU profile ${file}: no samples fell inside the runs' windows (clock mismatch?)`
  const us = (n: number) => `${n.toFixed(1).padStart(7)} µs`
  const names = new Set([...cert.self.keys(), ...token.self.keys()])
  const grew = [...names]
    .map((name) => ({ name, token: token.self.get(name) ?? 0, cert: cert.self.get(name) ?? 0 }))
    .sort((a, b) => b.token - b.cert - (a.token - a.cert))
    .slice(0, 12)
  return [
    `CPU profile of the server (${file}), cut to each caller's runs:`,
    `  busy per create: certificate ${us(cert.busyUs)}, token ${us(token.busyUs)} (+${(token.busyUs - cert.busyUs).toFixed(1)} µs, ${fmtTimes(token.busyUs / cert.busyUs)})`,
    'Self time per create that grew most, token vs certificate:',
    ...grew.map((g) => `  ${us(g.token - g.cert)}  (${us(g.cert)} → ${us(g.token)})  ${g.name}`),
    'Inclusive time per create under the auth code, token runs (certificate runs):',
    ...token.auth.slice(0, 12).map((a) => `  ${us(a.us)}  (${us(cert.auth.find((c) => c.name === a.name)?.us ?? 0)})  ${a.name}`),
  ].join('\n')
}

function resultsMarkdown(r: AuthResult, rows: ResultRow[], startedAt: Date, seconds: number): string {
  const runs = r.byCaller.token.runs.map((t, i) => {
    const c = r.byCaller.certificate.runs[i]
    return `| ${i + 1} | ${i % 2 === 0 ? 'certificate' : 'token'} | ${fmtRate(c.rate)} | ${fmtMs(c.latency.summary().p99)} | ${fmtRate(t.rate)} | ${fmtMs(t.latency.summary().p99)} | ${fmtTimes(r.pairRatios[i])} |`
  })
  return `# API server authentication benchmark — last run

Run ${startedAt.toISOString()}, took ${seconds.toFixed(0)} s. Node ${process.version}, ${availableParallelism()} CPUs (${cpus()[0]?.model ?? 'unknown'}).
${config.creates} Pod creates per run and caller × ${config.runs} runs at concurrency ${config.concurrency}, alternating which caller goes first, one \`weft server --api-only\` over SQLite.
weft = a service account's bound token (TokenRequest) allowed by a RoleBinding, with ${fmtCount(config.roleBindings)} unrelated RoleBindings in the same namespace and ${fmtCount(config.clusterRoleBindings)} unrelated ClusterRoleBindings; peer = the admin client certificate (system:masters: one cached certificate check per connection, no RBAC evaluation).

${markdownTable(rows)}

Ratios are token ÷ certificate. Server cores busy (medians): certificate ${fmtNumber(median(r.byCaller.certificate.serverCores))}, token ${fmtNumber(median(r.byCaller.token.serverCores))}.

| run | first | certificate creates/s | p99 | token creates/s | p99 | ratio |
|---:|:---|---:|---:|---:|---:|---:|
${runs.join('\n')}
`
}

async function main(): Promise<void> {
  const cleanup = new Cleanup()
  cleanup.onSignals()
  const startedAt = new Date()
  const t0 = nowMs()
  let result: AuthResult
  try {
    result = await bench(cleanup)
  } finally {
    await cleanup.run()
  }
  const rows = rowsFor(result)
  process.stdout.write(`\n${textTable(rows)}\n\n`)
  if (result.profile) process.stdout.write(`${profileReport(result.profile, result)}\n`)
  if (config.out) {
    writeFileSync(config.out, resultsMarkdown(result, rows, startedAt, (nowMs() - t0) / 1000))
    log(`results written to ${config.out}`)
  }
}

await main().catch((err: unknown) => {
  process.stderr.write(`bench/apiserver/auth: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`)
  process.exitCode = 1
})
