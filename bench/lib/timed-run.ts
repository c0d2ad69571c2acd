// One run of a load tool with its CPU time: the command runs under bash, whose `times` builtin
// prints the CPU its children used (user and system, every thread) once the tool has exited.
// bash and the tool run in a process group of their own, ended whole (by its id) if the
// benchmark is cut short.
import { spawn } from 'node:child_process'
import { closeSync, openSync, readFileSync } from 'node:fs'
import type { Cleanup } from './cleanup.ts'

export interface ToolRun {
  /** Everything the tool printed. */
  output: string
  cpuSeconds: number
  wallSeconds: number
}

/** `times`' second line: children's user and system time, `1m2.345s 0m0.678s`. */
export function parseTimes(text: string): number {
  const lines = text.trim().split('\n')
  const m = /^(\d+)m([\d.]+)s (\d+)m([\d.]+)s$/.exec(lines[lines.length - 1]?.trim() ?? '')
  if (!m) throw new Error(`bash "times" printed no children's line: ${JSON.stringify(text)}`)
  return Number(m[1]) * 60 + Number(m[2]) + Number(m[3]) * 60 + Number(m[4])
}

export async function timedRun(cleanup: Cleanup, command: string, args: string[], outFile: string): Promise<ToolRun> {
  const timesFile = `${outFile}.times`
  const fd = openSync(outFile, 'w')
  const started = performance.now()
  // `exec` is not used: bash must outlive the tool to report its CPU.
  const child = spawn('bash', ['-c', 'times_file=$1; shift; "$@"; rc=$?; times > "$times_file"; exit $rc', 'bash', timesFile, command, ...args], { stdio: ['ignore', fd, fd], detached: true })
  closeSync(fd)
  const exited = new Promise<number | null>((resolve, reject) => {
    child.once('error', reject)
    child.once('exit', (code) => resolve(code))
  })
  const forget = cleanup.add(() => {
    // The tool is bash's child: SIGKILL to bash alone would leave it running.
    if (child.exitCode === null && child.pid !== undefined) process.kill(-child.pid, 'SIGKILL')
  })
  const code = await exited
  await forget()
  const wallSeconds = (performance.now() - started) / 1000
  const output = readFileSync(outFile, 'utf8')
  if (code !== 0) throw new Error(`${command} exited with ${code}:\n${output.slice(-1500)}`)
  return { output, cpuSeconds: parseTimes(readFileSync(timesFile, 'utf8')), wallSeconds }
}
