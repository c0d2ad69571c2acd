// Memory of a server process: resident set size of it and its descendants (in case a
// server runs child processes) from /proc, and the V8 heap in use from its
// Prometheus metrics when it exports Node's default metrics.
import { execFile } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { sleep } from '../lib/clock.ts'
import { median } from '../lib/stats.ts'

function parentOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
  } catch {
    return undefined
  }
}

function rssOf(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m ? Number(m[1]) * 1024 : 0
  } catch {
    return 0
  }
}

/** `pid` and every process below it. */
export function processTree(pid: number): number[] {
  const children = new Map<number, number[]>()
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    const parent = parentOf(Number(entry))
    if (parent !== undefined) children.set(parent, [...(children.get(parent) ?? []), Number(entry)])
  }
  const tree: number[] = []
  const queue = [pid]
  while (queue.length) {
    const p = queue.shift()!
    tree.push(p)
    queue.push(...(children.get(p) ?? []))
  }
  return tree
}

/** Resident bytes of `pid` and its descendants. */
export function treeRss(pid: number): number {
  return processTree(pid).reduce((sum, p) => sum + rssOf(p), 0)
}

/** `nodejs_heap_size_used_bytes` summed over its series, or NaN when the metrics lack it. */
export async function heapUsed(metricsUrl: string): Promise<number> {
  try {
    const text = await (await fetch(metricsUrl, { signal: AbortSignal.timeout(2000) })).text()
    let sum = Number.NaN
    for (const m of text.matchAll(/^nodejs_heap_size_used_bytes(?:\{[^}]*\})? ([\d.e+]+)$/gm)) sum = (Number.isNaN(sum) ? 0 : sum) + Number(m[1])
    return sum
  } catch {
    return Number.NaN
  }
}

export interface MemorySample {
  rss: number
  heap: number
}

/** Waits `settleMs` for start-up garbage to be collected, then takes the median of `samples` readings. */
export async function measureMemory(pid: number, metricsUrl: string | undefined, settleMs = 3000, samples = 5): Promise<MemorySample> {
  await sleep(settleMs)
  const rss: number[] = []
  const heap: number[] = []
  for (let i = 0; i < samples; i++) {
    if (i > 0) await sleep(500)
    rss.push(treeRss(pid))
    if (metricsUrl) heap.push(await heapUsed(metricsUrl))
  }
  return { rss: median(rss), heap: heap.length ? median(heap) : Number.NaN }
}

export interface RetainedHeap {
  services: number
  /** What the main thread keeps: informer objects, index, snapshot. */
  mainBytes: number
  /** The index each extra query thread builds. */
  threadIndexBytes: number
}

/** Runs retained-heap.ts (with --expose-gc) against the API server, as the kubeconfig's user. */
export function retainedHeap(apiUrl: string, kubeconfig: string): Promise<RetainedHeap> {
  const program = fileURLToPath(new URL('./retained-heap.ts', import.meta.url))
  return new Promise((resolve, reject) =>
    execFile(process.execPath, ['--expose-gc', '--disable-warning=ExperimentalWarning', program, apiUrl, kubeconfig], { timeout: 120_000 }, (err, stdout, stderr) =>
      err ? reject(new Error(`retained-heap.ts: ${err.message}: ${stderr}`)) : resolve(JSON.parse(stdout.trim().split('\n').pop()!) as RetainedHeap),
    ),
  )
}
