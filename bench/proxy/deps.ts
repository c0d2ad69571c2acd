// Installs wrk and nginx-light (Debian) when they are missing. The nginx package would start
// a system nginx on port 80 of the root namespace: unless a policy-rc.d already forbids it,
// one is put in place for the install (exit 101: "do not start services") and removed after.
import { execFileSync } from 'node:child_process'
import { existsSync, rmSync, writeFileSync } from 'node:fs'

const POLICY = '/usr/sbin/policy-rc.d'

function have(command: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

export function ensureTools(): void {
  const missing = [...(have('wrk') ? [] : ['wrk']), ...(have('nginx') ? [] : ['nginx-light']), ...(have('curl') ? [] : ['curl']), ...(have('nft') ? [] : ['nftables'])]
  if (missing.length === 0) return
  if (process.getuid?.() !== 0) throw new Error(`missing Debian packages ${missing.join(' ')}: run as root or install them`)
  process.stderr.write(`installing ${missing.join(' ')} with apt-get...\n`)
  const ownPolicy = !existsSync(POLICY)
  if (ownPolicy) writeFileSync(POLICY, '#!/bin/sh\nexit 101\n', { mode: 0o755 })
  try {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
    execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env })
    execFileSync('apt-get', ['install', '-y', '-qq', ...missing], { stdio: ['ignore', 'ignore', 'inherit'], env })
  } finally {
    if (ownPolicy) rmSync(POLICY, { force: true })
  }
}
