// Starts node.ts (the measured node's enforcer) as a child process, stopped by pid at
// cleanup, and collects what it reports: every sync, every data-plane apply, command results.
import { spawn } from 'node:child_process'
import { createWriteStream } from 'node:fs'
import { join, resolve } from 'node:path'
import { createInterface } from 'node:readline'
import type { Cleanup } from '../lib/cleanup.ts'
import { sleep } from '../lib/clock.ts'

const NODE_PROGRAM = resolve(import.meta.dirname, 'node.ts')

export interface SyncEvent {
  kind: 'full' | 'partial'
  ms: number
  at: number
}

export interface ApplyEvent {
  full: boolean
  ms: number
  nftMs: number
  at: number
  setsChanged: number
  podsChanged: number
  elementsAdded: number
  elementsRemoved: number
}

export interface EnforcerProcess {
  pid: number
  syncs: SyncEvent[]
  applies: ApplyEvent[]
  command(cmd: Record<string, unknown>, timeoutMs?: number): Promise<Record<string, unknown>>
  stop(): Promise<void>
}

export async function startEnforcer(cleanup: Cleanup, o: { kubeconfig: string; nodeName: string; nodeIPs: string[]; netns: string; logDir: string }, timeoutMs = 120_000): Promise<EnforcerProcess> {
  const log = join(o.logDir, 'enforcer.log')
  const child = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', NODE_PROGRAM, JSON.stringify({ kubeconfig: o.kubeconfig, nodeName: o.nodeName, nodeIPs: o.nodeIPs, netns: o.netns })], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, WEFT_LOG_LEVEL: process.env.WEFT_LOG_LEVEL ?? 'warn' },
  })
  const pid = child.pid!
  const logStream = createWriteStream(log)
  child.stderr.pipe(logStream)
  const exited = new Promise<void>((r) => child.once('exit', () => r()))
  const stop = cleanup.add(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return
    try {
      process.kill(pid, 'SIGTERM')
    } catch {}
    const gone = await Promise.race([exited.then(() => true), sleep(5000).then(() => false)])
    if (!gone) {
      try {
        process.kill(pid, 'SIGKILL')
      } catch {}
      await exited
    }
  })
  const syncs: SyncEvent[] = []
  const applies: ApplyEvent[] = []
  const waiting = new Map<number, (r: Record<string, unknown>) => void>()
  let ready!: () => void
  const isReady = new Promise<void>((r) => (ready = r))
  createInterface({ input: child.stdout }).on('line', (line) => {
    const m = JSON.parse(line) as Record<string, unknown> & { ev: string }
    if (m.ev === 'sync') syncs.push(m as unknown as SyncEvent)
    else if (m.ev === 'apply') applies.push(m as unknown as ApplyEvent)
    else if (m.ev === 'ready') ready()
    else if (m.ev === 'result') {
      waiting.get(m.id as number)?.(m)
      waiting.delete(m.id as number)
    }
  })
  const ok = await Promise.race([isReady.then(() => 'ready'), exited.then(() => 'exited'), sleep(timeoutMs).then(() => 'timeout')])
  if (ok !== 'ready') throw new Error(`the enforcer process did not get ready (${ok}); log ${log}`)
  let next = 0
  return {
    pid,
    syncs,
    applies,
    stop,
    command: (cmd, ms = 600_000) =>
      new Promise((res, rej) => {
        const id = ++next
        const timer = setTimeout(() => rej(new Error(`enforcer command ${cmd.op} timed out`)), ms)
        waiting.set(id, (r) => {
          clearTimeout(timer)
          if (r.error) rej(new Error(String(r.error)))
          else res(r)
        })
        child.stdin.write(JSON.stringify({ ...cmd, id }) + '\n')
      }),
  }
}
