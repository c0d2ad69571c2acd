// Test helpers: run a built-in program as a child process (through resolveImage, as the kubelet
// will) and wait for its "listening" line; free loopback ports.
import { spawn, type ChildProcess } from 'node:child_process'
import { createSocket } from 'node:dgram'
import { createServer } from 'node:net'
import type { V1Container } from '@kubernetes/client-node'
import { resolveImage } from '../../src/images/resolve-image.ts'

interface TapLike {
  teardown(fn: () => void | Promise<void>): void
}

export interface Running {
  child: ChildProcess
  output: () => string
  /** Resolves with the exit code (or the signal name) once the process has exited. */
  exited: Promise<number | string>
  stop(): Promise<number | string>
}

export function freeTcpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}

export function freeUdpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const sock = createSocket('udp4')
    sock.once('error', reject)
    sock.bind(0, '127.0.0.1', () => {
      const { port } = sock.address()
      sock.close(() => resolve(port))
    })
  })
}

export async function startContainer(t: TapLike, container: V1Container, ready: RegExp, env: Record<string, string> = {}): Promise<Running> {
  const [file, ...args] = resolveImage(container).command
  const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } })
  let out = ''
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)))
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL')
      await exited
    }
  })
  await new Promise<void>((resolve, reject) => {
    const check = (): void => {
      if (ready.test(out)) resolve()
    }
    child.stdout?.on('data', (c: Buffer) => {
      out += c.toString()
      check()
    })
    child.stderr?.on('data', (c: Buffer) => {
      out += c.toString()
    })
    exited.then((code) => reject(new Error(`${file} exited (${code}) before it was ready: ${out}`)))
  })
  return {
    child,
    output: () => out,
    exited,
    stop() {
      child.kill('SIGTERM')
      return exited
    },
  }
}

export function udpAsk(port: number, message: string, address = '127.0.0.1', timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = createSocket(address.includes(':') ? 'udp6' : 'udp4')
    const timer = setTimeout(() => {
      sock.close()
      reject(new Error(`no UDP answer to ${JSON.stringify(message)} from ${address}:${port}`))
    }, timeoutMs)
    sock.on('message', (msg) => {
      clearTimeout(timer)
      sock.close()
      resolve(msg.toString())
    })
    sock.send(message, port, address)
  })
}
