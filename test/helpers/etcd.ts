// Starts a throwaway single-member etcd on loopback for a test; it is killed (by pid)
// and its data dir removed when the test ends.
import { spawn } from 'node:child_process'
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'

interface Teardown {
  teardown(fn: () => void | Promise<void>): void
}

export interface EtcdProcess {
  endpoint: string
  pid: number
  stop(): Promise<void>
}

export function findEtcd(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter).concat('/usr/bin', '/usr/local/bin')) {
    if (dir === '') continue
    const candidate = join(dir, 'etcd')
    try {
      accessSync(candidate, constants.X_OK)
      return candidate
    } catch {}
  }
  return undefined
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
  })
}

export async function startEtcd(t: Teardown): Promise<EtcdProcess> {
  const bin = findEtcd()
  if (bin === undefined) {
    throw new Error('etcd is not installed: run `npm test` (it installs the Debian package etcd-server) or `apt-get install etcd-server`')
  }
  let lastError: Error | undefined
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await startOnce(t, bin)
    } catch (err) {
      lastError = err as Error
    }
  }
  throw lastError
}

async function startOnce(t: Teardown, bin: string): Promise<EtcdProcess> {
  // tmpfs makes etcd's fsyncs free; fall back to the normal temp dir.
  let base = tmpdir()
  try {
    accessSync('/dev/shm', constants.W_OK)
    base = '/dev/shm'
  } catch {}
  const dir = mkdtempSync(join(base, 'weft-etcd-'))
  const clientPort = await freePort()
  const peerPort = await freePort()
  const endpoint = `http://127.0.0.1:${clientPort}`
  const peer = `http://127.0.0.1:${peerPort}`
  const child = spawn(bin, [
    '--name', 'weft-test',
    '--data-dir', join(dir, 'data'),
    '--listen-client-urls', endpoint,
    '--advertise-client-urls', endpoint,
    '--listen-peer-urls', peer,
    '--initial-advertise-peer-urls', peer,
    '--initial-cluster', `weft-test=${peer}`,
    '--log-level', 'error',
  ], { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000)
  })
  let exited = false
  const exit = new Promise<void>((resolve) => child.once('exit', () => {
    exited = true
    resolve()
  }))
  const pid = child.pid as number
  let stopped = false
  const stop = async (): Promise<void> => {
    if (!stopped) {
      stopped = true
      if (!exited) {
        try {
          process.kill(pid, 'SIGKILL')
        } catch {}
        await exit
      }
    }
    rmSync(dir, { recursive: true, force: true })
  }
  t.teardown(stop)
  const deadline = Date.now() + 15_000
  while (Date.now() < deadline) {
    if (exited) break
    try {
      const res = await fetch(`${endpoint}/health`, { signal: AbortSignal.timeout(1000) })
      const body = (await res.json()) as { health?: string }
      if (body.health === 'true') return { endpoint, pid, stop }
    } catch {}
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  await stop()
  throw new Error(`etcd did not become healthy on ${endpoint}${exited ? ' (it exited)' : ''}: ${stderr.trim().slice(-1000)}`)
}
