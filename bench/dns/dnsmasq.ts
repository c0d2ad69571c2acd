// The peer: dnsmasq serving the same names from a hosts file, on a free loopback port. It
// reads no config file, no /etc/hosts and no /etc/resolv.conf and has no upstream, so it
// sends nothing anywhere; names it does not hold are answered REFUSED.
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Cleanup } from '../lib/cleanup.ts'
import { freePort, startProcess, type ChildProcess } from '../lib/process.ts'
import { DNSMASQ } from './deps.ts'
import { waitForAnswer, waitForReply } from './dig.ts'
import type { BenchService } from './services.ts'

export interface Dnsmasq {
  port: number
  process: ChildProcess
}

export function dnsmasqArgs(dir: string, hostsFile: string, port: number, ttl: number): string[] {
  return [
    '--keep-in-foreground',
    '--conf-file=/dev/null',
    '--no-resolv',
    '--no-hosts',
    `--addn-hosts=${hostsFile}`,
    '--listen-address=127.0.0.1',
    '--bind-interfaces',
    `--port=${port}`,
    '--cache-size=10000',
    `--local-ttl=${ttl}`,
    '--user=root',
    `--pid-file=${join(dir, 'dnsmasq.pid')}`,
    // Logs to stderr, which is the process's log file.
    '--log-facility=-',
  ]
}

export function hostsFileText(services: readonly BenchService[]): string {
  return services.map((s) => `${s.clusterIP} ${s.fqdn}\n`).join('')
}

/** Starts dnsmasq in its own new dir under `baseDir` (hosts file, pid file, log) serving `services` (may be none). */
export async function startDnsmasq(cleanup: Cleanup, baseDir: string, services: readonly BenchService[], ttl: number): Promise<Dnsmasq> {
  const dir = cleanup.tempDir('dnsmasq-', baseDir)
  const hostsFile = join(dir, 'hosts')
  writeFileSync(hostsFile, hostsFileText(services))
  const port = await freePort()
  const proc = startProcess(cleanup, DNSMASQ, dnsmasqArgs(dir, hostsFile, port, ttl), { logFile: join(dir, 'dnsmasq.log') })
  const last = services.at(-1)
  if (last) await waitForAnswer(port, last.fqdn, last.clusterIP, proc, 20_000)
  else await waitForReply(port, proc)
  return { port, process: proc }
}
