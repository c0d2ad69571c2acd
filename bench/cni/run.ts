// ADD/DEL latency of the weft-cni bridge plugin through its fast path (a warm CNI service
// in the host namespace, as the node agent runs it) against the reference bridge +
// host-local, interleaved in one run. Everything happens in namespaces this process
// creates and removes. See README.md.
import { existsSync, readdirSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { addNetns, deleteNetns } from '../../src/netlink/netns.ts'
import { Cleanup } from '../lib/cleanup.ts'
import { sleep } from '../lib/clock.ts'
import { startProcess } from '../lib/process.ts'
import { atMost, fmtMs, fmtNumber, machineSummary, markdownTable, textTable, verdict, type ResultRow } from '../lib/report.ts'
import { Samples } from '../lib/stats.ts'
import { invokeTimed } from './invoke.ts'

const ROOT = resolve(import.meta.dirname, '../..')
const REF = '/usr/lib/cni'
const usage = `Usage: node bench/cni/run.ts [--rounds N] [--pods N] [--concurrency N] [--out FILE]

  --rounds N        rounds of ADD-all then DEL-all (default 5)
  --pods N          pods per round and implementation (default 20)
  --concurrency N   invocations in flight at once (default 1: one at a time, weft and the
                    reference alternating call by call; more: each implementation's batch
                    in turn, as a burst of pods on a node, and the batch's wall time reported)
  --out FILE        results file (default bench/cni/results.md, or results-burst.md with
                    --concurrency above 1; "-" for none)
`
const { values: flags } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    pods: { type: 'string', default: '20' },
    concurrency: { type: 'string', default: '1' },
    out: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
})
if (flags.help) {
  process.stdout.write(usage)
  process.exit(0)
}
const rounds = Number(flags.rounds)
const pods = Number(flags.pods)
const concurrency = Number(flags.concurrency)
if (![rounds, pods, concurrency].every((n) => Number.isInteger(n) && n >= 1)) {
  process.stderr.write(`--rounds, --pods and --concurrency must be positive integers\n\n${usage}`)
  process.exit(2)
}
const outFile = flags.out ?? resolve(import.meta.dirname, concurrency > 1 ? 'results-burst.md' : 'results.md')
if (!existsSync(join(REF, 'bridge')) || !existsSync(join(REF, 'host-local'))) {
  process.stderr.write(`the reference plugins are missing: ${REF}/bridge and ${REF}/host-local (Debian: apt-get install containernetworking-plugins)\n`)
  process.exit(2)
}

const cleanup = new Cleanup()
cleanup.onSignals()
const tag = `wcb${process.pid}`

async function netns(name: string): Promise<string> {
  await addNetns(name)
  cleanup.add(() => deleteNetns(name))
  return name
}

type Impl = 'weft' | 'reference'
const samples: Record<`${Impl} ${'ADD' | 'DEL'}`, Samples> = {
  'weft ADD': new Samples(),
  'weft DEL': new Samples(),
  'reference ADD': new Samples(),
  'reference DEL': new Samples(),
}
/** With --concurrency above 1: each batch's wall time, from its first call to its last answer. */
const batches: Record<`${Impl} ${'ADD' | 'DEL'}`, Samples> = {
  'weft ADD': new Samples(),
  'weft DEL': new Samples(),
  'reference ADD': new Samples(),
  'reference DEL': new Samples(),
}

try {
  const host = await netns(`${tag}-host`)
  const podNs: Record<Impl, string[]> = { weft: [], reference: [] }
  for (let i = 0; i < pods; i++) {
    podNs.weft.push(await netns(`${tag}-w${i}`))
    podNs.reference.push(await netns(`${tag}-r${i}`))
  }
  const work = cleanup.tempDir('weft-bench-cni-')
  const runDir = join(work, 'run')
  const svc = startProcess(
    cleanup,
    'nsenter',
    [`--net=/run/netns/${host}`, '--', join(ROOT, 'node_modules/node/bin/node'), '--disable-warning=ExperimentalWarning', join(ROOT, 'cni/service/main.ts'), runDir],
    { logFile: join(work, 'service.log') },
  )
  for (let waited = 0; !(existsSync(runDir) && readdirSync(runDir).some((d) => existsSync(join(runDir, d, 'ns')))); waited += 50) {
    if (svc.exited || waited > 20_000) throw new Error(`the CNI service did not start:\n${svc.tail()}`)
    await sleep(50)
  }

  const confs: Record<Impl, string> = {
    weft: JSON.stringify({ cniVersion: '1.0.0', name: 'bench-weft', type: 'weft-cni', bridge: 'wbw0', isGateway: true, ipam: { type: 'weft-ipam', dataDir: join(work, 'weft-ipam'), ranges: [[{ subnet: '10.91.0.0/16' }]] } }),
    reference: JSON.stringify({ cniVersion: '1.0.0', name: 'bench-ref', type: 'bridge', bridge: 'wbr0', isGateway: true, ipam: { type: 'host-local', dataDir: join(work, 'host-local'), ranges: [[{ subnet: '10.92.0.0/16' }]] } }),
  }
  const plugin: Record<Impl, string> = { weft: join(ROOT, 'bin/weft-cni'), reference: join(REF, 'bridge') }
  const call = async (impl: Impl, command: 'ADD' | 'DEL', i: number, record: boolean) => {
    const env = {
      PATH: process.env.PATH,
      CNI_COMMAND: command,
      CNI_CONTAINERID: `bench-${impl}-${i}`,
      CNI_NETNS: `/run/netns/${podNs[impl][i]}`,
      CNI_IFNAME: 'eth0',
      CNI_PATH: `${join(ROOT, 'bin')}:${REF}`,
      WEFT_CNI_RUN_DIR: runDir,
    }
    const r = await invokeTimed(plugin[impl], host, env, confs[impl])
    if (r.code !== 0) throw new Error(`${impl} ${command} failed (exit ${r.code}): ${r.out}`)
    if (record) samples[`${impl} ${command}`].add(r.ms)
  }

  // Warm-up: each bridge created, each code path run once.
  for (const impl of ['weft', 'reference'] as const) {
    await call(impl, 'ADD', 0, false)
    await call(impl, 'DEL', 0, false)
  }
  const batch = async (impl: Impl, command: 'ADD' | 'DEL') => {
    const t0 = performance.now()
    let next = 0
    await Promise.all(
      Array.from({ length: Math.min(concurrency, pods) }, async () => {
        while (next < pods) await call(impl, command, next++, true)
      }),
    )
    batches[`${impl} ${command}`].add(performance.now() - t0)
  }
  for (let round = 0; round < rounds; round++) {
    const order: Impl[] = round % 2 === 0 ? ['weft', 'reference'] : ['reference', 'weft']
    for (const command of ['ADD', 'DEL'] as const) {
      if (concurrency === 1) {
        for (let i = 0; i < pods; i++) for (const impl of order) await call(impl, command, i, true)
      } else {
        for (const impl of order) await batch(impl, command)
      }
    }
    process.stderr.write(`round ${round + 1}/${rounds} done\n`)
  }

  const target = atMost(1, '×')
  const rows: ResultRow[] = []
  for (const command of ['ADD', 'DEL'] as const) {
    const w = samples[`weft ${command}`].summary()
    const r = samples[`reference ${command}`].summary()
    const ratio = w.p50 / r.p50
    rows.push({ metric: `${command} median`, weft: fmtMs(w.p50), peer: fmtMs(r.p50), ratio: `${fmtNumber(ratio)}×`, target: target.text, verdict: verdict(target, ratio) })
    rows.push({ metric: `${command} p99`, weft: fmtMs(w.p99), peer: fmtMs(r.p99), ratio: `${fmtNumber(w.p99 / r.p99)}×`, target: '', verdict: '' })
    if (concurrency > 1) {
      const wb = batches[`weft ${command}`].summary().p50
      const rb = batches[`reference ${command}`].summary().p50
      rows.push({ metric: `${pods} ${command}s, ${concurrency} at once: wall (median batch)`, weft: fmtMs(wb), peer: fmtMs(rb), ratio: `${fmtNumber(wb / rb)}×`, target: target.text, verdict: verdict(target, wb / rb) })
    }
  }
  const setup = `${rounds} rounds × ${pods} pods per implementation, ${concurrency === 1 ? 'one at a time, interleaved call by call' : `${concurrency} in flight, each implementation's batch in turn`}; ${machineSummary()}`
  process.stdout.write(`\nweft-cni (warm service, bash client) vs reference bridge + host-local — ${setup}\n\n${textTable(rows)}\n`)
  if (outFile !== '-') {
    const md = `# bench/cni results\n\n${new Date().toISOString()}: ${setup}.\n\nweft = \`bin/weft-cni\` handing off to a warm CNI service in the host namespace, IPAM weft-ipam in-process; peer = reference \`bridge\` + \`host-local\` (${REF}). Both with \`isGateway\`, one pod namespace per attachment.\n\n${markdownTable(rows)}\n`
    writeFileSync(outFile, md)
    process.stdout.write(`\nwrote ${outFile}\n`)
  }
} catch (err) {
  process.stderr.write(`bench failed: ${(err as Error).stack ?? err}\n`)
  process.exitCode = 1
} finally {
  await cleanup.run()
}
