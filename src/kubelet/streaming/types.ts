// What the kubelet's exec and attach streams need from the node: the running container a
// request names, a command line that runs inside it, and its attachable stdio.
import type { Readable, Writable } from 'node:stream'

export interface StreamTarget {
  namespace: string
  pod: string
  container: string
}

/** The streams a request asks for (the stdin/stdout/stderr/tty query flags). */
export interface StreamFlags {
  stdin: boolean
  stdout: boolean
  stderr: boolean
  tty: boolean
}

/** A running container's stdio, attached. */
export interface AttachSession {
  /** Present when the container reads stdin and the caller asked for it. */
  stdin?: Writable
  /** stdout, or stdout and stderr together under a tty. */
  output: Readable
  stderr?: Readable
  /** Sets the container's terminal size (tty containers). */
  resize?(cols: number, rows: number): void
  /** Settles when the attachment ends (the container exited or the session was closed). */
  done: Promise<void>
  /** Lets go of the container's streams (the caller went away); never stops the container. */
  close(): void
}

/** A stream request the kubelet refuses before upgrading: the status and a plain-text message. */
export class StreamRequestError extends Error {
  readonly status: 400 | 404 | 429 | 500
  constructor(status: 400 | 404 | 429 | 500, message: string) {
    super(message)
    this.status = status
  }
}

/** What the kubelet offers the streaming server. Both throw StreamRequestError for a pod or container they cannot serve. */
export interface StreamingRuntime {
  /** [file, args] that run argv inside the target's running container (spawn with `env: { PATH: SYSTEM_PATH }`). */
  execCommand(target: StreamTarget, argv: readonly string[]): Promise<[string, string[]]>
  attach(target: StreamTarget, flags: StreamFlags): Promise<AttachSession>
}
