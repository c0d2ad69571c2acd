// Shared by the lab tests: a data dir that is always brought down, and the checks that a
// lab left nothing behind.
import { execFileSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Test } from 'tap'
import { deleteNetns, listNetns } from '../../src/netlink/index.ts'
import { listMountsUnder } from '../../src/netlink/mounts.ts'
import { isAlive } from '../../src/lab/processes.ts'
import { isLabNetns, labId } from '../../src/lab/topology.ts'
import { weft } from './cli.ts'

interface Teardown {
  teardown(fn: () => unknown): void
}

/** A fresh data dir; `weft down` always runs at the end, then anything it left is removed too. */
export async function labDir(t: Teardown): Promise<string> {
  const tmp = await mkdtemp(join(tmpdir(), 'wl-test-'))
  const dir = join(tmp, 'lab')
  t.teardown(async () => {
    await weft(['down', '--data-dir', dir])
    // Should down have failed: whatever still runs from this test's dir was started by it.
    for (const pid of processesMentioning(tmp)) process.kill(pid, 'SIGKILL')
    for (const name of listNetns().filter((n) => isLabNetns(labId(dir), n))) await deleteNetns(name)
    for (const target of listMountsUnder(tmp)) execFileSync('umount', ['-l', target])
    await rm(tmp, { recursive: true, force: true })
  })
  return dir
}

export function labNamespaces(dir: string): string[] {
  return listNetns().filter((n) => isLabNetns(labId(dir), n))
}

/** Processes whose command line mentions `dir` (the lab's server and agents do). */
function processesMentioning(dir: string): number[] {
  const pids: number[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').some((arg) => arg.startsWith(dir))) pids.push(Number(entry))
    } catch {}
  }
  return pids
}

export async function assertGone(t: Test, dir: string, pids: { pid: number; starttime: string }[]): Promise<void> {
  t.same(labNamespaces(dir), [], 'no namespace of the lab is left')
  t.same(listMountsUnder(dir), [], 'no mount under the data dir is left')
  t.notOk(existsSync(dir), 'the data dir is gone')
  t.same(pids.filter((p) => isAlive(p.pid, p.starttime)).map((p) => p.pid), [], 'its processes are gone')
  t.same(processesMentioning(dir), [], 'no process runs from the data dir')
}

