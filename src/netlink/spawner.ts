// Starts commands for a large process. Node's spawn forks the whole process, which
// blocks its event loop and costs a page-table copy every time (several ms here, more
// under a paravirtualised MMU); a small long-lived bash forks cheaply on its behalf.
// Jobs go to it one per line, "<id>\t<input file>\t<seconds>\t<argv...>"; each runs in the
// background with stdout and stderr in files beside the input, and answers "<id> <exit code>".
import { spawn, type ChildProcessByStdio } from 'node:child_process'
import { readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Readable, Writable } from 'node:stream'
import { CommandError } from './exec.ts'
import { checkIpBatchLines } from './ip.ts'
import { inNetns, type NetnsRef } from './netns.ts'

// Each job runs under coreutils' timeout: a command that hangs (a kernel tool waiting on a
// lock that never comes) is killed and reported, instead of holding its caller forever.
// timeout puts the command in a process group of its own and signals the whole group, so
// what the command started goes too.
const spawnerScript = `while IFS=$'\\t' read -r -a job; do
  ( timeout -k 2 "\${job[2]}" "\${job[@]:3}" <"\${job[1]}" >"\${job[1]}.out" 2>"\${job[1]}.err"; echo "\${job[0]} $?" ) &
done`

/** How long a job may run before it is killed (SIGTERM, then SIGKILL 2 s later). */
export const DEFAULT_JOB_TIMEOUT_MS = 60_000

/** A job's outcome, whatever its exit code. */
export interface RawResult {
  code: number
  stdout: string
  stderr: string
  /** timeout ended it (124 after SIGTERM, 137 after SIGKILL, once its time was up). */
  timedOut: boolean
  /** The program could not be found. */
  notFound: boolean
}

interface Job {
  resolve: (result: RawResult) => void
  reject: (e: Error) => void
  input: string
  started: number
  timeoutMs: number
}

/** timeout's exit code and message when the program itself cannot be found. */
function notFound(code: number, stderr: string): boolean {
  return code === 127 && /^timeout: failed to run command .*: No such file or directory$/m.test(stderr)
}

/** timeout's exit codes for a command it ended: 124 after SIGTERM, 137 after SIGKILL. */
const timeoutCode = (code: number): boolean => code === 124 || code === 137

export class Spawner {
  readonly #child: ChildProcessByStdio<Writable, Readable, null>
  readonly #dir: string
  readonly #jobs = new Map<number, Job>()
  #next = 0
  #out = ''
  #dead: Error | undefined
  readonly #timeoutMs: number

  /** `dir`: a private directory for the jobs' input and output files. */
  constructor(dir: string, opts: { jobTimeoutMs?: number } = {}) {
    this.#dir = dir
    this.#timeoutMs = opts.jobTimeoutMs ?? DEFAULT_JOB_TIMEOUT_MS
    this.#child = spawn('bash', ['-c', spawnerScript], { stdio: ['pipe', 'pipe', 'ignore'] })
    this.#child.stdout.setEncoding('utf8')
    this.#child.stdout.on('data', (s: string) => this.#onOut(s))
    this.#child.stdin.on('error', () => {})
    this.#child.on('error', (err) => this.#fail(err))
    this.#child.on('exit', () => this.#fail(new Error('spawner exited')))
  }

  /** How many jobs it has been given (tests read it). */
  get started(): number {
    return this.#next
  }

  get alive(): boolean {
    return this.#dead === undefined
  }

  /** Whether the line protocol can carry this command (no tabs or newlines in it). */
  canRun(file: string, args: readonly string[]): boolean {
    return ![file, ...args].some((a) => /[\t\n]/.test(a))
  }

  /** Runs `file args` with `input` on stdin; resolves with its stdout, rejects with a CommandError on a non-zero exit. */
  async run(file: string, args: readonly string[], input = ''): Promise<string> {
    const r = await this.runRaw(file, args, input)
    const command = [file, ...args].join(' ')
    if (r.code === 0) return r.stdout
    // As run() reports a spawn that failed with ENOENT, so callers tell "not installed" apart the same way.
    if (r.notFound) throw new CommandError(command, null, `${file} is not installed (${r.stderr.trim()})`)
    if (r.timedOut) throw new CommandError(command, r.code, `did not finish within ${this.#timeoutMs / 1000} s and was killed${r.stderr.trim() ? ` (${r.stderr.trim()})` : ''}`)
    throw new CommandError(command, r.code, r.stderr || r.stdout)
  }

  /**
   * Runs `file args` with `input` on stdin and resolves with its exit code and output,
   * whatever the code; killed after `timeoutMs` (default the spawner's). Rejects only when
   * the spawner itself has failed.
   */
  async runRaw(file: string, args: readonly string[], input = '', timeoutMs = this.#timeoutMs): Promise<RawResult> {
    if (this.#dead) throw this.#dead
    if (!this.canRun(file, args)) throw new Error(`internal error: a tab or newline in ${JSON.stringify([file, ...args])} cannot cross the spawner's line protocol`)
    const id = ++this.#next
    const inputFile = join(this.#dir, `job.${id}`)
    // The job files are a few bytes in a private directory: written, read and removed
    // synchronously (microseconds), not as a dozen thread-pool round trips per command.
    writeFileSync(inputFile, input)
    const done = new Promise<RawResult>((resolve, reject) => this.#jobs.set(id, { resolve, reject, input: inputFile, started: performance.now(), timeoutMs }))
    const seconds = String(Math.max(0.001, timeoutMs / 1000))
    this.#child.stdin.write([String(id), inputFile, seconds, file, ...args].join('\t') + '\n')
    return done
  }

  /** Runs `ip -batch -` with `lines` in `netns` (this process's namespace when undefined). */
  async ipBatch(lines: readonly string[], netns?: NetnsRef): Promise<void> {
    checkIpBatchLines(lines)
    const [file, argv] = inNetns(netns, 'ip', ['-batch', '-'])
    await this.run(file, argv, lines.join('\n') + '\n')
  }

  close(): void {
    this.#child.stdin.end()
    this.#fail(new Error('spawner closed'))
  }

  #onOut(chunk: string): void {
    this.#out += chunk
    for (let nl = this.#out.indexOf('\n'); nl >= 0; nl = this.#out.indexOf('\n')) {
      const [id, code] = this.#out.slice(0, nl).split(' ').map(Number)
      this.#out = this.#out.slice(nl + 1)
      const job = this.#jobs.get(id!)
      if (job === undefined) continue
      this.#jobs.delete(id!)
      this.#finish(job, code!)
    }
  }

  #finish(job: Job, code: number): void {
    const read = (file: string) => {
      try {
        return readFileSync(file, 'utf8')
      } catch {
        return ''
      }
    }
    const stdout = read(`${job.input}.out`)
    const stderr = read(`${job.input}.err`)
    for (const file of [job.input, `${job.input}.out`, `${job.input}.err`]) rmSync(file, { force: true })
    // A command may exit 124 or 137 of its own accord: only once its time was up is it timeout's.
    const timedOut = timeoutCode(code) && performance.now() - job.started >= job.timeoutMs - 50
    job.resolve({ code, stdout, stderr, timedOut, notFound: notFound(code, stderr) })
  }

  #fail(err: Error): void {
    this.#dead ??= err
    for (const job of this.#jobs.values()) job.reject(err)
    this.#jobs.clear()
  }
}
