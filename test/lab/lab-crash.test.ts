// `weft down` after an agent was SIGKILLed: nothing the agent or its pods made may stay
// behind, although the agent never cleaned up.
import { labClient } from '../../src/lab/client.ts'
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import type { V1Pod } from '@kubernetes/client-node'
import { findByKind } from '../../src/api/registry.ts'
import { DEFAULT_RUN_DIR } from '../../cni/service/run-dir.ts'
import { netnsPath } from '../../src/netlink/index.ts'
import { isAlive } from '../../src/lab/processes.ts'
import type { LabState } from '../../src/lab/state.ts'
import { weft } from './cli.ts'
import { assertGone, labDir } from './lab-helpers.ts'

if (process.getuid?.() !== 0) t.plan(0, 'the lab needs root')
t.setTimeout(240_000)

const podInfo = findByKind('v1', 'Pod')!

t.test('down after a SIGKILLed agent removes what the agent and its pods made', async (t) => {
  const dir = await labDir(t)
  const up = await weft(['up', '--nodes', '1', '--data-dir', dir, '--no-demo', '--timeout', '90'])
  t.equal(up.code, 0, up.stderr)
  const state = JSON.parse(readFileSync(join(dir, 'lab.json'), 'utf8')) as LabState
  const node = state.nodes[0]!
  const agent = state.processes.find((p) => p.role === 'agent')!
  const serviceDir = join(DEFAULT_RUN_DIR, String(statSync(netnsPath(node.netns)).ino))
  t.ok(existsSync(join(serviceDir, 'req')), `the agent's CNI service listens in ${serviceDir}`)

  // A pod with a volume mounted where the host has nothing: the path exists only in the container's view.
  const hostTarget = join(dirname(dir), 'host-side', 'made-for-the-pod')
  mkdirSync(dirname(hostTarget))
  const client = labClient(join(dir, 'apiserver.sock'), join(dir, 'kubeconfig'))
  t.teardown(() => client.destroy())
  await client.create<V1Pod>(podInfo, {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'sleeper', namespace: 'default' },
    spec: {
      nodeName: node.name,
      containers: [{ name: 'c', image: 'debian', command: ['sleep', '3600'], volumeMounts: [{ name: 'scratch', mountPath: hostTarget }] }],
      volumes: [{ name: 'scratch', emptyDir: {} }],
    },
  })
  let pod: V1Pod | undefined
  for (let i = 0; i < 600 && pod?.status?.phase !== 'Running'; i++) {
    await sleep(100)
    pod = await client.get<V1Pod>(podInfo, 'sleeper', 'default')
  }
  t.equal(pod?.status?.phase, 'Running', 'the pod runs')
  t.notOk(existsSync(hostTarget), 'the mount target is not made on the host')
  // Another engineer's secret volumes are tmpfs mounts under the pod dir: any mount there counts.
  const podDir = join(node.dataDir, 'pods', pod!.metadata!.uid!)
  const tmpfs = join(podDir, 'volumes', 'scratch')
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m,mode=0700', 'tmpfs', tmpfs])

  t.ok(isAlive(agent.pid, agent.starttime), 'the agent runs')
  process.kill(agent.pid, 'SIGKILL')
  for (let i = 0; i < 100 && isAlive(agent.pid, agent.starttime); i++) await sleep(20)
  t.notOk(isAlive(agent.pid, agent.starttime), 'the agent is dead')

  const down = await weft(['down', '--data-dir', dir])
  t.equal(down.code, 0, down.stderr)
  await assertGone(t, dir, state.processes)
  t.notOk(existsSync(serviceDir), "the dead agent's CNI service directory is gone")
  t.notOk(existsSync(hostTarget), 'nor after down')
  t.ok(existsSync(dirname(hostTarget)), 'its parent, which was there before, is kept')
})
