// Shared bits for the client tests.
import { setTimeout as delay } from 'node:timers/promises'
import { findByKind } from '../../src/api/registry.ts'
import type { ResourceInfo } from '../../src/api/registry.ts'

function info(apiVersion: string, kind: string): ResourceInfo {
  const found = findByKind(apiVersion, kind)
  if (!found) throw new Error(`registry has no ${apiVersion} ${kind}`)
  return found
}

export const pods = info('v1', 'Pod')
export const nodes = info('v1', 'Node')
export const deployments = info('apps/v1', 'Deployment')

/** Polls `check` until it holds; fails with `what` after a generous limit (not a timing assertion). */
export async function until(check: () => boolean, what: string, limitMs = 10_000): Promise<void> {
  const end = Date.now() + limitMs
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await delay(5)
  }
}

export function pod(name: string, namespace = 'default', extra: Record<string, unknown> = {}) {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace, labels: { app: name } }, spec: { containers: [{ name: 'c', image: 'weft/echo' }] }, ...extra }
}
