import { CniError, ERR_INVALID_ENVIRONMENT } from './errors.ts'

export const COMMANDS = ['ADD', 'DEL', 'CHECK', 'VERSION', 'GC', 'STATUS'] as const
export type CniCommand = (typeof COMMANDS)[number]

export interface CniEnvironment {
  command: CniCommand
  /** Empty for VERSION, GC and STATUS. */
  containerID: string
  /** Empty for VERSION, GC, STATUS, and for DEL when the runtime has no netns left. */
  netns: string
  ifname: string
  args: Record<string, string>
  path: string[]
}

type Requirement = Partial<Record<CniCommand, boolean>>

// Which variables each command needs, as libcni's skel enforces them.
const REQUIRED: Record<string, Requirement> = {
  CNI_CONTAINERID: { ADD: true, CHECK: true, DEL: true },
  CNI_NETNS: { ADD: true, CHECK: true },
  CNI_IFNAME: { ADD: true, CHECK: true, DEL: true },
  CNI_PATH: { ADD: true, CHECK: true, DEL: true, GC: true, STATUS: true },
}

const MAX_IFNAME_LENGTH = 15
const VALID_ID = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/

export function isCommand(value: string): value is CniCommand {
  return (COMMANDS as readonly string[]).includes(value)
}

export function validateContainerID(id: string): void {
  if (!VALID_ID.test(id)) {
    throw new CniError(ERR_INVALID_ENVIRONMENT, 'invalid characters in containerID', id)
  }
}

export function validateInterfaceName(name: string): void {
  const fail = (msg: string): never => {
    throw new CniError(ERR_INVALID_ENVIRONMENT, msg, name)
  }
  if (name === '') fail('interface name is empty')
  if (name.length > MAX_IFNAME_LENGTH) fail(`interface name is longer than ${MAX_IFNAME_LENGTH} characters`)
  if (name === '.' || name === '..') fail('interface name is . or ..')
  if (/[/:\s]/u.test(name)) fail('interface name contains / or : or whitespace characters')
}

/** Parses CNI_ARGS ("K1=V1;K2=V2"); empty segments are skipped. */
export function parseCniArgs(text: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const pair of text.split(';')) {
    if (pair === '') continue
    const kv = pair.split('=')
    if (kv.length !== 2 || kv[0] === '') {
      throw new CniError(ERR_INVALID_ENVIRONMENT, 'invalid CNI_ARGS pair', pair)
    }
    out[kv[0]] = kv[1]
  }
  return out
}

export function readEnvironment(env: NodeJS.ProcessEnv): CniEnvironment {
  const command = env.CNI_COMMAND ?? ''
  if (command === '') {
    throw new CniError(ERR_INVALID_ENVIRONMENT, 'required env variables [CNI_COMMAND] missing', 'CNI_COMMAND')
  }
  if (!isCommand(command)) {
    throw new CniError(ERR_INVALID_ENVIRONMENT, `unknown CNI_COMMAND: ${command}`, 'CNI_COMMAND')
  }
  const missing = Object.keys(REQUIRED).filter((name) => REQUIRED[name][command] === true && !env[name])
  if (missing.length > 0) {
    throw new CniError(ERR_INVALID_ENVIRONMENT, `required env variables [${missing.join(' ')}] missing`, missing.join(','))
  }
  const containerScoped = command === 'ADD' || command === 'DEL' || command === 'CHECK'
  const containerID = containerScoped ? (env.CNI_CONTAINERID ?? '') : ''
  const netns = containerScoped ? (env.CNI_NETNS ?? '') : ''
  const ifname = containerScoped ? (env.CNI_IFNAME ?? '') : ''
  if (containerScoped) {
    validateContainerID(containerID)
    validateInterfaceName(ifname)
  }
  return {
    command,
    containerID,
    netns,
    ifname,
    args: parseCniArgs(env.CNI_ARGS ?? ''),
    path: (env.CNI_PATH ?? '').split(':').filter((p) => p !== ''),
  }
}
