// restartAgent / restartProxy over a lab's lab.json, with real processes standing in for the
// agents (`sleep`, started detached as weft up starts agents): the old one is stopped by pid and
// start time, the new one recorded, and the action waits for the new agent's lease renewal
// (this test renews it, as the new agent would). Starting a real agent needs a lab (weft up);
// the command line it would run is checked against weft up's own.
import t from 'tap'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { resources } from '../../src/api/registry.ts'
import { RestClient } from '../../src/client/index.ts'
import { isAlive, startDetached, stopProcess } from '../../src/lab/processes.ts'
import { initialState, readState, writeState, type LabState } from '../../src/lab/state.ts'
import { planLab } from '../../src/lab/topology.ts'
import { agentArgs } from '../../src/lab/up.ts'
import { startTestServer } from '../helpers/apiserver.ts'
import { node } from '../helpers/control-plane.ts'
import { onInterrupt } from '../helpers/netns.ts'
import { executeAction } from '../../load/scenario/actions.ts'
import { newLedger, type ActionContext, type LabHandle } from '../../load/scenario/context.ts'
import { restartArgs, weftUpAgents, type AgentControl } from '../../load/scenario/lab-agent.ts'
import { parseScenario } from '../../load/scenario/parse.ts'
import { preflight } from '../../load/scenario/preflight.ts'

const info = (kind: string) => resources.find((r) => r.kind === kind)!
const server = await startTestServer(t)
const client = new RestClient(server.address)
t.teardown(() => client.close())
for (const name of ['node-1', 'node-2']) await client.create(info('Node'), node(name))

const dir = await mkdtemp(join(tmpdir(), 'weft-lab-agent-'))
await mkdir(join(dir, 'logs'))
const plan = planLab(dir, 2)
const started: { pid: number; starttime: string }[] = []
// Detached, so Ctrl-C does not reach them: killed by pid (and start time) on the way out too.
const forget = onInterrupt(() => {
  for (const p of started) if (isAlive(p.pid, p.starttime)) process.kill(p.pid, 'SIGKILL')
})
t.teardown(async () => {
  for (const p of started) await stopProcess(p.pid, p.starttime, 1000)
  await rm(dir, { recursive: true, force: true })
  forget()
})

/** A stand-in agent: a detached process that runs until stopped, or for `seconds`. */
function startStandIn(log: string, seconds = 600) {
  const p = startDetached('sleep', [String(seconds)], log)
  started.push(p)
  return p
}

async function freshLab(): Promise<LabState> {
  const state = initialState(plan)
  state.processes.push({ role: 'server', name: 'server', pid: 999_999, starttime: '1' })
  for (const n of plan.nodes) {
    const p = startStandIn(n.log)
    state.processes.push({ role: 'agent', name: n.name, pid: p.pid, starttime: p.starttime })
  }
  await writeState(plan.statePath, state)
  return state
}

function control(start: (log: string) => ReturnType<typeof startStandIn> = (log) => startStandIn(log)): AgentControl {
  return { ...weftUpAgents({ dataDir: dir }), stop: (pid, starttime) => stopProcess(pid, starttime, 2000), start: (_state, n) => start(n.log) }
}

function context(lab: LabHandle | undefined): ActionContext {
  return { client, namespace: 'default', runId: 'r1', signal: AbortSignal.timeout(30_000), lab, ledger: newLedger(), pollMs: 50, evictionRetryMs: 100 }
}

const microTime = (ms: number) => new Date(ms).toISOString().replace('Z', '000Z')
async function renewLease(name: string, atMs = Date.now()): Promise<void> {
  const lease = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name, namespace: 'kube-node-lease' }, spec: { holderIdentity: name, leaseDurationSeconds: 40, renewTime: microTime(atMs) } }
  await client.patch(info('Lease'), name, 'kube-node-lease', lease, 'apply', { fieldManager: 'test-agent', force: true })
}

/** Renews `name`'s lease once lab.json names an agent other than `oldPid` for it, after `delayMs`; resolves with when. */
async function renewWhenRestarted(name: string, oldPid: number, delayMs: number): Promise<number> {
  for (;;) {
    const entry = (await readState(plan.statePath))?.processes.find((p) => p.role === 'agent' && p.name === name)
    if (entry && entry.pid !== oldPid) break
    await new Promise((r) => setTimeout(r, 20))
  }
  await new Promise((r) => setTimeout(r, delayMs))
  const at = Date.now()
  await renewLease(name, at)
  return at
}

t.test('restartAgent stops the recorded agent, starts a new one, records it, and waits for its lease renewal', async (t) => {
  const state = await freshLab()
  await renewLease('node-1', Date.now() - 5000)
  const old = state.processes.find((p) => p.name === 'node-1')!
  const renewed = renewWhenRestarted('node-1', old.pid, 300)
  const message = await executeAction(context({ dataDir: dir, agents: control() }), { kind: 'restartAgent', node: 'node-1' })
  const doneAt = Date.now()
  const after = (await readState(plan.statePath))!
  const now = after.processes.find((p) => p.role === 'agent' && p.name === 'node-1')!
  t.equal(message, `restarted the agent on node-1 (pid ${old.pid} → ${now.pid}); lease renewed, node Ready`)
  t.ok(doneAt >= (await renewed), 'complete only after the new agent renewed the lease')
  t.notOk(isAlive(old.pid, old.starttime), 'the old agent is stopped')
  t.ok(isAlive(now.pid, now.starttime), 'the new one runs')
  t.same(after.processes.filter((p) => p.name !== 'node-1'), state.processes.filter((p) => p.name !== 'node-1'), "the other processes' records are kept")
  t.equal(after.processes.length, state.processes.length, 'one record per agent')
})

t.test('restartProxy restarts the agent the proxy runs in; an agent that was not running is started', async (t) => {
  let state = await freshLab()
  const running = state.processes.find((p) => p.name === 'node-1')!
  const first = renewWhenRestarted('node-1', running.pid, 0)
  const proxy = await executeAction(context({ dataDir: dir, agents: control() }), { kind: 'restartProxy', node: 'node-1' })
  await first
  const newer = (await readState(plan.statePath))!.processes.find((p) => p.role === 'agent' && p.name === 'node-1')!
  t.equal(proxy, `restarted the proxy on node-1 by restarting its agent (pid ${running.pid} → ${newer.pid}); lease renewed, node Ready`)

  state = (await readState(plan.statePath))!
  const old = state.processes.find((p) => p.name === 'node-2')!
  await stopProcess(old.pid, old.starttime, 1000)
  const renewed = renewWhenRestarted('node-2', old.pid, 0)
  const message = await executeAction(context({ dataDir: dir, agents: control() }), { kind: 'restartProxy', node: 'node-2' })
  await renewed
  const now = (await readState(plan.statePath))!.processes.find((p) => p.role === 'agent' && p.name === 'node-2')!
  t.equal(message, `started the agent on node-2 and with it its proxy (it was not running; pid ${now.pid}); lease renewed, node Ready`)
})

t.test('a new agent that exits fails the action, pointing at its log', async (t) => {
  await freshLab()
  const error = await executeAction(context({ dataDir: dir, agents: control((log) => startStandIn(log, 0.3)) }), { kind: 'restartAgent', node: 'node-1' }).then(() => undefined, (err: Error) => err)
  t.match(error?.message, new RegExp(`^restarted the agent on node-1 \\(pid \\d+ → \\d+\\), but the new agent exited: see ${plan.nodes[0].log.replace(/[.]/g, '\\.')}$`))
})

t.test('an agent that cannot be stopped is not started twice', async (t) => {
  const state = await freshLab()
  const old = state.processes.find((p) => p.name === 'node-1')!
  const stuck = { ...control(), stop: async () => {} }
  const before = started.length
  await t.rejects(executeAction(context({ dataDir: dir, agents: stuck }), { kind: 'restartAgent', node: 'node-1' }), { message: `could not stop the agent on node-1 (pid ${old.pid}): it is still running` })
  t.same((await readState(plan.statePath))!.processes, state.processes, 'lab.json is as it was')
  t.equal(started.length, before, 'no second agent was started')
  t.ok(isAlive(old.pid, old.starttime))
  for (const p of state.processes.filter((x) => x.role === 'agent')) await stopProcess(p.pid, p.starttime, 1000)
})

t.test('preflight checks the lab, its node, and the rights to restart its agents', async (t) => {
  await freshLab()
  const scenario = parseScenario('phases:\n  - {rate: 1, duration: 1m}\nactions:\n  - {at: 1s, restartAgent: node-1}\n  - {at: 2s, restartProxy: node-9}\n', 's.yaml')
  const problems = (lab: LabHandle) => preflight(scenario, { client, namespace: 'default', lab }).then(() => [], (err: { problems: string[] }) => err.problems)
  t.same(await problems({ dataDir: dir, agents: control() }), [`s.yaml:5:5: restart the proxy on node-9: node-9 is not a node of the lab in ${dir} (its nodes: node-1, node-2)`])
  t.same(await problems({ dataDir: dir, agents: { ...control(), cannotControl: () => 'no rights' } }), ['s.yaml:4:5: restart the agent on node-1: no rights', `s.yaml:5:5: restart the proxy on node-9: node-9 is not a node of the lab in ${dir} (its nodes: node-1, node-2)`])
  t.equal(weftUpAgents({ dataDir: dir }).cannotControl(), process.getuid?.() === 0 ? undefined : 'restarting a lab agent needs root, as weft up does (run weft load with sudo)')
})

t.test('outside a lab, or for a node the lab does not have, a clear error', async (t) => {
  await freshLab()
  await t.rejects(executeAction(context(undefined), { kind: 'restartAgent', node: 'node-1' }), { message: "restartAgent works only in a lab made by weft up (the agent's process is restarted): this run has no lab" })
  await t.rejects(executeAction(context({ dataDir: dir, agents: control() }), { kind: 'restartProxy', node: 'node-9' }), { message: `node-9 is not a node of the lab in ${dir} (its nodes: node-1, node-2)` })
  const empty = await mkdtemp(join(tmpdir(), 'weft-no-lab-'))
  t.teardown(() => rm(empty, { recursive: true, force: true }))
  await t.rejects(executeAction(context({ dataDir: empty }), { kind: 'restartAgent', node: 'node-1' }), { message: `there is no lab in ${empty} (no readable lab.json): restartAgent and restartProxy work in a lab made by weft up` })
})

t.test("the agent's new command line is weft up's, without the join token", async (t) => {
  const state = initialState(plan)
  const args = restartArgs(state, state.nodes[1])
  const up = agentArgs(plan, 2, { token: 'abcdef.0123456789abcdef', caCertHash: 'sha256:00' })
  t.same(args, up.filter((a, i) => !['--token', '--ca-cert-hash'].includes(a) && !['--token', '--ca-cert-hash'].includes(up[i - 1])))
  t.same(args.slice(0, 4), [`--net=/run/netns/${plan.nodes[1].netns}`, '--', join(import.meta.dirname, '../../bin/weft'), 'agent'])
  t.ok(args.includes('--node-name') && args[args.indexOf('--node-name') + 1] === 'node-2')
  t.notOk(args.includes('--token') || args.includes('--ca-cert-hash'), 'it joined already: its credentials are in its data dir')
  const moved = { ...state, nodes: [state.nodes[0], { ...state.nodes[1], dataDir: '/elsewhere' }] }
  t.throws(() => restartArgs(moved, moved.nodes[1]), { message: `lab.json in ${dir} does not describe node node-2 as this weft's weft up would: restart it by hand` })
})
