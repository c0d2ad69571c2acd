// One timed CNI invocation: the plugin runs inside the bench's host namespace (nsenter),
// the way a runtime in that namespace would exec it.
import { spawn } from 'node:child_process'
import { nowMs } from '../lib/clock.ts'

export interface Timed {
  ms: number
  code: number
  out: string
}

export function invokeTimed(plugin: string, hostNetns: string, env: NodeJS.ProcessEnv, stdin: string): Promise<Timed> {
  return new Promise((resolve, reject) => {
    const t0 = nowMs()
    const child = spawn('nsenter', [`--net=/run/netns/${hostNetns}`, '--', plugin], { env, stdio: ['pipe', 'pipe', 'inherit'] })
    let out = ''
    child.stdout.on('data', (b: Buffer) => (out += b.toString()))
    child.on('error', reject)
    child.on('close', (code) => resolve({ ms: nowMs() - t0, code: code ?? -1, out }))
    child.stdin.end(stdin)
  })
}
