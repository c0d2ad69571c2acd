// `weft up`: a multi-node cluster on this host. The API server runs on the host (loopback
// and a unix socket); each node is a network namespace on an underlay bridge, running a
// `weft agent`. Anything that fails (or Ctrl-C) tears down what was made.
import { existsSync } from 'node:fs'
import { chmod, copyFile, mkdir, readdir, readFile, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { basename, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { V1Node, V1Pod, V1Service } from '@kubernetes/client-node'
import { findByKind } from '../api/registry.ts'
import { RestClient } from '../client/index.ts'
import { labClient } from './client.ts'
import { API_RELAY_PORT, API_RELAY_READY } from './api-relay.ts'
import { createJoinToken, type JoinToken } from '../cli/token.ts'
import { loadKubeconfig } from '../client/kubeconfig.ts'
import { netnsPath } from '../netlink/index.ts'
import { applyDemoCertificate, applyManifests, loadManifests, waitForClusterDns, waitForDeployments, waitForIngress, waitForServices } from './demo.ts'
import { ensureDeps } from './deps.ts'
import { inspectLab, labDown } from './down.ts'
import { createTopology } from './network.ts'
import { publishPorts, type PublishedPort } from './port-publisher.ts'
import { startDetached, type Started } from './processes.ts'
import { initialState, writeState, type LabState } from './state.ts'
import { labCgroupRoot, planLab, socketPaths, UNDERLAY_GATEWAY, type LabPlan } from './topology.ts'
import { LabAbortedError, throwIfAborted, waitFor } from './wait.ts'

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url))
export const WEFT_BIN = join(REPO_ROOT, 'bin', 'weft')
export const DEMO_DIR = join(REPO_ROOT, 'demo')
const PREFERRED_PORT = 6443
/** One DNS pod: enough for a lab, and each is a Node.js process. */
const LAB_DNS_REPLICAS = 1
/** The host's loopback port for the demo Ingress's HTTPS (a free one when it is taken). */
const PREFERRED_INGRESS_PORT = 8443

export interface UpOptions {
  dataDir: string
  nodes: number
  /** Start no agents (and so no demo): the control plane and the topology only. */
  agents: boolean
  demo: boolean
  timeoutMs: number
  signal?: AbortSignal
  /** Progress lines. */
  log?: (line: string) => void
}

export interface UpResult {
  state: LabState
  plan: LabPlan
  /** The demo's pods, Running. */
  pods: V1Pod[]
  /** The demo's Services, answering on their ClusterIPs. */
  services: V1Service[]
  /** The cluster DNS address, once it answers the demo's Services by name. */
  dnsIP?: string
  /** The host's loopback port relayed to the first node's Ingress HTTPS port. */
  ingress?: PublishedPort
}

export async function labUp(opts: UpOptions): Promise<UpResult> {
  const log = opts.log ?? (() => {})
  if (process.getuid?.() !== 0) throw new Error('weft up needs root: it creates network namespaces (run it with sudo)')
  const plan = planLab(resolve(opts.dataDir), opts.nodes)
  for (const path of socketPaths(plan)) {
    if (Buffer.byteLength(path) > 107) throw new Error(`the unix socket path ${path} is longer than 107 bytes: choose a shorter --data-dir`)
  }
  await refuseExisting(plan)
  ensureDeps(REPO_ROOT, log)
  throwIfAborted(opts.signal)

  // The lab's data dir is weft's (new, or empty: refuseExisting checked; weft down removes
  // it): made or taken over 0700, as its store and keys are. Unlike makePrivateDir, an empty
  // directory given to weft up gets that mode too.
  await mkdir(plan.dataDir, { recursive: true, mode: 0o700 })
  await chmod(plan.dataDir, 0o700)
  await mkdir(join(plan.dataDir, 'logs'), { recursive: true, mode: 0o700 })
  const state = initialState(plan)
  await writeState(plan.statePath, state)
  // Made once the server has written its admin kubeconfig (it does so when it is ready).
  let client: RestClient | undefined
  const serverKubeconfig = join(plan.serverDataDir, 'kubeconfig')
  try {
    const exits = new Map<string, string>()
    const track = (role: LabState['processes'][number]['role'], name: string, started: Started) => {
      void started.exited.then((how) => exits.set(name, how))
      state.processes.push({ role, name, pid: started.pid, starttime: started.starttime })
      return writeState(plan.statePath, state)
    }
    const exitedFailure = (names: readonly string[]) => () => {
      const name = names.find((n) => exits.has(n))
      return name && `${name} exited (${exits.get(name)})`
    }
    const wait = { timeoutMs: opts.timeoutMs, signal: opts.signal }

    log(`starting the API server (log: ${plan.serverLog})`)
    await mkdir(plan.serverDataDir, { recursive: true, mode: 0o700 })
    const serverFailed = exitedFailure(['server'])
    // 6443 when it is free; another lab starting at the same moment may take it between
    // the check and the bind, and then any free port does.
    for (let port = (await portIsFree(PREFERRED_PORT)) ? PREFERRED_PORT : 0; ; port = 0) {
      const server = startDetached(WEFT_BIN, ['server', '--data-dir', plan.serverDataDir, '--listen', `127.0.0.1:${port}`, '--socket', plan.socket, '--kubelet-socket-dir', join(plan.dataDir, 'nodes'), '--dns-replicas', String(LAB_DNS_REPLICAS), '--ingress', 'host-network', '--advertise-address', `${UNDERLAY_GATEWAY}:${API_RELAY_PORT}`], plan.serverLog)
      await track('server', 'server', server)
      try {
        await waitFor('the API server to be ready', async () => {
          if (!existsSync(serverKubeconfig)) return undefined
          client ??= labClient(plan.socket, serverKubeconfig)
          return (await client.request('GET', '/readyz')) === 'ok' ? true : undefined
        }, { ...wait, failed: serverFailed })
        break
      } catch (err) {
        const lost = port !== 0 && exits.has('server') && /EADDRINUSE/.test(await readFile(plan.serverLog, 'utf8').catch(() => ''))
        if (!lost) throw err
        exits.delete('server')
        state.processes = state.processes.filter((p) => p.pid !== server.pid)
      }
    }
    state.url = await waitFor('the API server to write its kubeconfig', () => serverUrl(serverKubeconfig), { ...wait, failed: serverFailed })
    await copyFile(serverKubeconfig, plan.kubeconfig)
    await chmod(plan.kubeconfig, 0o600)
    const api = client!
    await writeState(plan.statePath, state)
    throwIfAborted(opts.signal)

    log(`creating ${plan.nodes.length} node namespace(s) on the underlay in ${plan.labNetns}`)
    await createTopology(plan)
    // Pods reach the API server (the kubernetes Service) through the relay on the gateway.
    const relayLog = join(plan.dataDir, 'logs', 'api-relay.log')
    const relay = startDetached('nsenter', [`--net=${netnsPath(plan.labNetns)}`, '--', WEFT_BIN, 'lab', 'api-relay', '--listen', `${UNDERLAY_GATEWAY}:${API_RELAY_PORT}`, '--socket', plan.socket], relayLog)
    await track('relay', 'api-relay', relay)
    await waitFor('the API relay to listen', async () => ((await readFile(relayLog, 'utf8').catch(() => '')).includes(API_RELAY_READY) ? true : undefined), { ...wait, failed: exitedFailure(['api-relay']) })
    throwIfAborted(opts.signal)
    if (!opts.agents) return { state, plan, pods: [], services: [] }

    // Nodes join as real hosts do: a bootstrap token, the CA pinned by its hash, a CSR.
    const joinToken = await createJoinToken(api, loadKubeconfig(plan.kubeconfig).credentials.caPem, { ttlSeconds: 3600, description: 'weft up: the lab nodes join with it' })
    for (const node of plan.nodes) {
      await mkdir(node.dataDir, { recursive: true, mode: 0o700 })
      const agent = startDetached('nsenter', agentArgs(plan, node.index, joinToken), node.log)
      await track('agent', node.name, agent)
    }
    log(`waiting for ${plan.nodes.map((n) => n.name).join(', ')} to be Ready (logs: ${join(plan.dataDir, 'logs')})`)
    const anyFailed = exitedFailure(['server', ...plan.nodes.map((n) => n.name)])
    await waitFor('the nodes to be Ready', () => nodesReady(api, plan), { ...wait, failed: anyFailed })
    if (!opts.demo) return { state, plan, pods: [], services: [] }

    const objects = await loadManifests(DEMO_DIR)
    log(`applying the demo (${DEMO_DIR})`)
    await applyDemoCertificate(api)
    await applyManifests(api, objects)
    const pods = await waitForDeployments(api, objects, { ...wait, failed: anyFailed })
    const services = await waitForServices(api, objects, plan.nodes[0]!.netns, { ...wait, failed: anyFailed })
    log('waiting for the cluster DNS to answer the demo by name')
    const dnsIP = await waitForClusterDns(api, services, plan.nodes[0]!.netns, { ...wait, failed: anyFailed })
    const first = plan.nodes[0]!
    log(`waiting for the Ingress controller on ${first.name}`)
    await waitForIngress(first.ip, first.netns, { ...wait, failed: anyFailed })
    const publisher = await publishPorts(first.netns, [{ port: PREFERRED_INGRESS_PORT, to: `${first.ip}:443` }], join(plan.dataDir, 'logs', 'port-publisher.log'))
    await track('publisher', 'port-publisher', publisher)
    return { state, plan, pods, services, dnsIP, ingress: publisher.ports[0] }
  } catch (err) {
    if (!(err instanceof LabAbortedError)) {
      // The logs go with the data dir: show how they end first.
      for (const path of [plan.serverLog, ...plan.nodes.map((n) => n.log)]) {
        const tail = await logTail(path, 15)
        if (tail) log(`the end of ${basename(path)}:\n${tail}`)
      }
      log('failed; removing what it made')
    }
    await client?.destroy().catch(() => {})
    await labDown(plan.dataDir)
    throw err
  } finally {
    await client?.close().catch(() => {})
  }
}

/**
 * The agent runs in its node's network namespace but the host's mount namespace (nsenter,
 * not `ip netns exec`, whose private mount namespace would hide the pod namespaces and
 * mounts the agent makes from everyone else).
 */
export function agentArgs(plan: LabPlan, index: number, join: JoinToken): string[] {
  const node = plan.nodes[index - 1]!
  return [
    `--net=${netnsPath(node.netns)}`,
    '--',
    WEFT_BIN,
    'agent',
    '--socket', plan.socket,
    '--token', join.token,
    '--ca-cert-hash', join.caCertHash ?? '',
    '--node-name', node.name,
    '--data-dir', node.dataDir,
    '--node-ip', node.ip,
    '--netns-prefix', node.podNetnsPrefix,
    '--host-gw',
    // Each node's pods in a cgroup tree of its own, which weft down removes.
    '--cgroup-root', labCgroupRoot(node.netns),
  ]
}

async function refuseExisting(plan: LabPlan): Promise<void> {
  const found = await inspectLab(plan.dataDir)
  const flag = `weft down --data-dir ${plan.dataDir}`
  if (found.alive.length > 0) {
    throw new Error(`a lab is already running from ${plan.dataDir} (lab ${found.state?.id}, ${found.state?.nodes.length} node(s), pids ${found.alive.map((p) => p.pid).join(' ')}); stop it with: ${flag}`)
  }
  if (found.state || found.namespaces.length > 0 || found.mounts.length > 0) {
    throw new Error(`leftovers of an earlier lab are in ${plan.dataDir} (namespaces: ${found.namespaces.join(' ') || 'none'}); remove them with: ${flag}`)
  }
  if (existsSync(plan.dataDir) && (await readdir(plan.dataDir)).length > 0) {
    throw new Error(`${plan.dataDir} is not empty and holds no lab: give weft up an empty or new --data-dir`)
  }
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((done) => {
    const probe = createServer()
    probe.once('error', () => done(false))
    probe.listen(port, '127.0.0.1', () => probe.close(() => done(true)))
  })
}

async function logTail(path: string, lines: number): Promise<string> {
  const text = await readFile(path, 'utf8').catch(() => '')
  const cut = (l: string) => (l.length > 300 ? `${l.slice(0, 300)}…` : l)
  return text.trimEnd().split('\n').slice(-lines).map((l) => `    ${cut(l)}`).join('\n').trimEnd()
}

async function serverUrl(kubeconfig: string): Promise<string | undefined> {
  const text = await readFile(kubeconfig, 'utf8').catch(() => '')
  return /^\s*server:\s*(\S+)\s*$/m.exec(text)?.[1]
}

/** True once every lab node is Ready; otherwise throws what is missing (reported if time runs out). */
async function nodesReady(client: RestClient, plan: LabPlan): Promise<true> {
  const list = await client.list<V1Node>(findByKind('v1', 'Node')!)
  const missing: string[] = []
  for (const { name } of plan.nodes) {
    const node = list.items.find((n) => n.metadata?.name === name)
    const ready = node?.status?.conditions?.find((c) => c.type === 'Ready')
    if (!node) missing.push(`${name} has not registered`)
    else if (ready?.status !== 'True') missing.push(`${name} is not Ready${ready ? ` (${ready.reason ?? ready.status}: ${ready.message ?? ''})` : ''}`)
  }
  if (missing.length > 0) throw new Error(missing.join('; '))
  return true
}
