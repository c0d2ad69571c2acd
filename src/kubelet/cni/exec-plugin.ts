// Runs one CNI plugin binary the way libcni's invoke package does: the command and the
// container in CNI_* variables, the network config on stdin, the result or a CNI error
// object on stdout, stderr passed on for diagnostics.
import { spawn } from 'node:child_process'
import { stat } from 'node:fs/promises'
import { join } from 'node:path'
import { CniError, ERR_DECODING_FAILURE, ERR_INTERNAL, ERR_PLUGIN_NOT_AVAILABLE } from '../../../cni/protocol/errors.ts'
import type { CniCommand } from '../../../cni/protocol/env.ts'
import { activeSpawner } from '../../netlink/exec.ts'
import { netnsPath } from '../../netlink/netns.ts'

export const DEFAULT_PLUGIN_TIMEOUT_MS = 60_000

/** A plugin invocation that failed: the plugin's own error object, or one describing how it failed. */
export class CniPluginError extends CniError {
  readonly plugin: string
  readonly command: CniCommand
  readonly exitCode: number | null
  readonly stderr: string
  constructor(plugin: string, command: CniCommand, err: CniError, exitCode: number | null, stderr: string) {
    super(err.code, err.msg, err.details)
    this.name = 'CniPluginError'
    this.message = `plugin ${plugin} failed (${command.toLowerCase()}): ${err.message}`
    this.plugin = plugin
    this.command = command
    this.exitCode = exitCode
    this.stderr = stderr
  }
}

/** The first `binDirs/<type>` that is a regular file, as libcni's FindInPath. */
export async function findPlugin(type: string, binDirs: readonly string[]): Promise<string> {
  if (type === '' || type.includes('/') || type === '.' || type === '..') {
    throw new CniError(ERR_PLUGIN_NOT_AVAILABLE, 'invalid plugin name', type)
  }
  for (const dir of binDirs) {
    const file = join(dir, type)
    try {
      if ((await stat(file)).isFile()) return file
    } catch {
      // Not in this directory.
    }
  }
  throw new CniError(ERR_PLUGIN_NOT_AVAILABLE, `failed to find plugin "${type}" in path [${binDirs.join(' ')}]`)
}

export interface PluginInvocation {
  /** Path of the plugin binary. */
  file: string
  command: CniCommand
  containerID?: string
  netns?: string
  ifName?: string
  /** CNI_ARGS, already formatted ("K=V;K=V"). */
  args?: string
  binDirs: readonly string[]
  stdin: string
  timeoutMs?: number
  /** Run the plugin inside this network namespace (name or path) instead of the caller's. */
  hostNetns?: string
}

interface RawOutput {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
  timedOut: boolean
}

function pluginEnv(inv: PluginInvocation): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('CNI_')) env[k] = v
  env.PATH ??= '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
  env.CNI_COMMAND = inv.command
  env.CNI_CONTAINERID = inv.containerID ?? ''
  env.CNI_NETNS = inv.netns ?? ''
  env.CNI_IFNAME = inv.ifName ?? ''
  env.CNI_ARGS = inv.args ?? ''
  env.CNI_PATH = inv.binDirs.join(':')
  return env
}

function pluginCommand(inv: PluginInvocation): [string, string[]] {
  return inv.hostNetns === undefined ? [inv.file, []] : ['nsenter', [`--net=${netnsPath(inv.hostNetns)}`, '--', inv.file]]
}

/**
 * Through the agent's Spawner (src/netlink/spawner.ts) when one is installed: forking the
 * agent for every plugin call blocked its event loop several ms each, most of a burst of
 * pods' network setup. The plugin gets the spawner's environment (this process's) with the
 * CNI variables set, under `env`; timeout(1) ends its whole process group in time.
 * Undefined: no spawner, or a value its line protocol cannot carry.
 */
function viaSpawner(inv: PluginInvocation): Promise<RawOutput> | undefined {
  const spawner = activeSpawner()
  if (spawner === undefined) return undefined
  const [file, argv] = pluginCommand(inv)
  const env = pluginEnv(inv)
  const unset = Object.keys(process.env).filter((k) => k.startsWith('CNI_')).flatMap((k) => ['-u', k])
  const set = Object.keys(env).filter((k) => k.startsWith('CNI_') || process.env[k] === undefined).map((k) => `${k}=${env[k]}`)
  const args = [...unset, '--', ...set, file, ...argv]
  if (!spawner.canRun('env', args)) return undefined
  return spawner.runRaw('env', args, inv.stdin, inv.timeoutMs ?? DEFAULT_PLUGIN_TIMEOUT_MS).then((r) => {
    // env's own "cannot run it" is a spawn failure, as spawn() reports ENOENT.
    if (r.code === 127 && /^env: .*: No such file or directory$/m.test(r.stderr)) throw Object.assign(new Error(r.stderr.trim()), { code: 'ENOENT' })
    return { code: r.code, signal: null, stdout: r.stdout, stderr: r.stderr, timedOut: r.timedOut }
  })
}

function spawnOnce(inv: PluginInvocation): Promise<RawOutput> {
  const spawned = viaSpawner(inv)
  if (spawned !== undefined) return spawned
  const [file, argv] = pluginCommand(inv)
  return new Promise((resolve, reject) => {
    // Its own process group, so a timeout also kills whatever the plugin started.
    const child = spawn(file, argv, { stdio: ['pipe', 'pipe', 'pipe'], env: pluginEnv(inv), detached: true })
    const out: Buffer[] = []
    const err: Buffer[] = []
    let timedOut = false
    let settled = false
    const finish = (code: number | null, signal: NodeJS.Signals | null): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      resolve({ code, signal, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString(), timedOut })
    }
    const timer = setTimeout(() => {
      timedOut = true
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL')
      } catch {
        child.kill('SIGKILL')
      }
    }, inv.timeoutMs ?? DEFAULT_PLUGIN_TIMEOUT_MS)
    child.stdout.on('data', (b: Buffer) => out.push(b))
    child.stderr.on('data', (b: Buffer) => err.push(b))
    child.on('error', (e) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      reject(e)
    })
    // After a timeout, do not wait for descendants that escaped the group to close the pipes.
    child.on('exit', (code, signal) => {
      if (timedOut) {
        child.stdout.destroy()
        child.stderr.destroy()
        finish(code, signal)
      }
    })
    child.on('close', finish)
    child.stdin.on('error', () => {})
    child.stdin.end(inv.stdin)
  })
}

function excerpt(text: string): string {
  const t = text.trim()
  return JSON.stringify(t.length > 500 ? `${t.slice(0, 500)}…` : t)
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/** What a failed invocation said, as libcni's pluginErr reads it. */
function failure(raw: RawOutput, timeoutMs: number): CniError {
  if (raw.timedOut) return new CniError(ERR_INTERNAL, `plugin timed out after ${timeoutMs} ms and was killed`)
  const how = raw.code !== null ? `exit code ${raw.code}` : `signal ${raw.signal}`
  if (raw.stdout.trim() === '') {
    return new CniError(ERR_INTERNAL, raw.stderr.trim() === '' ? `plugin failed with no error message (${how})` : `plugin failed (${how})`, raw.stderr.trim())
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(raw.stdout)
  } catch {
    return new CniError(ERR_INTERNAL, `plugin failed (${how}) and its error output is not JSON`, excerpt(raw.stdout))
  }
  if (!isObject(parsed) || typeof parsed.code !== 'number' || typeof parsed.msg !== 'string') {
    return new CniError(ERR_INTERNAL, `plugin failed (${how}) without a CNI error object`, excerpt(raw.stdout))
  }
  return new CniError(parsed.code, parsed.msg, typeof parsed.details === 'string' ? parsed.details : '')
}

const TEXT_BUSY_RETRIES = 5

/**
 * Runs the plugin and returns its stdout parsed as JSON (undefined when it printed
 * nothing). A non-zero exit, a timeout or undecodable output is a CniPluginError.
 */
export async function execPlugin(inv: PluginInvocation): Promise<unknown> {
  const name = inv.file.slice(inv.file.lastIndexOf('/') + 1)
  const timeoutMs = inv.timeoutMs ?? DEFAULT_PLUGIN_TIMEOUT_MS
  let raw: RawOutput | undefined
  for (let attempt = 0; raw === undefined; attempt++) {
    try {
      raw = await spawnOnce(inv)
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code
      // A plugin binary still being written (ETXTBSY) is retried, as libcni does.
      if (code === 'ETXTBSY' && attempt < TEXT_BUSY_RETRIES) {
        await new Promise((r) => setTimeout(r, 1000))
        continue
      }
      throw new CniPluginError(name, inv.command, new CniError(ERR_PLUGIN_NOT_AVAILABLE, `cannot run plugin ${inv.file}`, (e as Error).message), null, '')
    }
    // nsenter reports its own exec failure the same way.
    if (raw.code === 126 && /Text file busy/.test(raw.stderr) && attempt < TEXT_BUSY_RETRIES) {
      raw = undefined
      await new Promise((r) => setTimeout(r, 1000))
    }
  }
  if (raw.code !== 0 || raw.timedOut) throw new CniPluginError(name, inv.command, failure(raw, timeoutMs), raw.code, raw.stderr)
  if (raw.stdout.trim() === '') return undefined
  try {
    return JSON.parse(raw.stdout)
  } catch (e) {
    throw new CniPluginError(name, inv.command, new CniError(ERR_DECODING_FAILURE, 'plugin printed output that is not JSON', `${(e as Error).message}: ${excerpt(raw.stdout)}`), 0, raw.stderr)
  }
}
