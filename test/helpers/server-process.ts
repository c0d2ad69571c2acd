// `weft server` as users run it: a separate process, started with its flags and ended by
// its pid.
import { spawn, type ChildProcess } from 'node:child_process'
import { join } from 'node:path'
import { loadKubeconfig } from '../../src/client/kubeconfig.ts'
import type { Credentials } from '../../src/client/index.ts'

export const weft = join(import.meta.dirname, '..', '..', 'bin', 'weft')

/** Starts `weft server` on a free port; resolves once it serves and has written its kubeconfig. */
export async function startServer(dataDir: string, extra: string[] = [], env: NodeJS.ProcessEnv = process.env): Promise<ServerProcess> {
  const child = spawn(weft, ['server', '--data-dir', dataDir, '--listen', '127.0.0.1:0', ...extra], { stdio: ['ignore', 'pipe', 'pipe'], env })
  let stderr = ''
  let stdout = ''
  child.stdout!.on('data', (d) => {
    if (stdout.length < 4 << 20) stdout += d
  })
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`weft server did not start: ${stderr}`)), 20_000)
    child.stderr!.on('data', (d) => {
      stderr += d
      const m = /weft API server at (https:\/\/\S+)/.exec(stderr)
      if (m && /Join a node/.test(stderr)) {
        clearTimeout(timer)
        resolve(m[1])
      }
    })
    child.once('exit', (code) => reject(new Error(`weft server exited with ${code}: ${stderr}`)))
  })
  return { child, url, as: loadKubeconfig(join(dataDir, 'kubeconfig')).credentials, log: () => stdout }
}

export interface ServerProcess {
  child: ChildProcess
  url: string
  as: Credentials
  /** What it logged (pino's JSON lines on stdout) so far. */
  log(): string
}

export function kill(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve()
    child.once('exit', () => resolve())
    child.kill(signal)
  })
}

