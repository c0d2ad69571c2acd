// `weft load`: flags and scenario → a resolved target and a plan → the run (this process, or
// load pods) with the scenario's actions on the same clock → result.json, report.html and the
// summary. `weft load compare A B` reads two results back.
import { readFileSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { runLoad } from './engine.ts'
import { kubeAccess, type KubeAccess } from './kube.ts'
import { loadUsage, parseLoadArgs, type LoadOptions } from './options.ts'
import { deleteRunPods, runFromPods } from './pods.ts'
import { newRunId } from './pod-spec.ts'
import { healthCheckRequestBody } from './protocols/grpc.ts'
import { clientFor } from './protocols/index.ts'
import { compareResults } from './report/compare.ts'
import { defaultLabels, readResultFile, writeCompareReport, writeReportFiles } from './report/files.ts'
import { ProgressPrinter } from './report/progress.ts'
import { formatSummary } from './report/summary.ts'
import { toResult, type ResultMeta } from './result.ts'
import { joinHostPort } from '../src/util/host-port.ts'
import { cleanupScenario, newLedger, preflight, readScenarioFile, runScenarioActions, type Scenario } from './scenario/index.ts'
import { defaultGrpcMethod, parseTarget, resolveTarget } from './target.ts'
import type { ActionRecord, LoadPlan, LoadResult, Phase, Progress, ResolvedTarget, RunSnapshot } from './types.ts'

export { loadUsage }

export const compareUsage = `Usage: weft load compare A B [--out DIR] [--labels NAME_A,NAME_B]

Prints two weft load results side by side (A and B are result.json files or --out directories):
totals, rates, error rates, latency percentiles with their difference and ratio, endpoints.
--out DIR also writes DIR/compare.html with both runs on the same charts.
`

/** How long after the run ends an action may still be waiting for its completion. */
const ACTION_GRACE_MS = 30_000

export async function runLoadCommand(argv: string[]): Promise<void> {
  if (argv[0] === 'compare') return runCompare(argv.slice(1))
  if (argv.length === 0 || argv.includes('-h') || argv.includes('--help')) {
    process.stdout.write(loadUsage)
    return
  }
  const options = parseLoadArgs(argv, (path) => readFileSync(path))
  const scenario = options.scenarioFile === undefined ? undefined : await readScenarioFile(options.scenarioFile)
  const spec = options.target ?? scenario?.target
  if (spec === undefined) throw new Error(`no target: the scenario ${options.scenarioFile} names none; give one on the command line`)
  // A directory that cannot be made fails now, not after the run.
  if (options.outDir !== undefined) await makeOutDir(options.outDir)
  const needsApi = parseTarget(spec).kind !== 'url' || options.fromPods !== undefined || (scenario?.actions.length ?? 0) > 0
  const access = needsApi ? await kubeAccess({ kubeconfig: options.kubeconfig }) : undefined
  try {
    const namespace = options.namespace ?? access?.namespace ?? 'default'
    const target = await resolveTarget(spec, targetOptions(options, namespace, spec), access?.client)
    const plan = planOf(options, scenario)
    const lab = labOf()
    if (scenario && access) await preflight(scenario, { client: access.client, namespace, lab })
    const result = await run(options, { scenario, access, namespace, target, plan, lab })
    if (options.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`)
    else process.stdout.write(formatSummary(result))
    if (options.outDir !== undefined) {
      const files = await writeReportFiles(options.outDir, result)
      process.stderr.write(`wrote ${files.resultFile} and ${files.reportFile}\n`)
    }
  } finally {
    await access?.client.close()
  }
}

/**
 * mkdir -p, one level at a time: Node's recursive mkdir spins forever on a path under /proc
 * (each level answers ENOENT), so a mistyped --out must not hang the command.
 */
async function makeOutDir(dir: string): Promise<void> {
  try {
    await mkdir(dir)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'EEXIST') return
    const parent = dirname(dir)
    if (code !== 'ENOENT' || parent === dir) throw new Error(`--out ${dir}: ${(err as Error).message}`)
    await makeOutDir(parent)
    await mkdir(dir).catch((again: NodeJS.ErrnoException) => {
      if (again.code !== 'EEXIST') throw new Error(`--out ${dir}: ${again.message}`)
    })
  }
}

function targetOptions(o: LoadOptions, namespace: string, spec: string): Parameters<typeof resolveTarget>[1] {
  const ref = parseTarget(spec)
  const protocol = o.protocol ?? (o.http2 ? 'http2' : undefined)
  const grpc = protocol === 'grpc' || (ref.kind === 'url' && /^grpcs?:/.test(spec))
  return {
    namespace,
    via: ref.kind === 'service' ? o.via : undefined,
    protocol,
    insecure: o.insecure,
    host: o.host,
    path: o.path,
    method: o.method,
    headers: o.headers,
    // gRPC: --body is the serialized request message; without it, the health check's request.
    body: grpc && o.body === undefined ? healthCheckRequestBody(o.grpcService) : o.body?.toString('base64'),
    dns: o.dnsName === undefined ? undefined : { name: o.dnsName, type: o.dnsType },
    udpPayloadBytes: o.udpPayloadBytes,
  }
}

function planOf(o: LoadOptions, scenario: Scenario | undefined): LoadPlan {
  const phases: Phase[] = scenario?.phases ?? [{ name: o.rate === undefined ? 'closed loop' : 'constant rate', durationMs: o.durationMs, ...(o.rate === undefined ? {} : { rate: o.rate }) }]
  const open = phases.some((p) => p.rate !== undefined)
  return { phases, connections: o.connections ?? (open ? 64 : 10), keepAlive: o.keepAlive, requests: o.requests, warmupMs: o.warmupMs, timeoutMs: o.timeoutMs, identifyEndpoints: o.identifyEndpoints }
}

/** The lab made by `weft up` in this directory, for restartAgent and restartProxy. */
function labOf(): { dataDir: string } | undefined {
  const dataDir = join(process.cwd(), '.weft-lab')
  try {
    readFileSync(join(dataDir, 'lab.json'))
    return { dataDir }
  } catch {
    return undefined
  }
}

function progressPrinter(mode: LoadOptions['progress']): ProgressPrinter | undefined {
  if (mode === 'none') return undefined
  const isTTY = mode === 'auto' ? process.stderr.isTTY === true : mode === 'tty'
  return new ProgressPrinter({ write: (text: string) => process.stderr.write(text), isTTY, columns: process.stderr.columns })
}

interface RunContext {
  scenario: Scenario | undefined
  access: KubeAccess | undefined
  namespace: string
  target: ResolvedTarget
  plan: LoadPlan
  lab: { dataDir: string } | undefined
}

async function run(o: LoadOptions, c: RunContext): Promise<LoadResult> {
  const printer = progressPrinter(o.progress)
  const marks: ActionRecord[] = []
  const onMark = (record: ActionRecord): void => {
    const i = marks.findIndex((m) => m.name === record.name && m.atSecond === record.atSecond)
    if (i >= 0) marks[i] = record
    else marks.push(record)
  }
  const onProgress = (p: Progress): void => printer?.update(p, marks)
  const abort = new AbortController()
  const actionsAbort = new AbortController()
  const runId = newRunId()
  const ledger = newLedger()
  let actions: Promise<ActionRecord[]> = Promise.resolve([])
  const totalMs = c.plan.phases.reduce((sum, p) => sum + p.durationMs, 0)
  const startActions = (startAtMs: number): void => {
    const { scenario, access } = c
    if (!scenario || !access || scenario.actions.length === 0) return
    const t0Ms = startAtMs + c.plan.warmupMs
    actions = runScenarioActions(scenario.actions, { client: access.client, namespace: c.namespace, runId, t0Ms, signal: actionsAbort.signal, lab: c.lab, onMark, ledger, deadlineMs: t0Ms + totalMs + ACTION_GRACE_MS })
  }
  let interrupted = 0
  const onSignal = (): void => {
    interrupted++
    if (interrupted === 1) {
      process.stderr.write(`\nstopping: the results so far follow (Ctrl-C again to quit${o.fromPods === undefined ? ' at once' : ' after deleting the load pods'})\n`)
      abort.abort()
      actionsAbort.abort()
      return
    }
    // Quitting without the results; never leaving load pods behind unless asked a third time.
    if (interrupted > 2 || o.fromPods === undefined || !c.access) process.exit(130)
    process.stderr.write('deleting the load pods, then quitting (Ctrl-C again to quit at once)\n')
    void deleteRunPods(c.access.client, c.namespace, runId)
      .catch((err: Error) => process.stderr.write(`${err.message}\n`))
      .finally(() => process.exit(130))
  }
  let snapshot: RunSnapshot
  let generators: ResultMeta['generators']
  // The first signal stops the run (load pods included) and the results so far are reported.
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  try {
    if (o.fromPods !== undefined) {
      const access = c.access!
      const r = await runFromPods({
        client: access.client,
        address: access.address,
        namespace: c.namespace,
        count: o.fromPods,
        nodes: o.nodes,
        target: c.target,
        plan: c.plan,
        image: o.image,
        runId,
        signal: abort.signal,
        handleSignals: false,
        onStart: startActions,
        onProgress,
        onStatus: (message) => printer && process.stderr.write(`${message}\n`),
      })
      snapshot = r.snapshot
      generators = r.generators.map((g) => ({ name: g.name, node: g.node }))
    } else {
      const startAtMs = Date.now() + 100
      startActions(startAtMs)
      snapshot = await runLoad({ plan: c.plan, target: c.target, createClient: await clientFor(c.target.protocol), startAtMs, signal: abort.signal, onProgress })
      generators = [{ name: 'weft load' }]
    }
    // Actions still waiting for their completion get until the deadline given above.
    const records = await actions
    return toResult(snapshot, resultMeta(o, c, generators, records.length > 0 ? records : marks))
  } finally {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
    actionsAbort.abort()
    printer?.end()
    if (c.scenario && c.access) {
      const cleaned = await cleanupScenario({ client: c.access.client, runId, ledger })
      for (const line of cleaned.done) process.stderr.write(`cleanup: ${line}\n`)
      for (const line of cleaned.failed) process.stderr.write(`cleanup failed: ${line}\n`)
    }
  }
}

function resultMeta(o: LoadOptions, c: RunContext, generators: ResultMeta['generators'], actions: ActionRecord[]): ResultMeta {
  const t = c.target
  let start = 0
  const phases = c.plan.phases.map((p) => {
    const phase = { name: p.name, startSecond: start / 1000, durationSeconds: p.durationMs / 1000, ...(p.rate === undefined ? {} : { rate: p.rate }), ...(p.rateTo === undefined ? {} : { rateTo: p.rateTo }) }
    start += p.durationMs
    return phase
  })
  const open = c.plan.phases.some((p) => p.rate !== undefined)
  return {
    target: { spec: t.spec, description: t.description, protocol: t.protocol, tls: t.tls, endpoints: t.endpoints.map((e) => `${joinHostPort(e.host, e.port)}${e.label ? ` (${e.label})` : ''}`) },
    options: {
      mode: open ? 'open-loop' : 'closed-loop',
      ...(open && c.scenario === undefined && o.rate !== undefined ? { rate: o.rate } : {}),
      connections: c.plan.connections,
      keepAlive: c.plan.keepAlive,
      durationSeconds: start / 1000,
      ...(c.plan.requests === undefined ? {} : { requests: c.plan.requests }),
      warmupSeconds: c.plan.warmupMs / 1000,
      timeoutSeconds: c.plan.timeoutMs / 1000,
    },
    generators,
    phases,
    actions,
  }
}

async function runCompare(argv: string[]): Promise<void> {
  if (argv.includes('-h') || argv.includes('--help')) {
    process.stdout.write(compareUsage)
    return
  }
  const { parseArgs } = await import('node:util')
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, strict: true, options: { out: { type: 'string' }, labels: { type: 'string' } } })
  if (positionals.length !== 2) throw new Error(`compare takes two results (result.json files or --out directories), got ${positionals.length}`)
  const [a, b] = await Promise.all(positionals.map((p) => readResultFile(p)))
  let labels = defaultLabels(positionals[0]!, positionals[1]!)
  if (values.labels !== undefined) {
    const parts = values.labels.split(',')
    if (parts.length !== 2 || parts.some((p) => p.trim() === '')) throw new Error(`--labels "${values.labels}" must be two names: NAME_A,NAME_B`)
    labels = [parts[0]!.trim(), parts[1]!.trim()]
  }
  process.stdout.write(compareResults(a!, b!, labels))
  if (values.out !== undefined) {
    const file = await writeCompareReport(values.out, a!, b!, labels)
    process.stderr.write(`wrote ${file}\n`)
  }
}
