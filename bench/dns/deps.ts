// Installs dnsperf and dnsmasq-base (Debian) when they are missing. dnsmasq-base ships only
// the binary, but a policy-rc.d forbidding service starts is put in place for the install
// anyway (exit 101: "do not start services") unless one exists, and removed after.
import { execFileSync } from 'node:child_process'
import { existsSync, rmSync, writeFileSync } from 'node:fs'

const POLICY = '/usr/sbin/policy-rc.d'
export const DNSMASQ = '/usr/sbin/dnsmasq'

function have(command: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

export function ensureTools(): void {
  const missing = [...(have('dnsperf') ? [] : ['dnsperf']), ...(existsSync(DNSMASQ) ? [] : ['dnsmasq-base']), ...(have('dig') ? [] : ['bind9-dnsutils'])]
  if (missing.length === 0) return
  if (process.getuid?.() !== 0) throw new Error(`missing Debian packages ${missing.join(' ')}: run as root or install them`)
  process.stderr.write(`installing ${missing.join(' ')} with apt-get...\n`)
  const ownPolicy = !existsSync(POLICY)
  if (ownPolicy) writeFileSync(POLICY, '#!/bin/sh\nexit 101\n', { mode: 0o755 })
  try {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
    execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env })
    execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], { stdio: ['ignore', 'ignore', 'inherit'], env })
  } finally {
    if (ownPolicy) rmSync(POLICY, { force: true })
  }
}
