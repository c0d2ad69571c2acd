// One container start, timed: a sandbox (its own network namespace) and a `sleep` container
// with an overlay root and a private /dev, as the kubelet starts a pod's container; N times
// in a row, one at a time. Prints each start's time and the median.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createSandbox, removeSandbox, startContainer, stopContainer, type ContainerProcess, type Sandbox } from '../../src/kubelet/runtime/index.ts'
import { median } from '../lib/stats.ts'

const count = Number(process.argv[2] ?? 10)
const dir = mkdtempSync(join(tmpdir(), 'weft-cstart-'))
const sandboxes: Sandbox[] = []
const procs: ContainerProcess[] = []
const times: number[] = []
try {
  for (let i = 0; i < count; i++) {
    const sb = await createSandbox({ dataDir: dir, uid: `cs-${process.pid}-${i}`, namespace: 'default', name: `cs-${i}`, hostname: `cs-${i}`, netns: `wcs${process.pid}-${i}` })
    sandboxes.push(sb)
    const start = performance.now()
    procs.push(await startContainer(sb, { name: 'c', argv: ['sleep', '3600'], env: [], mounts: [], restartCount: 0, root: 'overlay', terminationMessagePath: '/dev/termination-log' }))
    times.push(performance.now() - start)
  }
  process.stdout.write(`container starts: ${times.map((t) => t.toFixed(1)).join(' ')} ms; median ${median(times).toFixed(1)} ms\n`)
} finally {
  for (const p of procs) await stopContainer(p, 0).catch(() => undefined)
  for (const sb of sandboxes) await removeSandbox(sb).catch(() => undefined)
  rmSync(dir, { recursive: true, force: true })
}
