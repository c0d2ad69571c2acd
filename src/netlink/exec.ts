// Runs the kernel tools (ip, nft, nsenter, sysctl) as child processes. This is the only
// place weft spawns them, so errors read the same everywhere.
import { spawn } from 'node:child_process'
import type { Spawner } from './spawner.ts'

export class CommandError extends Error {
  readonly command: string
  readonly code: number | null
  readonly stderr: string
  constructor(command: string, code: number | null, stderr: string) {
    super(`${command}: ${stderr.trim() || `exited with code ${code}`}`)
    this.name = 'CommandError'
    this.command = command
    this.code = code
    this.stderr = stderr
  }
}

/** The command could not be started because its program is not installed (not on PATH, or no such file). */
export function isNotInstalled(err: unknown): boolean {
  return err instanceof CommandError && err.code === null && / is not installed/.test(err.stderr)
}

export interface RunOptions {
  input?: string
  /** Environment for the child; defaults to the current process's. */
  env?: NodeJS.ProcessEnv
}

let spawner: Spawner | undefined

/**
 * Long-lived processes that start many commands (the node agent) hand them to a Spawner
 * instead of forking themselves; undefined goes back to spawning directly.
 */
export function useSpawner(s: Spawner | undefined): void {
  spawner = s
}

/** The Spawner installed with useSpawner, while it is alive. */
export function activeSpawner(): Spawner | undefined {
  return spawner?.alive ? spawner : undefined
}

export function run(file: string, args: readonly string[], opts: RunOptions = {}): Promise<string> {
  if (spawner?.alive && opts.env === undefined && spawner.canRun(file, args)) {
    return spawner.run(file, args, opts.input ?? '')
  }
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'], env: opts.env })
    const out: Buffer[] = []
    const err: Buffer[] = []
    child.stdout.on('data', (b: Buffer) => out.push(b))
    child.stderr.on('data', (b: Buffer) => err.push(b))
    child.on('error', (e: NodeJS.ErrnoException) => {
      reject(new CommandError([file, ...args].join(' '), null, e.code === 'ENOENT' ? `${file} is not installed (${e.message})` : e.message))
    })
    child.on('close', (code) => {
      const stdout = Buffer.concat(out).toString()
      if (code === 0) resolve(stdout)
      else reject(new CommandError([file, ...args].join(' '), code, Buffer.concat(err).toString() || stdout))
    })
    child.stdin.on('error', () => {})
    child.stdin.end(opts.input ?? '')
  })
}
