// A cgroup parent of a test's own in every hierarchy (`/weft-test-<pid>-<random>`), removed
// depth first when the test process ends; and the host's layout, or undefined without cgroups.
import { randomBytes } from 'node:crypto'
import { readdirSync, rmdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { detectLayout, hierarchies, type CgroupLayout } from '../../src/kubelet/cgroups/index.ts'

export function hostCgroupLayout(): CgroupLayout | undefined {
  try {
    return detectLayout()
  } catch {
    return undefined
  }
}

function removeTree(dir: string): void {
  let entries: string[] = []
  try {
    entries = readdirSync(dir).filter((n) => statSync(join(dir, n)).isDirectory())
  } catch {
    return
  }
  for (const e of entries) removeTree(join(dir, e))
  try {
    rmdirSync(dir)
  } catch {
    // Processes still in it: nothing more a test can do.
  }
}

/** The test's cgroup parent (a cgroup path), removed in every hierarchy of `layout` at exit. */
export function testCgroupParent(layout: CgroupLayout | undefined): string {
  const parent = `/weft-test-${process.pid}-${randomBytes(3).toString('hex')}`
  process.once('exit', () => {
    if (layout) for (const m of hierarchies(layout)) removeTree(join(m, parent))
  })
  return parent
}
