// restartAgent / restartProxy, in a lab made by `weft up`: the node's agent (kubelet and service
// proxy in one process) is stopped (SIGTERM; the pods keep running and the proxy's nftables rules
// stay in place) and started again as weft up started it, with the node's stored credentials;
// lab.json gets the new pid so that `weft down` stops the new agent. Done once the new agent has
// renewed its node's lease and the node is Ready. The proxy runs inside the agent, so restarting
// the proxy restarts the agent.
import type { V1Lease, V1Node } from '@kubernetes/client-node'
import { join } from 'node:path'
import { isAlive, startDetached, stopProcess, type Started } from '../../src/lab/processes.ts'
import { readState, writeState, type LabState } from '../../src/lab/state.ts'
import { planLab } from '../../src/lab/topology.ts'
import { agentArgs } from '../../src/lab/up.ts'
import { kinds, type ActionContext, type LabHandle } from './context.ts'
import { ActionFailed, waitUntil } from './wait.ts'

export type LabNode = LabState['nodes'][number]

/** How a lab's agents are looked up, stopped and started: weft up's way, or a test's. */
export interface AgentControl {
  readState(): Promise<LabState | undefined>
  writeState(state: LabState): Promise<void>
  isAlive(pid: number, starttime: string): boolean
  /** SIGTERM, then SIGKILL after a grace period; nothing if `pid` is no longer that process. */
  stop(pid: number, starttime: string): Promise<void>
  start(state: LabState, node: LabNode): Started
  /** Why this process cannot stop and start the agents, if it cannot. */
  cannotControl(): string | undefined
}

/** An agent's stop takes the pods' status reports and the proxy's shutdown: it gets this long before SIGKILL. */
const AGENT_STOP_GRACE_MS = 15_000

export function labStatePath(lab: LabHandle): string {
  return join(lab.dataDir, 'lab.json')
}

/** The agent's command line as weft up gave it, without the join token: it has joined and has its credentials. */
export function restartArgs(state: LabState, node: LabNode): string[] {
  const plan = planLab(state.dataDir, state.nodes.length)
  const planned = plan.nodes.find((n) => n.name === node.name)
  if (!planned || planned.netns !== node.netns || planned.dataDir !== node.dataDir) {
    throw new ActionFailed(`lab.json in ${state.dataDir} does not describe node ${node.name} as this weft's weft up would: restart it by hand`)
  }
  const args = agentArgs(plan, planned.index, { token: '' })
  const out: string[] = []
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--token' || args[i] === '--ca-cert-hash') i++
    else out.push(args[i])
  }
  return out
}

export function weftUpAgents(lab: LabHandle): AgentControl {
  const path = labStatePath(lab)
  return {
    readState: () => readState(path),
    writeState: (state) => writeState(path, state),
    isAlive,
    stop: (pid, starttime) => stopProcess(pid, starttime, AGENT_STOP_GRACE_MS),
    start: (state, node) => startDetached('nsenter', restartArgs(state, node), node.log),
    cannotControl: () => (process.getuid?.() === 0 ? undefined : 'restarting a lab agent needs root, as weft up does (run weft load with sudo)'),
  }
}

/** lab.json is read, changed and written back by one restart at a time. */
let stateUpdates: Promise<unknown> = Promise.resolve()

function serialized<T>(work: () => Promise<T>): Promise<T> {
  const run = stateUpdates.then(work, work)
  stateUpdates = run.catch(() => undefined)
  return run
}

export function labOf(ctx: Pick<ActionContext, 'lab'>, kind: string): LabHandle {
  if (!ctx.lab) throw new ActionFailed(`${kind} works only in a lab made by weft up (the agent's process is restarted): this run has no lab`)
  return ctx.lab
}

export async function labNode(agents: AgentControl, lab: LabHandle, name: string): Promise<{ state: LabState; node: LabNode }> {
  const state = await agents.readState()
  if (!state) throw new ActionFailed(`there is no lab in ${lab.dataDir} (no readable lab.json): restartAgent and restartProxy work in a lab made by weft up`)
  const node = state.nodes.find((n) => n.name === name)
  if (!node) throw new ActionFailed(`${name} is not a node of the lab in ${lab.dataDir} (its nodes: ${state.nodes.map((n) => n.name).join(', ')})`)
  return { state, node }
}

export async function restartAgent(ctx: ActionContext, nodeName: string, kind: 'restartAgent' | 'restartProxy'): Promise<string> {
  const lab = labOf(ctx, kind)
  const agents = lab.agents ?? weftUpAgents(lab)
  const { before, started } = await serialized(async () => {
    const { state, node } = await labNode(agents, lab, nodeName)
    const recorded = state.processes.find((p) => p.role === 'agent' && p.name === nodeName)
    const running = recorded && agents.isAlive(recorded.pid, recorded.starttime) ? recorded : undefined
    if (running) {
      await agents.stop(running.pid, running.starttime)
      if (agents.isAlive(running.pid, running.starttime)) throw new ActionFailed(`could not stop the agent on ${nodeName} (pid ${running.pid}): ${agents.cannotControl() ?? 'it is still running'}`)
    }
    const startedAtMs = Date.now()
    const process = agents.start(state, node)
    const entry = { role: 'agent' as const, name: nodeName, pid: process.pid, starttime: process.starttime }
    state.processes = [...state.processes.filter((p) => p !== recorded), entry]
    await agents.writeState(state)
    return { before: running?.pid, started: { ...process, startedAtMs, log: node.log } }
  })
  const what = restarted(kind, nodeName, before, started.pid)
  return waitUntil(ctx, `the new agent on ${nodeName} to renew its lease`, async () => {
    if (!agents.isAlive(started.pid, started.starttime)) throw new ActionFailed(`${what}, but the new agent exited: see ${started.log}`)
    const lease = await ctx.client.get<V1Lease>(kinds.lease, nodeName, 'kube-node-lease', { signal: ctx.signal })
    const renewed = Date.parse(String(lease.spec?.renewTime ?? ''))
    if (!(renewed >= started.startedAtMs)) return { waiting: `the new agent on ${nodeName} (pid ${started.pid}) to renew its lease` }
    const node = await ctx.client.get<V1Node>(kinds.node, nodeName, undefined, { signal: ctx.signal })
    const ready = node.status?.conditions?.find((c) => c.type === 'Ready')
    if (ready?.status !== 'True') return { waiting: `node ${nodeName} to be Ready again (${ready?.reason ?? 'no Ready condition'})` }
    return { done: `${what}; lease renewed, node Ready` }
  })
}

function restarted(kind: 'restartAgent' | 'restartProxy', node: string, before: number | undefined, after: number): string {
  if (before === undefined) return `started the agent on ${node}${kind === 'restartProxy' ? ' and with it its proxy' : ''} (it was not running; pid ${after})`
  return `restarted ${kind === 'restartProxy' ? `the proxy on ${node} by restarting its agent` : `the agent on ${node}`} (pid ${before} → ${after})`
}
