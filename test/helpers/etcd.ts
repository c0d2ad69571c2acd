// Starts a throwaway single-member etcd on loopback for a test; it is killed (by pid)
// and its data dir removed when the test ends.
import { spawn, type ChildProcess } from 'node:child_process'
import { Agent, request } from 'undici'
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'
import { freePort } from './ports.ts'

interface Teardown {
  teardown(fn: () => void | Promise<void>): void
}

export interface EtcdProcess {
  endpoint: string
  /** The pid of the etcd running now (a restart makes a new one). */
  pid: number
  stop(): Promise<void>
  /** SIGKILL, then the same etcd again (data dir, ports, certificates). */
  restart(): Promise<void>
  /** SIGSTOP: etcd takes connections (the kernel's backlog) but answers nothing, as behind a blackhole. */
  freeze(): void
  thaw(): void
  /** With `tls`: the client certificate and CA to reach it. */
  client?: { caPem: string; certPem: string; keyPem: string }
}

export interface EtcdTlsFiles {
  /** PEM files etcd serves with and trusts for client certificates. */
  certFile: string
  keyFile: string
  trustedCaFile: string
  client: { caPem: string; certPem: string; keyPem: string }
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

export async function startEtcd(t: Teardown, opts: { tls?: EtcdTlsFiles; extraArgs?: string[] } = {}): Promise<EtcdProcess> {
  const bin = findEtcd()
  if (bin === undefined) {
    throw new Error('etcd is not installed: run `npm test` (it installs the Debian package etcd-server) or `apt-get install etcd-server`')
  }
  let lastError: Error | undefined
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await startOnce(t, bin, opts.tls, opts.extraArgs ?? [])
    } catch (err) {
      lastError = err as Error
    }
  }
  throw lastError
}

async function startOnce(t: Teardown, bin: string, tls: EtcdTlsFiles | undefined, extraArgs: string[]): Promise<EtcdProcess> {
  // tmpfs makes etcd's fsyncs free; fall back to the normal temp dir.
  let base = tmpdir()
  try {
    accessSync('/dev/shm', constants.W_OK)
    base = '/dev/shm'
  } catch {}
  const dir = mkdtempSync(join(base, 'weft-etcd-'))
  const clientPort = await freePort()
  const peerPort = await freePort()
  const endpoint = `${tls ? 'https' : 'http'}://127.0.0.1:${clientPort}`
  const peer = `http://127.0.0.1:${peerPort}`
  const args = [
    '--name', 'weft-test',
    '--data-dir', join(dir, 'data'),
    '--listen-client-urls', endpoint,
    '--advertise-client-urls', endpoint,
    '--listen-peer-urls', peer,
    '--initial-advertise-peer-urls', peer,
    '--initial-cluster', `weft-test=${peer}`,
    '--log-level', 'error',
    ...(tls ? ['--cert-file', tls.certFile, '--key-file', tls.keyFile, '--client-cert-auth', '--trusted-ca-file', tls.trustedCaFile] : []),
    ...extraArgs,
  ]
  const health = tls ? new Agent({ connect: { ca: tls.client.caPem, cert: tls.client.certPem, key: tls.client.keyPem } }) : undefined
  let stderr = ''
  let child: ChildProcess
  let exited = false
  let exit: Promise<void> = Promise.resolve()
  const launch = () => {
    exited = false
    child = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] })
    child.stderr?.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000)
    })
    exit = new Promise<void>((resolve) => child.once('exit', () => {
      exited = true
      resolve()
    }))
  }
  const kill = async () => {
    if (exited) return
    try {
      process.kill(child.pid as number, 'SIGKILL')
    } catch {}
    await exit
  }
  const healthy = async () => {
    const deadline = Date.now() + 15_000
    while (Date.now() < deadline) {
      if (exited) break
      try {
        const res = await request(`${endpoint}/health`, { dispatcher: health, headersTimeout: 1000, bodyTimeout: 1000 })
        const body = (await res.body.json()) as { health?: string }
        if (body.health === 'true') return
      } catch {}
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    throw new Error(`etcd did not become healthy on ${endpoint}${exited ? ' (it exited)' : ''}: ${stderr.trim().slice(-1000)}`)
  }
  let stopped = false
  const stop = async (): Promise<void> => {
    if (!stopped) {
      stopped = true
      try {
        process.kill(child.pid as number, 'SIGCONT')
      } catch {}
      await kill()
      await health?.close()
    }
    rmSync(dir, { recursive: true, force: true })
  }
  t.teardown(stop)
  launch()
  try {
    await healthy()
  } catch (err) {
    await stop()
    throw err
  }
  const proc: EtcdProcess = {
    endpoint,
    pid: child!.pid as number,
    stop,
    restart: async () => {
      await kill()
      launch()
      proc.pid = child.pid as number
      await healthy()
    },
    freeze: () => process.kill(child.pid as number, 'SIGSTOP'),
    thaw: () => process.kill(child.pid as number, 'SIGCONT'),
    ...(tls ? { client: tls.client } : {}),
  }
  return proc
}

/** A CA, a serving certificate for 127.0.0.1 and a client certificate, written to `dir` for etcd. */
export async function etcdTlsFiles(dir: string): Promise<EtcdTlsFiles> {
  const { createCA, issueCertificate } = await import('../../src/pki/certificates.ts')
  const ca = await createCA('etcd-ca')
  // etcd's JSON gateway dials etcd's own gRPC port with the serving certificate: it needs client auth too.
  const server = await issueCertificate(ca, { commonName: 'etcd', usages: ['server', 'client'], ipAddresses: ['127.0.0.1'], dnsNames: ['localhost'], validityDays: 1 })
  const client = await issueCertificate(ca, { commonName: 'kube-apiserver-etcd-client', usages: ['client'], validityDays: 1 })
  const file = (name: string, text: string) => {
    const path = join(dir, name)
    writeFileSync(path, text, { mode: 0o600 })
    return path
  }
  return {
    certFile: file('server.crt', server.certPem),
    keyFile: file('server.key', server.keyPem!),
    trustedCaFile: file('ca.crt', ca.certPem),
    client: { caPem: ca.certPem, certPem: client.certPem, keyPem: client.keyPem! },
  }
}
