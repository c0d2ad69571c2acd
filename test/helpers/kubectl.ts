// Runs the real, preinstalled kubectl against a test server's kubeconfig.
import { execFile } from 'node:child_process'
import { dirname, join } from 'node:path'

export interface KubectlResult {
  code: number
  stdout: string
  stderr: string
}

export function kubectl(kubeconfig: string, args: string[], input?: string): Promise<KubectlResult> {
  return new Promise((resolve) => {
    const child = execFile(
      'kubectl',
      ['--kubeconfig', kubeconfig, '--cache-dir', join(dirname(kubeconfig), 'kube-cache'), ...args],
      { timeout: 60_000, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, KUBECONFIG: kubeconfig, HOME: process.env.HOME ?? '/tmp' } },
      (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 1) : 0
        resolve({ code, stdout: String(stdout), stderr: String(stderr) })
      },
    )
    if (input !== undefined) child.stdin!.end(input)
  })
}
