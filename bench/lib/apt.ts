// Installs missing Debian packages for a benchmark. A package such as nginx would start its
// service on the root namespace's ports: unless a policy-rc.d already forbids it, one is put
// in place for the install (exit 101: "do not start services") and removed after.
import { execFileSync } from 'node:child_process'
import { existsSync, rmSync, writeFileSync } from 'node:fs'

const POLICY = '/usr/sbin/policy-rc.d'

export function have(command: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

export function aptInstall(packages: readonly string[]): void {
  if (packages.length === 0) return
  if (process.getuid?.() !== 0) throw new Error(`missing Debian packages ${packages.join(' ')}: run as root or install them`)
  process.stderr.write(`installing ${packages.join(' ')} with apt-get...\n`)
  const ownPolicy = !existsSync(POLICY)
  if (ownPolicy) writeFileSync(POLICY, '#!/bin/sh\nexit 101\n', { mode: 0o755 })
  try {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
    execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env })
    execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...packages], { stdio: ['ignore', 'ignore', 'inherit'], env })
  } finally {
    if (ownPolicy) rmSync(POLICY, { force: true })
  }
}
