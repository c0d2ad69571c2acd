// The cgroup manager against this host's real cgroups (v1 or v2, whichever it has), under
// a test parent of its own: a busy loop gets its CPU quota, a memory hog is OOM-killed
// and the kill is seen.
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { CgroupManager } from '../../src/kubelet/cgroups/index.ts'
import { createSandbox, removeSandbox, startContainer, stopContainer, watchExit, type Sandbox } from '../../src/kubelet/runtime/index.ts'
import { hostCgroupLayout, testCgroupParent } from '../helpers/cgroups.ts'

const layout = hostCgroupLayout()
const skip = layout === undefined || process.getuid?.() !== 0 || layout.mounts.cpu === undefined || layout.mounts.memory === undefined ? 'needs root and the cpu and memory controllers' : false
const parent = testCgroupParent(layout)

const dataDir = mkdtempSync(join(tmpdir(), 'weft-cg-'))
t.teardown(() => rmSync(dataDir, { recursive: true, force: true }))
let n = 0
async function sandbox(tt: { teardown(fn: () => unknown): void }): Promise<Sandbox> {
  n++
  const sb = await createSandbox({ dataDir, uid: `cg-${process.pid}-${n}`, namespace: 'default', name: `cg-${n}`, hostname: `cg-${n}` })
  tt.teardown(() => removeSandbox(sb))
  return sb
}

function pod(uid: string, resources: { requests?: Record<string, string>; limits?: Record<string, string> }) {
  return { metadata: { uid }, spec: { containers: [{ name: 'main', resources }] } }
}

function cpuUsage(mgr: CgroupManager, path: string): Promise<number> {
  return mgr.usage(path).then((u) => u.cpuUsageNs ?? NaN)
}

t.test('a busy loop under a 0.2-CPU limit is held to 0.2 CPU', { skip }, async (t) => {
  const mgr = new CgroupManager({ layout: layout!, driver: 'cgroupfs', cgroupRoot: parent })
  await mgr.init()
  const p = pod(`cpu-${process.pid}`, { limits: { cpu: '200m', memory: '64Mi' } })
  await mgr.podCgroups(p)
  const dirs = await mgr.containerCgroups(p, p.spec.containers[0]!)
  const cpuDir = dirs.find((d) => d.startsWith(layout!.mounts.cpu!))!
  if (layout!.version === 1) {
    t.equal(readFileSync(join(cpuDir, 'cpu.cfs_quota_us'), 'utf8').trim(), '20000')
    t.equal(readFileSync(join(cpuDir, 'cpu.cfs_period_us'), 'utf8').trim(), '100000')
  } else {
    t.equal(readFileSync(join(cpuDir, 'cpu.max'), 'utf8').trim(), '20000 100000')
  }
  const sb = await sandbox(t)
  const proc = await startContainer(sb, { name: 'main', argv: ['sh', '-c', 'while :; do :; done'], env: [], restartCount: 0, cgroups: dirs })
  t.teardown(() => stopContainer(proc, 0))
  const path = mgr.containerPath(mgr.podPath(p.metadata.uid, 'Guaranteed'), 'main')
  await new Promise((r) => setTimeout(r, 300))
  const t0 = process.hrtime.bigint()
  const u0 = await cpuUsage(mgr, path)
  await new Promise((r) => setTimeout(r, 2000))
  const u1 = await cpuUsage(mgr, path)
  const elapsed = Number(process.hrtime.bigint() - t0)
  const cores = (u1 - u0) / elapsed
  // The cap is what is checked: on a busy machine the loop may get less than its quota, never more.
  t.ok(cores < 0.22, `used ${cores.toFixed(3)} of a CPU (at most 0.2, +10%)`)
  t.ok(cores > 0.05, 'it ran')
  const throttled = Number(/^nr_throttled (\d+)$/m.exec(readFileSync(join(cpuDir, 'cpu.stat'), 'utf8'))?.[1] ?? NaN)
  t.ok(throttled > 0, `the limit bit: throttled in ${throttled} periods`)
  await stopContainer(proc, 0)
  await mgr.removePod(p.metadata.uid)
  t.throws(() => statSync(join(layout!.mounts.cpu!, mgr.podPath(p.metadata.uid, 'Guaranteed'))), 'the pod cgroup is gone')
})

t.test('a memory hog under 20Mi is OOM-killed, and the kill is counted', { skip }, async (t) => {
  const mgr = new CgroupManager({ layout: layout!, driver: 'cgroupfs', cgroupRoot: parent })
  await mgr.init()
  const p = pod(`mem-${process.pid}`, { requests: { memory: '10Mi' }, limits: { memory: '20Mi' } })
  await mgr.podCgroups(p)
  const dirs = await mgr.containerCgroups(p, p.spec.containers[0]!)
  t.equal(await mgr.oomKills(p.metadata.uid, 'main'), 0, 'a fresh cgroup has seen no OOM kill')
  const sb = await sandbox(t)
  // tail keeps a line without newline in memory: it grows until the limit stops it.
  const proc = await startContainer(sb, { name: 'main', argv: ['sh', '-c', 'head -c 200M /dev/zero | tail'], env: [], restartCount: 0, cgroups: dirs })
  t.teardown(() => stopContainer(proc, 0))
  const exit = await watchExit(proc)
  t.equal(exit.exitCode, 137, 'killed by SIGKILL')
  t.ok((await mgr.oomKills(p.metadata.uid, 'main')) >= 1, 'the cgroup saw an OOM kill')
  const usage = await mgr.usage(mgr.containerPath(mgr.podPath(p.metadata.uid, 'Burstable'), 'main'))
  t.equal(usage.memoryLimitBytes, 20 * 1024 * 1024)
  // The next run gets a fresh cgroup: its count starts again.
  await mgr.containerCgroups(p, p.spec.containers[0]!)
  t.equal(await mgr.oomKills(p.metadata.uid, 'main'), 0)
  await mgr.removePod(p.metadata.uid)
})
