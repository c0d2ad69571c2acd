// Answers through `dig`, the reference client: a name's A records from a server on
// loopback, over UDP or TCP, and waiting until a server answers a name as expected.
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { sleep } from '../lib/clock.ts'
import type { ChildProcess } from '../lib/process.ts'

const run = promisify(execFile)

/** The A records `port` on 127.0.0.1 answers for `name` (empty when there are none or no answer came). */
export async function digA(port: number, name: string, tcp = false): Promise<string[]> {
  const args = ['+short', '+time=1', '+tries=1', ...(tcp ? ['+tcp'] : []), '@127.0.0.1', '-p', String(port), name, 'A']
  try {
    const { stdout } = await run('dig', args)
    return stdout.split('\n').filter((l) => /^\d+\.\d+\.\d+\.\d+$/.test(l))
  } catch {
    return []
  }
}

/** The full `dig` answer text, for error messages. */
export async function digText(port: number, name: string): Promise<string> {
  try {
    return (await run('dig', ['+time=1', '+tries=1', '@127.0.0.1', '-p', String(port), name, 'A'])).stdout
  } catch (err) {
    return (err as Error).message
  }
}

/** Polls until `name` resolves to `ip` on `port`; throws with the process's log tail if it exits or time runs out. */
export async function waitForAnswer(port: number, name: string, ip: string, proc: ChildProcess, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline && !proc.exited) {
    if ((await digA(port, name)).includes(ip)) return
    await sleep(100)
  }
  throw new Error(`127.0.0.1:${port} did not answer ${name} A ${ip}${proc.exited ? ' (the process exited)' : ''}; log ${proc.logFile}:\n${proc.tail()}`)
}

/** Polls until `port` answers anything at all (any rcode). */
export async function waitForReply(port: number, proc: ChildProcess, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline && !proc.exited) {
    if (/status: [A-Z]+/.test(await digText(port, 'ready.invalid'))) return
    await sleep(100)
  }
  throw new Error(`127.0.0.1:${port} did not answer${proc.exited ? ' (the process exited)' : ''}; log ${proc.logFile}:\n${proc.tail()}`)
}
