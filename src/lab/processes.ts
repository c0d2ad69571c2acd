// The lab's processes: started detached with logs in files, identified by pid AND start
// time, so stopping a lab never signals a process that merely reuses a recorded pid.
import { spawn } from 'node:child_process'
import { closeSync, openSync, readdirSync, readlinkSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import { isAlive as isRunning, processStartTime } from '../util/proc.ts'

export interface Started {
  pid: number
  starttime: string
  /** Resolves with the exit code (or signal) once the process ends. */
  exited: Promise<string>
}

/** The process's start time in clock ticks since boot, or undefined if there is no such process. */
export function procStarttime(pid: number): string | undefined {
  return processStartTime(pid)?.toString()
}

export function isAlive(pid: number, starttime: string): boolean {
  return isRunning({ pid, starttime: Number(starttime) })
}

/** Starts `file args` in its own session (Ctrl-C in the terminal does not reach it), output appended to `log`. */
export function startDetached(file: string, args: readonly string[], log: string, env: NodeJS.ProcessEnv = process.env): Started {
  const fd = openSync(log, 'a', 0o600)
  try {
    const child = spawn(file, args, { detached: true, stdio: ['ignore', fd, fd], env })
    const pid = child.pid
    if (pid === undefined) throw new Error(`could not start ${file}`)
    const exited = new Promise<string>((resolve) => {
      child.on('exit', (code, signal) => resolve(signal ? `killed by ${signal}` : `exit code ${code}`))
      child.on('error', (err) => resolve(err.message))
    })
    child.unref()
    const starttime = procStarttime(pid)
    if (starttime === undefined) throw new Error(`${file} exited at once; see ${log}`)
    return { pid, starttime, exited }
  } finally {
    closeSync(fd)
  }
}

/** SIGTERM, then SIGKILL after `graceMs`; does nothing unless pid still has `starttime`. Resolves once it is gone. */
export async function stopProcess(pid: number, starttime: string, graceMs = 5000): Promise<void> {
  if (!signal(pid, starttime, 'SIGTERM')) return
  const deadline = Date.now() + graceMs
  while (Date.now() < deadline) {
    if (!isAlive(pid, starttime)) return
    await sleep(50)
  }
  signal(pid, starttime, 'SIGKILL')
  for (let i = 0; i < 100 && isAlive(pid, starttime); i++) await sleep(20)
}

function signal(pid: number, starttime: string, sig: NodeJS.Signals): boolean {
  if (!isAlive(pid, starttime)) return false
  try {
    process.kill(pid, sig)
    return true
  } catch {
    return false
  }
}

/** The inode of a namespace file (`/run/netns/NAME` or `/proc/PID/ns/net`), as `net:[INODE]`. */
function netnsId(path: string): string | undefined {
  try {
    return readlinkSync(path)
  } catch {
    return undefined
  }
}

/** Every process (pid and start time) inside one of the given network namespaces. */
export function processesInNetns(nsInodes: ReadonlySet<number>): { pid: number; starttime: string }[] {
  if (nsInodes.size === 0) return []
  const found: { pid: number; starttime: string }[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    const pid = Number(entry)
    if (pid === process.pid) continue
    const link = netnsId(`/proc/${pid}/ns/net`)
    const m = link && /^net:\[(\d+)\]$/.exec(link)
    if (!m || !nsInodes.has(Number(m[1]))) continue
    const starttime = procStarttime(pid)
    if (starttime !== undefined) found.push({ pid, starttime })
  }
  return found
}
