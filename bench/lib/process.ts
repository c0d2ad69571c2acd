// Child processes for benchmarks: spawned with output to a log file, stopped by pid
// (SIGTERM, then SIGKILL after a grace period), and free loopback ports to give them.
import { spawn } from 'node:child_process'
import { openSync, closeSync, readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import type { Cleanup } from './cleanup.ts'
import { sleep } from './clock.ts'

export interface ChildProcess {
  pid: number
  logFile: string
  exited: boolean
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
  stop(graceMs?: number): Promise<void>
  /** The last `bytes` of the process's output. */
  tail(bytes?: number): string
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
  })
}

export function startProcess(
  cleanup: Cleanup,
  command: string,
  args: string[],
  options: { logFile: string; env?: NodeJS.ProcessEnv; cwd?: string },
): ChildProcess {
  const fd = openSync(options.logFile, 'a')
  const child = spawn(command, args, { stdio: ['ignore', fd, fd], env: options.env ?? process.env, cwd: options.cwd })
  closeSync(fd)
  if (child.pid === undefined) throw new Error(`could not start ${command}`)
  const pid = child.pid
  const exit = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const proc: ChildProcess = {
    pid,
    logFile: options.logFile,
    exited: false,
    stop: async () => {},
    tail: (bytes = 2000) => {
      try {
        return readFileSync(options.logFile, 'utf8').slice(-bytes)
      } catch {
        return ''
      }
    },
  }
  void exit.then(() => (proc.exited = true))
  let graceMs = 5000
  const stopNow = cleanup.add(async () => {
    if (proc.exited) return
    try {
      process.kill(pid, 'SIGTERM')
    } catch {}
    const killed = await Promise.race([exit.then(() => true), sleep(graceMs).then(() => false)])
    if (!killed && !proc.exited) {
      try {
        process.kill(pid, 'SIGKILL')
      } catch {}
      await exit
    }
  })
  proc.stop = async (grace = 5000) => {
    graceMs = grace
    await stopNow()
  }
  return proc
}

/** Polls `url` until `ready(status, body)` holds; throws with the process's log tail if it exits or time runs out. */
export async function waitForHttp(
  url: string,
  proc: ChildProcess,
  ready: (status: number, body: string) => boolean,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline && !proc.exited) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) })
      if (ready(res.status, await res.text())) return
    } catch {}
    await sleep(50)
  }
  throw new Error(`${url} did not become ready${proc.exited ? ' (the process exited)' : ''}; log ${proc.logFile}:\n${proc.tail()}`)
}

/** CPU time (user + system, seconds) a process has used so far, from /proc (Linux). */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  const ticksPerSecond = 100
  return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond
}
