// Network namespaces for tests: unique names, removed when the test ends, and also when
// the process exits or is interrupted.
import { execFileSync } from 'node:child_process'
import { addNetns, deleteNetns, netnsExists } from '../../src/netlink/index.ts'

const created = new Set<string>()
const exitHooks = new Set<() => void>()
let counter = 0
let hooked = false

function removeAllSync(): void {
  for (const fn of exitHooks) {
    try {
      fn()
    } catch {
      // Best effort on the way out.
    }
  }
  exitHooks.clear()
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

/**
 * Runs `fn` synchronously if the process exits or is interrupted (Ctrl-C) before the test's
 * own teardown ran, before the namespaces are removed: for what lives beside a namespace
 * (processes, mounts). The returned function unregisters it (the teardown did the work).
 */
export function onExitSync(fn: () => void): () => void {
  hookExit()
  exitHooks.add(fn)
  return () => void exitHooks.delete(fn)
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
