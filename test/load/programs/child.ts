// Runs one of these test programs as a child process: waits for the port it prints on its first
// line and kills it (by its pid) when the test ends.
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { Test } from 'tap'

export interface Program {
  child: ChildProcess
  port: number
  /** Lines printed after the port and not yet read by nextLine. */
  lines: string[]
  /** The next line it prints. */
  nextLine(): Promise<string>
}

export function startProgram(t: Test, name: string, args: string[] = []): Promise<Program> {
  const file = fileURLToPath(new URL(`./${name}`, import.meta.url))
  const child = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', file, ...args], { stdio: ['ignore', 'pipe', 'inherit'] })
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  })
  return new Promise((resolve, reject) => {
    let buffered = ''
    const lines: string[] = []
    const waiting: ((line: string) => void)[] = []
    let program: Program | undefined
    child.stdout!.setEncoding('utf8')
    child.stdout!.on('data', (chunk: string) => {
      buffered += chunk
      let newline: number
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, newline)
        buffered = buffered.slice(newline + 1)
        if (program === undefined) {
          const port = Number(line)
          if (!Number.isInteger(port) || port <= 0) return reject(new Error(`${name} printed ${JSON.stringify(line)} instead of a port`))
          program = {
            child,
            port,
            lines,
            nextLine: () => (lines.length > 0 ? Promise.resolve(lines.shift()!) : new Promise((resolveLine) => waiting.push(resolveLine))),
          }
          resolve(program)
        } else {
          const waiter = waiting.shift()
          if (waiter) waiter(line)
          else lines.push(line)
        }
      }
    })
    child.once('exit', (code, signal) => {
      if (program === undefined) reject(new Error(`${name} exited (${code ?? signal}) before printing its port`))
    })
  })
}
