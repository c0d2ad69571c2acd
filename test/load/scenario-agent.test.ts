// setReady and restartAgent against a real `weft agent` (a node as a network namespace on an
// underlay, as the node-agent end-to-end tests run it): the kubelet makes Ready follow the pod's
// readiness gate and keeps the gate's condition when it writes status, before and after the
// agent restarts; restartAgent completes once the restarted agent renewed its lease.
import t from 'tap'
import type { V1Pod } from '@kubernetes/client-node'
import { procStarttime } from '../../src/lab/processes.ts'
import type { LabState } from '../../src/lab/state.ts'
import { podInfo, startCluster, until } from '../helpers/control-plane.ts'
import { startUnderlay, type TestNode } from '../helpers/nodes.ts'
import { executeAction } from '../../load/scenario/actions.ts'
import { newLedger, type ActionContext } from '../../load/scenario/context.ts'
import type { AgentControl } from '../../load/scenario/lab-agent.ts'

t.setTimeout(240_000)
const GATE = 'weft.dev/ready'

const cluster = await startCluster(t, {}, { socket: true, kubeletSocketsInDir: true })
const underlay = await startUnderlay(t, { socketPath: cluster.socketPath!, dir: cluster.dir })
const nodeOne = await underlay.addNode('node-1')
const client = cluster.client

/** The test's node as a one-node lab: its agent is the TestNode's process. */
function testNodeAgents(node: TestNode): AgentControl {
  let state: LabState = {
    version: 1,
    id: 'test',
    dataDir: cluster.dir,
    labNetns: underlay.netns,
    socket: cluster.socketPath!,
    kubeconfig: cluster.kubeconfig,
    nodes: [{ name: node.name, netns: node.netns, ip: node.ip, podNetnsPrefix: `${node.netns}-pod`, dataDir: node.dataDir, log: node.logFile }],
    processes: [{ role: 'agent', name: node.name, pid: node.pid!, starttime: procStarttime(node.pid!)! }],
    createdAt: new Date().toISOString(),
  }
  return {
    readState: async () => structuredClone(state),
    writeState: async (next) => {
      state = structuredClone(next)
    },
    isAlive: (pid, starttime) => procStarttime(pid) === starttime,
    stop: () => node.stop(),
    start: () => {
      node.start()
      const pid = node.pid!
      return { pid, starttime: procStarttime(pid)!, exited: new Promise(() => {}) }
    },
    cannotControl: () => undefined,
  }
}

const agents = testNodeAgents(nodeOne)
function context(): ActionContext {
  return { client, namespace: 'default', runId: 'e2e', signal: AbortSignal.timeout(60_000), lab: { dataDir: cluster.dir, agents }, ledger: newLedger(), pollMs: 100, evictionRetryMs: 500 }
}

const condition = (pod: V1Pod, type: string) => pod.status?.conditions?.find((c) => c.type === type)
const getPod = () => client.get<V1Pod>(podInfo, 'gated', 'default')

t.test('Ready follows the readiness gate that setReady sets; the kubelet keeps the gate, also after a restart', async (t) => {
  await client.create(podInfo, {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'gated', namespace: 'default', labels: { app: 'gated' } },
    spec: { nodeName: 'node-1', terminationGracePeriodSeconds: 2, readinessGates: [{ conditionType: GATE }], containers: [{ name: 'echo', image: 'weft/echo' }] },
  })
  await until('the pod running, its containers ready, itself not Ready', async () => {
    const pod = await getPod()
    return pod.status?.phase === 'Running' && condition(pod, 'ContainersReady')?.status === 'True' && condition(pod, 'Ready')?.status === 'False'
  }, 60_000)
  t.match(condition(await getPod(), 'Ready'), { reason: 'ReadinessGatesNotReady', message: `corresponding condition of pod readiness gate "${GATE}" does not exist.` })

  t.equal(await executeAction(context(), { kind: 'setReady', selector: 'app=gated', count: 1, ready: true }), 'gated Ready by readiness gate')
  t.equal(await executeAction(context(), { kind: 'setReady', selector: 'app=gated', count: 1, ready: false }), 'gated not Ready by readiness gate')
  const notReady = await getPod()
  t.match(condition(notReady, 'Ready'), { status: 'False', reason: 'ReadinessGatesNotReady', message: `the status of pod readiness gate "${GATE}" is not "True", but False` })

  const before = nodeOne.pid
  const restarted = await executeAction(context(), { kind: 'restartAgent', node: 'node-1' })
  t.match(restarted, new RegExp(`^restarted the agent on node-1 \\(pid ${before} → ${nodeOne.pid}\\); lease renewed, node Ready$`))
  // The new kubelet writes the pod's status anew (its start time, its containers adopted): the gate stays.
  await new Promise((r) => setTimeout(r, 2000))
  const after = await getPod()
  t.match(condition(after, GATE), { status: 'False', reason: 'LoadScenarioNotReady' }, "the restarted kubelet kept the gate's condition")
  t.equal(condition(after, 'Ready')?.status, 'False', 'and the pod not Ready')
  t.equal(after.status?.phase, 'Running')

  t.equal(await executeAction(context(), { kind: 'setReady', selector: 'app=gated', count: 1, ready: true }), 'gated Ready by readiness gate')
  await client.delete(podInfo, 'gated', 'default', { gracePeriodSeconds: 0 })
})
