// CNI plugin processes an earlier agent left behind. A plugin runs in its own process
// group and outlives an agent killed mid-call; it may still finish an ADD for a sandbox the
// next agent is tearing down. The CNI protocol names the container in every plugin's
// environment (CNI_CONTAINERID, inherited by what the plugin starts), so a new agent finds
// them by that before it runs any CNI command for the container itself.
import { readdirSync, readFileSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import { isAlive, kill, processStartTime, type ProcessId } from '../../util/proc.ts'

/** Processes (other than this one) running a CNI command, by CNI_CONTAINERID. */
export function cniProcesses(): Map<string, ProcessId[]> {
  const found = new Map<string, ProcessId[]>()
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    const pid = Number(entry)
    if (pid === process.pid) continue
    const starttime = processStartTime(pid)
    if (starttime === undefined) continue
    let environ: string
    try {
      environ = readFileSync(`/proc/${pid}/environ`, 'latin1')
    } catch {
      continue
    }
    let id: string | undefined
    let command = false
    for (const kv of environ.split('\0')) {
      if (kv.startsWith('CNI_CONTAINERID=')) id = kv.slice('CNI_CONTAINERID='.length)
      else if (kv.startsWith('CNI_COMMAND=')) command = true
    }
    if (id === undefined || id === '' || !command) continue
    const list = found.get(id) ?? []
    list.push({ pid, starttime })
    found.set(id, list)
  }
  return found
}

/** SIGKILLs each process that still has its recorded start time; resolves once they are gone (at most ~2 s). */
export async function killProcesses(ids: readonly ProcessId[]): Promise<number> {
  let killed = 0
  for (const id of ids) {
    if (isAlive(id) && kill(id.pid, 'SIGKILL')) killed++
  }
  for (let i = 0; i < 100 && ids.some(isAlive); i++) await sleep(20)
  return killed
}
