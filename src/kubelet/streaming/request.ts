// The kubelet's stream requests: `/exec/NS/POD/CONTAINER?command=…&command=…&stdin=1…` and
// `/attach/NS/POD/CONTAINER?…`, with the query flags upstream's remotecommand options
// read (the API server sends "1"; any Go boolean spelling is taken, anything else refused).
import { parseGoBool } from '../../util/go-bool.ts'
import { StreamRequestError, type StreamFlags, type StreamTarget } from './types.ts'

export type StreamKind = 'exec' | 'attach'

export interface StreamRequest {
  kind: StreamKind
  target: StreamTarget
  flags: StreamFlags
  /** exec: the command and its arguments; attach: empty. */
  command: string[]
}

export const MAX_COMMAND_ARGS = 1024
export const MAX_COMMAND_BYTES = 64 * 1024

function segment(raw: string, what: string): string {
  let v: string
  try {
    v = decodeURIComponent(raw)
  } catch {
    throw new StreamRequestError(400, `the ${what} in the path is not valid percent-encoding`)
  }
  if (v === '' || v.length > 253 || /[\u0000-\u001f/]/.test(v)) throw new StreamRequestError(400, `the ${what} ${JSON.stringify(v.slice(0, 64))} is not a valid name`)
  return v
}

function flag(q: URLSearchParams, name: string): boolean {
  const values = q.getAll(name)
  if (values.length > 1) throw new StreamRequestError(400, `${name} is given ${values.length} times; give it once`)
  const v = values[0]
  if (v === undefined || v === '') return false
  const parsed = parseGoBool(v)
  if (parsed === undefined) throw new StreamRequestError(400, `${name} ${JSON.stringify(v.slice(0, 64))} must be 1 or 0`)
  return parsed
}

/** The stream request of a path, or undefined for a path that is not one. */
export function parseStreamRequest(pathname: string, q: URLSearchParams): StreamRequest | undefined {
  const m = /^\/(exec|attach)\/([^/]+)\/([^/]+)\/([^/]+)$/.exec(pathname)
  if (!m) return undefined
  const kind = m[1] as StreamKind
  const target = { namespace: segment(m[2]!, 'namespace'), pod: segment(m[3]!, 'pod name'), container: segment(m[4]!, 'container name') }
  const tty = flag(q, 'tty')
  // Under a terminal stderr is stdout (upstream bypasses a separate stderr).
  const flags = { stdin: flag(q, 'stdin'), stdout: flag(q, 'stdout'), stderr: flag(q, 'stderr') && !tty, tty }
  if (!flags.stdin && !flags.stdout && !flags.stderr) throw new StreamRequestError(400, 'you must specify at least 1 of stdin, stdout, stderr')
  const command = q.getAll('command')
  if (kind === 'attach') {
    if (command.length > 0) throw new StreamRequestError(400, 'attach takes no command')
    return { kind, target, flags, command }
  }
  if (command.length === 0) throw new StreamRequestError(400, 'you must specify at least one command for the container')
  if (command.length > MAX_COMMAND_ARGS) throw new StreamRequestError(400, `the command has ${command.length} arguments; at most ${MAX_COMMAND_ARGS} are allowed`)
  if (command.reduce((n, a) => n + Buffer.byteLength(a), 0) > MAX_COMMAND_BYTES) throw new StreamRequestError(400, `the command is longer than ${MAX_COMMAND_BYTES} bytes`)
  if (command.some((a) => a.includes('\0'))) throw new StreamRequestError(400, 'the command holds a NUL byte')
  return { kind, target, flags, command }
}
