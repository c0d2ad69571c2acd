// Network namespaces for tests: unique names, removed when the test ends, and also when
// the process exits or is interrupted.
import { execFileSync } from 'node:child_process'
import { addNetns, deleteNetns, netnsExists } from '../../src/netlink/index.ts'

const created = new Set<string>()
/** Synchronous cleanups that must run before the namespaces go, on exit and on a signal. */
const beforeExit = new Set<() => void>()
let counter = 0
let hooked = false

/** Registers `fn` to run (synchronously) if the process exits or is interrupted first; returns its removal. */
export function onInterrupt(fn: () => void): () => void {
  hookExit()
  beforeExit.add(fn)
  return () => beforeExit.delete(fn)
}

function removeAllSync(): void {
  for (const fn of [...beforeExit]) {
    try {
      fn()
    } catch {
      // Best effort on the way out.
    }
  }
  beforeExit.clear()
  for (const name of created) {
    try {
      if (netnsExists(name)) execFileSync('ip', ['netns', 'delete', name], { stdio: 'ignore' })
    } catch {
      // Best effort on the way out.
    }
  }
  created.clear()
}

function hookExit(): void {
  if (hooked) return
  hooked = true
  process.once('exit', removeAllSync)
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      removeAllSync()
      process.exit(130)
    })
  }
}

/** A name no other test process uses: `wt<tag>-<pid>-<n>` (15 characters at most is not required for netns). */
export function uniqueName(tag: string): string {
  return `wt${tag}-${process.pid}-${++counter}`
}

interface Teardown {
  teardown(fn: () => unknown): void
}

/** Creates a namespace that is deleted at the end of `t` (after `beforeRemove`, if given). */
export async function testNetns(t: Teardown, tag = 'ns', beforeRemove?: () => Promise<void>): Promise<string> {
  hookExit()
  const name = uniqueName(tag)
  await addNetns(name)
  created.add(name)
  t.teardown(async () => {
    await beforeRemove?.()
    await deleteNetns(name)
    created.delete(name)
  })
  return name
}
