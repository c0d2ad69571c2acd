// Starts commands for a large process. Node's spawn forks the whole process, which
// blocks its event loop and costs a page-table copy every time (several ms here, more
// under a paravirtualised MMU); a small long-lived bash forks cheaply on its behalf.
// Jobs go to it one per line, "<id>\t<input file>\t<argv...>"; each runs in the background
// with stdout and stderr in files beside the input, and answers "<id> <exit code>".
import { spawn, type ChildProcessByStdio } from 'node:child_process'
import { readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Readable, Writable } from 'node:stream'
import { CommandError } from './exec.ts'
import { checkIpBatchLines } from './ip.ts'
import { inNetns, type NetnsRef } from './netns.ts'

// Each job runs under coreutils' timeout: a command that hangs (a kernel tool waiting on a
// lock that never comes) is killed and reported, instead of holding its caller forever.
const spawnerScript = (seconds: number) => `while IFS=$'\\t' read -r -a job; do
  ( timeout -k 2 ${seconds} "\${job[@]:2}" <"\${job[1]}" >"\${job[1]}.out" 2>"\${job[1]}.err"; echo "\${job[0]} $?" ) &
done`

/** How long a job may run before it is killed (SIGTERM, then SIGKILL 2 s later). */
export const DEFAULT_JOB_TIMEOUT_MS = 60_000

interface Job {
  resolve: (stdout: string) => void
  reject: (e: Error) => void
  file: string
  command: string
  input: string
}

/** timeout's exit code and message when the program itself cannot be found. */
function notFound(code: number, stderr: string): boolean {
  return code === 127 && /^timeout: failed to run command .*: No such file or directory$/m.test(stderr)
}

/** timeout's exit codes for a command it ended: 124 after SIGTERM, 137 after SIGKILL. */
const timedOut = (code: number): boolean => code === 124 || code === 137

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
    this.#child = spawn('bash', ['-c', spawnerScript(Math.max(1, Math.ceil(this.#timeoutMs / 1000)))], { stdio: ['pipe', 'pipe', 'ignore'] })
    this.#child.stdout.setEncoding('utf8')
    this.#child.stdout.on('data', (s: string) => this.#onOut(s))
    this.#child.stdin.on('error', () => {})
    this.#child.on('error', (err) => this.#fail(err))
    this.#child.on('exit', () => this.#fail(new Error('spawner exited')))
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
    if (this.#dead) throw this.#dead
    const id = ++this.#next
    const inputFile = join(this.#dir, `job.${id}`)
    await writeFile(inputFile, input)
    const command = [file, ...args].join(' ')
    const done = new Promise<string>((resolve, reject) => this.#jobs.set(id, { resolve, reject, file, command, input: inputFile }))
    this.#child.stdin.write([String(id), inputFile, file, ...args].join('\t') + '\n')
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
      void this.#finish(job, code!)
    }
  }

  async #finish(job: Job, code: number): Promise<void> {
    const [stdout, stderr] = await Promise.all([readFile(`${job.input}.out`, 'utf8').catch(() => ''), code === 0 ? '' : readFile(`${job.input}.err`, 'utf8').catch(() => '')])
    await Promise.all([rm(job.input, { force: true }), rm(`${job.input}.out`, { force: true }), rm(`${job.input}.err`, { force: true })])
    if (code === 0) job.resolve(stdout)
    // As run() reports a spawn that failed with ENOENT, so callers tell "not installed" apart the same way.
    else if (notFound(code, stderr)) job.reject(new CommandError(job.command, null, `${job.file} is not installed (${stderr.trim()})`))
    else if (timedOut(code)) job.reject(new CommandError(job.command, code, `did not finish within ${this.#timeoutMs / 1000} s and was killed${stderr.trim() ? ` (${stderr.trim()})` : ''}`))
    else job.reject(new CommandError(job.command, code, stderr || stdout))
  }

  #fail(err: Error): void {
    this.#dead ??= err
    for (const job of this.#jobs.values()) job.reject(err)
    this.#jobs.clear()
  }
}
