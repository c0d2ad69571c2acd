import { readEnvironment, type CniEnvironment } from './env.ts'
import { parseNetConf, type NetConf } from './config.ts'
import { CniError, ERR_INCOMPATIBLE_VERSION, toCniError } from './errors.ts'
import { formatResult, type CniResult } from './result.ts'
import { compareVersions, isSupportedVersion, LATEST_VERSION, versionInfo } from './version.ts'

export interface PluginRequest {
  env: CniEnvironment
  conf: NetConf
}

export interface PluginHandlers {
  add(req: PluginRequest): Promise<CniResult> | CniResult
  del(req: PluginRequest): Promise<void> | void
  check(req: PluginRequest): Promise<void> | void
  /** Absent: GC succeeds without doing anything. */
  gc?(req: PluginRequest): Promise<void> | void
  /** Absent: the plugin reports itself ready. */
  status?(req: PluginRequest): Promise<void> | void
}

export interface PluginIo {
  env: NodeJS.ProcessEnv
  stdin: string
  stdout: (s: string) => void
}

function versionOf(stdin: string): string {
  try {
    const v: unknown = JSON.parse(stdin)
    if (typeof v === 'object' && v !== null && 'cniVersion' in v && isSupportedVersion(v.cniVersion)) return v.cniVersion
  } catch {
    // Undecodable input is reported by the config parser; the error object falls back to the latest version.
  }
  return LATEST_VERSION
}

/**
 * Runs one plugin invocation and returns the exit code. Results go to stdout; so do
 * errors, as CNI error objects, with exit code 1.
 */
export async function runPlugin(handlers: PluginHandlers, io: PluginIo): Promise<number> {
  try {
    const env = readEnvironment(io.env)
    if (env.command === 'VERSION') {
      io.stdout(JSON.stringify(versionInfo()) + '\n')
      return 0
    }
    const conf = parseNetConf(io.stdin)
    const req: PluginRequest = { env, conf }
    switch (env.command) {
      case 'ADD':
        io.stdout(formatResult(await handlers.add(req), conf.cniVersion))
        return 0
      case 'DEL':
        await handlers.del(req)
        return 0
      case 'CHECK':
        await handlers.check(req)
        return 0
      case 'GC':
      case 'STATUS': {
        if (compareVersions(conf.cniVersion, '1.1.0') < 0) {
          throw new CniError(ERR_INCOMPATIBLE_VERSION, `config version does not allow ${env.command}`, conf.cniVersion)
        }
        const handler = env.command === 'GC' ? handlers.gc : handlers.status
        if (handler) await handler.call(handlers, req)
        return 0
      }
    }
  } catch (err) {
    io.stdout(JSON.stringify(toCniError(err).toJSON(versionOf(io.stdin))) + '\n')
    return 1
  }
}
