// Runs the lab commands as a user would: through bin/weft once src/cli/main.ts dispatches
// them, else through test/lab/weft-cli.ts (the same functions, without main.ts).
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('../../', import.meta.url))
const node = `${root}node_modules/node/bin/node`
const wired = /\brunUp\b/.test(readFileSync(`${root}src/cli/main.ts`, 'utf8'))

export function weftCommand(args: readonly string[]): [string, string[]] {
  return wired
    ? [`${root}bin/weft`, [...args]]
    : [node, ['--disable-warning=ExperimentalWarning', `${root}test/lab/weft-cli.ts`, ...args]]
}

export interface Ran {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

export function weft(args: readonly string[], opts: { onSpawn?: (pid: number) => void } = {}): Promise<Ran> {
  const [file, argv] = weftCommand(args)
  return new Promise((done, fail) => {
    const child = spawn(file, argv, { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (b: Buffer) => (stdout += b))
    child.stderr.on('data', (b: Buffer) => (stderr += b))
    child.on('error', fail)
    child.on('close', (code, signal) => done({ code, signal, stdout, stderr }))
    if (child.pid !== undefined) opts.onSpawn?.(child.pid)
  })
}
