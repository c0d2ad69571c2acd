// Process identity from /proc: a pid plus its start time (clock ticks since boot, field
// 22 of /proc/<pid>/stat) names one process for good, even after the pid is recycled.
import { readFileSync, readlinkSync } from 'node:fs'

export interface ProcessId {
  pid: number
  /** Field 22 of /proc/<pid>/stat. */
  starttime: number
}

interface Stat {
  state: string
  pgrp: number
  starttime: number
}

function readStat(pid: number): Stat | undefined {
  let text: string
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8')
  } catch {
    return undefined
  }
  // The command name (field 2) is in parentheses and may itself contain spaces or ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ')
  return { state: fields[0], pgrp: Number(fields[2]), starttime: Number(fields[19]) }
}

export function processStartTime(pid: number): number | undefined {
  return readStat(pid)?.starttime
}

export function processGroup(pid: number): number | undefined {
  return readStat(pid)?.pgrp
}

/** True while the process runs (a zombie counts as gone: it has exited). */
export function isAlive(id: ProcessId): boolean {
  const stat = readStat(id.pid)
  return stat !== undefined && stat.starttime === id.starttime && stat.state !== 'Z'
}

/** Signals a process group, ignoring a group that is already gone. */
export function killGroup(pgid: number, signal: NodeJS.Signals): boolean {
  return kill(-pgid, signal)
}

/** Signals a process (or a group, for a negative pid), ignoring one already gone. */
export function kill(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(pid, signal)
    return true
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false
    throw err
  }
}

/** The children of a process, from /proc (empty when it is gone). */
export function childProcesses(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number)
  } catch {
    return []
  }
}

/** The first process at or below `pid` (a few levels) whose stdin is a terminal (a pty slave). */
export function processOnTerminal(pid: number, depth = 4): number | undefined {
  try {
    if (readlinkSync(`/proc/${pid}/fd/0`).startsWith('/dev/pts/')) return pid
  } catch {
    return undefined
  }
  if (depth === 0) return undefined
  for (const c of childProcesses(pid)) {
    const found = processOnTerminal(c, depth - 1)
    if (found !== undefined) return found
  }
  return undefined
}
