// A long-lived `ip -force -batch -` in the caller's own namespace, so a warm process (the
// CNI service) changes links without starting `ip` each time. Each batch is followed by a
// marker line that always fails; its "Command failed -:N" on stderr says the batch is done,
// and any other failure inside the batch's line range fails the batch with ip's message.
// A batch not done within the deadline ends the session (ip is killed): its callers get an
// error naming the lines, and the owner starts a new session for the next batch.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { CommandError } from './exec.ts'

interface Pending {
  timer: NodeJS.Timeout
  first: number
  marker: number
  errors: string[]
  resolve: () => void
  reject: (err: Error) => void
  lines: readonly string[]
}

const MARKER = 'link show dev weft-marker-nonexistent'

/** How long one batch may take before the session is given up. */
export const DEFAULT_BATCH_TIMEOUT_MS = 60_000

export class IpSession {
  readonly #child: ChildProcessWithoutNullStreams
  readonly #queue: Pending[] = []
  #line = 0
  #stderr = ''
  #message: string[] = []
  #dead: Error | undefined

  readonly #timeoutMs: number

  /** `command` is for tests: a stand-in for `ip -force -batch -`. */
  constructor(opts: { timeoutMs?: number; command?: [string, string[]] } = {}) {
    this.#timeoutMs = opts.timeoutMs ?? DEFAULT_BATCH_TIMEOUT_MS
    const [file, args] = opts.command ?? ['ip', ['-force', '-batch', '-']]
    this.#child = spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'] })
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
      const timer = setTimeout(() => {
        this.#fail(new CommandError(`ip -batch: ${lines.join('; ')}`, null, `did not finish within ${this.#timeoutMs / 1000} s; the ip session was ended`))
        this.#child.kill('SIGKILL')
      }, this.#timeoutMs)
      this.#queue.push({ timer, first, marker: this.#line, errors: [], resolve, reject, lines })
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
        clearTimeout(head.timer)
        if (head.errors.length === 0) head.resolve()
        else head.reject(new CommandError(`ip -batch: ${head.errors[0]}`, 1, head.errors.join('\n')))
      } else if (n >= head.first) {
        head.errors.push(`${head.lines[n - head.first]}: ${message}`)
      }
    }
  }

  #fail(err: Error): void {
    this.#dead ??= err
    for (const p of this.#queue.splice(0)) {
      clearTimeout(p.timer)
      p.reject(err)
    }
  }
}
