// The CNI runtime's tests again, with the plugins started through a Spawner as the node
// agent starts them (src/kubelet/cni/exec-plugin.ts viaSpawner): same results, same errors,
// a plugin that runs too long killed with what it started.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { Spawner, useSpawner } from '../../src/netlink/index.ts'

const dir = mkdtempSync(join(tmpdir(), 'weft-cni-spawner-'))
const spawner = new Spawner(dir)
useSpawner(spawner)
t.teardown(() => {
  useSpawner(undefined)
  spawner.close()
  rmSync(dir, { recursive: true, force: true })
})
await import('./cni-runtime.test.ts')

t.test('the plugins ran through the spawner', async (t) => {
  t.ok(spawner.started >= 20, `${spawner.started} jobs`)
})
