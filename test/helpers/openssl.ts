// The real openssl, run on files in a test's temporary directory.
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export interface Run {
  code: number
  stdout: string
  stderr: string
}

export function openssl(args: string[], input?: string | Buffer): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile('openssl', args, { encoding: 'buffer', maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 1) : 0
      resolve({ code, stdout: stdout.toString('latin1'), stderr: stderr.toString() })
    })
    child.stdin?.on('error', () => {})
    child.stdin?.end(input ?? '')
  })
}

/** Raw bytes of openssl's stdout (for DER output). */
export function opensslBytes(args: string[], input?: string | Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = execFile('openssl', args, { encoding: 'buffer', maxBuffer: 1 << 20 }, (err, stdout) => (err ? reject(err) : resolve(stdout)))
    child.stdin?.on('error', () => {})
    child.stdin?.end(input ?? '')
  })
}

export interface TmpDir {
  path: string
  file(name: string, content: string | Buffer): string
  remove(): void
}

export function tmp(prefix: string): TmpDir {
  const path = mkdtempSync(join(tmpdir(), prefix))
  return {
    path,
    file(name, content) {
      const p = join(path, name)
      writeFileSync(p, content)
      return p
    },
    remove: () => rmSync(path, { recursive: true, force: true }),
  }
}
