// Runs weft's plugin executables (and the reference ones) the way a runtime does, with a
// test namespace as the plugin's "host" side, and the CNI service as a child process there.
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { createInterface } from 'node:readline'
import { onInterrupt } from '../helpers/netns.ts'

export const ROOT = resolve(import.meta.dirname, '../..')
export const WEFT_CNI = join(ROOT, 'bin/weft-cni')
export const WEFT_IPAM = join(ROOT, 'bin/weft-ipam')
export const REF_DIR = '/usr/lib/cni'
const NODE = join(ROOT, 'node_modules/node/bin/node')

interface Teardown {
  teardown(fn: () => unknown): void
}

export interface Invocation {
  command: string
  containerID?: string
  netns?: string
  ifname?: string
  path?: string
  /** Extra environment (e.g. WEFT_CNI_RUN_DIR, WEFT_CNI_SERVICE=off). */
  env?: Record<string, string>
}

export interface Outcome {
  code: number
  out: Record<string, unknown> | undefined
  text: string
}

/** Runs `plugin` inside `hostNetns` with the CNI environment and `conf` on stdin. */
export function invoke(plugin: string, hostNetns: string, inv: Invocation, conf: unknown): Promise<Outcome> {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    CNI_COMMAND: inv.command,
    CNI_PATH: inv.path ?? `${join(ROOT, 'bin')}:${REF_DIR}`,
    ...(inv.containerID !== undefined ? { CNI_CONTAINERID: inv.containerID } : {}),
    ...(inv.netns !== undefined ? { CNI_NETNS: inv.netns } : {}),
    ...(inv.ifname !== undefined ? { CNI_IFNAME: inv.ifname } : {}),
    ...inv.env,
  }
  return new Promise((res, rej) => {
    const child = spawn('nsenter', [`--net=/run/netns/${hostNetns}`, '--', plugin], { env, stdio: ['pipe', 'pipe', 'inherit'] })
    let text = ''
    child.stdout.on('data', (b: Buffer) => (text += b.toString()))
    child.on('error', rej)
    child.on('close', (code) => {
      let out: Record<string, unknown> | undefined
      try {
        out = text.trim() ? (JSON.parse(text) as Record<string, unknown>) : undefined
      } catch {
        out = undefined
      }
      res({ code: code ?? -1, out, text })
    })
    child.stdin.end(typeof conf === 'string' ? conf : JSON.stringify(conf))
  })
}

/** A temporary directory, removed at the end of `t`, or if the process is interrupted first. */
export function tempDir(t: Teardown, prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  const remove = () => rmSync(dir, { recursive: true, force: true })
  const forget = onInterrupt(remove)
  t.teardown(() => {
    forget()
    remove()
  })
  return dir
}

/** Starts cni/service/main.ts inside `hostNetns` (stopped by pid at teardown, or on Ctrl-C); resolves with its rendezvous dir. */
export async function startServiceIn(t: Teardown, hostNetns: string, runDir: string, log?: (line: string) => void, env?: NodeJS.ProcessEnv): Promise<string> {
  const child = spawn('nsenter', [`--net=/run/netns/${hostNetns}`, '--', NODE, '--disable-warning=ExperimentalWarning', join(ROOT, 'cni/service/main.ts'), runDir], {
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(env ? { env: { ...process.env, ...env } } : {}),
  })
  const exited = new Promise<void>((r) => child.once('exit', () => r()))
  // Interrupted (Ctrl-C), the test stops the service by its pid before its namespace goes.
  const forget = onInterrupt(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  })
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
    await exited
    forget()
  })
  if (log) createInterface({ input: child.stderr }).on('line', log)
  else child.stderr.resume()
  return new Promise((res, rej) => {
    const lines = createInterface({ input: child.stdout })
    lines.once('line', (line) => (line.startsWith('ready ') ? res(line.slice(6)) : rej(new Error(`service said: ${line}`))))
    void exited.then(() => rej(new Error('the CNI service exited before it was ready')))
  })
}

export function bridgeConf(dataDir: string, extra: Record<string, unknown> = {}, ipam: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    cniVersion: '1.1.0',
    name: 'weft-test',
    type: 'weft-cni',
    bridge: 'wbr0',
    isGateway: true,
    ...extra,
    ipam: { type: 'weft-ipam', dataDir, ranges: [[{ subnet: '10.99.0.0/24' }]], ...ipam },
  }
}
