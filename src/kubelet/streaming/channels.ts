// The remote-command channel protocols over WebSocket, as kubectl (client-go
// tools/remotecommand) and the kubelet (apimachinery wsstream) speak them. Every binary
// message is one channel byte followed by that channel's data:
//   0 stdin (client → server), 1 stdout, 2 stderr, 3 error: one metav1.Status when the
//   command ends, 4 resize (client → server): JSON {"Width":W,"Height":H},
//   255 close (v5 only; either way): [255, channel], that channel has no more data (stdin EOF).
// v4 lacks the close signal: stdin ends only with the connection.

export const STDIN = 0
export const STDOUT = 1
export const STDERR = 2
export const ERROR = 3
export const RESIZE = 4
export const CLOSE = 255

export const V5 = 'v5.channel.k8s.io'
export const V4 = 'v4.channel.k8s.io'

/** The protocols weft serves, most preferred first. */
export const SUPPORTED_PROTOCOLS: readonly string[] = [V5, V4]

export type ChannelProtocol = typeof V5 | typeof V4

/**
 * The protocol to answer for a Sec-WebSocket-Protocol request header (comma-separated,
 * possibly repeated): the client's first offer that weft serves, as upstream's handshake picks.
 */
export function negotiateProtocol(header: string | string[] | undefined): ChannelProtocol | undefined {
  const offered = (Array.isArray(header) ? header.join(',') : (header ?? '')).split(',').map((p) => p.trim())
  for (const p of offered) if (p === V5 || p === V4) return p
  return undefined
}

/** One channel message: the channel byte, then the data. */
export function encodeFrame(channel: number, data: Uint8Array = new Uint8Array(0)): Buffer {
  const out = Buffer.allocUnsafe(data.length + 1)
  out[0] = channel
  out.set(data, 1)
  return out
}

export interface TerminalSize {
  width: number
  height: number
}

export type ClientMessage =
  | { kind: 'stdin'; data: Buffer }
  | { kind: 'resize'; size: TerminalSize }
  | { kind: 'close'; channel: number }
  /** Upstream ignores these too: empty messages, channels the server only writes. */
  | { kind: 'ignored' }

/** A message the protocol does not allow: the connection ends with 1002 (protocol error). */
export class ChannelProtocolError extends Error {}

const MAX_DIMENSION = 0xffff

/** The terminal size of a resize message (upstream's remotecommand.TerminalSize: uint16 Width, Height). */
export function parseResize(data: Buffer): TerminalSize {
  if (data.length > 256) throw new ChannelProtocolError(`a resize message of ${data.length} bytes is too long`)
  let v: unknown
  try {
    v = JSON.parse(data.toString('utf8'))
  } catch {
    throw new ChannelProtocolError('a resize message is not JSON')
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ChannelProtocolError('a resize message must be a JSON object {"Width":W,"Height":H}')
  const { Width: width, Height: height } = v as Record<string, unknown>
  for (const [name, n] of [['Width', width], ['Height', height]] as const) {
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > MAX_DIMENSION) throw new ChannelProtocolError(`the resize message's ${name} must be an integer from 0 to ${MAX_DIMENSION}`)
  }
  return { width: width as number, height: height as number }
}

/** What one binary message from the client means. */
export function decodeClientMessage(protocol: ChannelProtocol, message: Buffer): ClientMessage {
  if (message.length === 0) return { kind: 'ignored' }
  const channel = message[0]!
  const data = message.subarray(1)
  if (channel === CLOSE && protocol === V5) {
    if (data.length !== 1) throw new ChannelProtocolError(`a close message names one channel, not ${data.length} bytes`)
    return { kind: 'close', channel: data[0]! }
  }
  if (channel === STDIN) return { kind: 'stdin', data }
  if (channel === RESIZE) return { kind: 'resize', size: parseResize(data) }
  if (channel === STDOUT || channel === STDERR || channel === ERROR) return { kind: 'ignored' }
  throw new ChannelProtocolError(`channel ${channel} is not one of the ${protocol} channels`)
}

/** metav1.Status on the error channel: the command succeeded. */
export function successStatus(): Record<string, unknown> {
  return { metadata: {}, status: 'Success' }
}

/** metav1.Status on the error channel for a non-zero exit code (upstream's v4 writeStatus). */
export function exitCodeStatus(code: number): Record<string, unknown> {
  return {
    metadata: {},
    status: 'Failure',
    message: `command terminated with non-zero exit code: exit status ${code}`,
    reason: 'NonZeroExitCode',
    details: { causes: [{ reason: 'ExitCode', message: String(code) }] },
  }
}

/** metav1.Status on the error channel when the command could not run at all. */
export function failureStatus(message: string): Record<string, unknown> {
  return { metadata: {}, status: 'Failure', message: `Internal error occurred: ${message}`, reason: 'InternalError', details: { causes: [{ message }] }, code: 500 }
}

/** The error channel's message for an exit code. */
export function exitStatusFrame(code: number): Buffer {
  return encodeFrame(ERROR, Buffer.from(JSON.stringify(code === 0 ? successStatus() : exitCodeStatus(code))))
}
