// A long-lived `ip -force -batch -` in the caller's own namespace, so a warm process (the
// CNI service) changes links without starting `ip` each time. Each batch is followed by a
// marker line that always fails; its "Command failed -:N" on stderr says the batch is done,
// and any other failure inside the batch's line range fails the batch with ip's message.
import { spawn, type ChildProcessByStdio, type ChildProcessWithoutNullStreams } from 'node:child_process'
import type { Readable, Writable } from 'node:stream'
import { readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { CommandError } from './exec.ts'
import { inNetns } from './netns.ts'

interface Pending {
  first: number
  marker: number
  errors: string[]
  resolve: () => void
  reject: (err: Error) => void
  lines: readonly string[]
}

const MARKER = 'link show dev weft-marker-nonexistent'

export class IpSession {
  readonly #child: ChildProcessWithoutNullStreams
  readonly #queue: Pending[] = []
  #line = 0
  #stderr = ''
  #message: string[] = []
  #dead: Error | undefined

  constructor() {
    this.#child = spawn('ip', ['-force', '-batch', '-'], { stdio: ['pipe', 'pipe', 'pipe'] })
    this.#child.stdout.resume()
    this.#child.stderr.setEncoding('utf8')
    this.#child.stderr.on('data', (s: string) => this.#onStderr(s))
    this.#child.stdin.on('error', () => {})
    this.#child.on('error', (err) => this.#fail(err))
    this.#child.on('exit', () => this.#fail(new Error('ip -batch exited')))
  }

  get alive(): boolean {
    return this.#dead === undefined
  }

  /** Runs `lines` in order; rejects with a CommandError naming the first failing line. */
  run(lines: readonly string[]): Promise<void> {
    if (this.#dead) return Promise.reject(this.#dead)
    if (lines.length === 0) return Promise.resolve()
    return new Promise((resolve, reject) => {
      const first = this.#line + 1
      this.#line += lines.length + 1
      this.#queue.push({ first, marker: this.#line, errors: [], resolve, reject, lines })
      this.#child.stdin.write(lines.join('\n') + `\n${MARKER}\n`)
    })
  }

  close(): void {
    this.#child.stdin.end()
    this.#fail(new Error('ip session closed'))
  }

  #onStderr(chunk: string): void {
    this.#stderr += chunk
    for (let nl = this.#stderr.indexOf('\n'); nl >= 0; nl = this.#stderr.indexOf('\n')) {
      const line = this.#stderr.slice(0, nl)
      this.#stderr = this.#stderr.slice(nl + 1)
      const failed = /^Command failed -:(\d+)$/.exec(line)
      if (!failed) {
        this.#message.push(line)
        continue
      }
      const n = Number(failed[1])
      const message = this.#message.join('\n')
      this.#message = []
      const head = this.#queue[0]
      if (head === undefined) continue
      if (n === head.marker) {
        this.#queue.shift()
        if (head.errors.length === 0) head.resolve()
        else head.reject(new CommandError(`ip -batch: ${head.errors[0]}`, 1, head.errors.join('\n')))
      } else if (n >= head.first) {
        head.errors.push(`${head.lines[n - head.first]}: ${message}`)
      }
    }
  }

  #fail(err: Error): void {
    this.#dead ??= err
    for (const p of this.#queue.splice(0)) p.reject(err)
  }
}

// The helper's loop: one job per line, "<id>\t<input file>\t<argv...>"; each runs in the
// background and answers "<id> <exit code>" (stderr goes to "<input file>.err").
const SPAWNER_SCRIPT = `while IFS=$'\\t' read -r -a job; do
  ( "\${job[@]:2}" <"\${job[1]}" >/dev/null 2>"\${job[1]}.err"; echo "\${job[0]} $?" ) &
done`

/**
 * Starts commands for a large process: Node's spawn forks the whole (big) process and
 * blocks its event loop meanwhile; a small long-lived bash forks cheaply on its behalf.
 */
export class Spawner {
  readonly #child: ChildProcessByStdio<Writable, Readable, null>
  readonly #dir: string
  readonly #jobs = new Map<number, { resolve: () => void; reject: (e: Error) => void; command: string; input: string }>()
  #next = 0
  #out = ''
  #dead: Error | undefined

  /** `dir`: a private directory for the jobs' input and error files. */
  constructor(dir: string) {
    this.#dir = dir
    this.#child = spawn('bash', ['-c', SPAWNER_SCRIPT], { stdio: ['pipe', 'pipe', 'ignore'] })
    this.#child.stdout.setEncoding('utf8')
    this.#child.stdout.on('data', (s: string) => this.#onOut(s))
    this.#child.stdin.on('error', () => {})
    this.#child.on('error', (err) => this.#fail(err))
    this.#child.on('exit', () => this.#fail(new Error('spawner exited')))
  }

  get alive(): boolean {
    return this.#dead === undefined
  }

  /** Runs `file args` with `input` on stdin; rejects with a CommandError on a non-zero exit. */
  async run(file: string, args: readonly string[], input: string): Promise<void> {
    if (this.#dead) throw this.#dead
    const id = ++this.#next
    const inputFile = join(this.#dir, `job.${id}`)
    await writeFile(inputFile, input)
    const command = [file, ...args].join(' ')
    const done = new Promise<void>((resolve, reject) => this.#jobs.set(id, { resolve, reject, command, input: inputFile }))
    this.#child.stdin.write([String(id), inputFile, file, ...args].join('\t') + '\n')
    return done
  }

  /** Runs `ip -batch -` with `lines` in `netns`. */
  ipBatch(lines: readonly string[], netns: string): Promise<void> {
    const [file, argv] = inNetns(netns, 'ip', ['-batch', '-'])
    return this.run(file, argv, lines.join('\n') + '\n')
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
      const job = this.#jobs.get(id)
      if (job === undefined) continue
      this.#jobs.delete(id)
      void this.#finish(job, code)
    }
  }

  async #finish(job: { resolve: () => void; reject: (e: Error) => void; command: string; input: string }, code: number): Promise<void> {
    const stderr = code === 0 ? '' : await readFile(`${job.input}.err`, 'utf8').catch(() => '')
    await Promise.all([rm(job.input, { force: true }), rm(`${job.input}.err`, { force: true })])
    if (code === 0) job.resolve()
    else job.reject(new CommandError(job.command, code, stderr))
  }

  #fail(err: Error): void {
    this.#dead ??= err
    for (const job of this.#jobs.values()) job.reject(err)
    this.#jobs.clear()
  }
}
