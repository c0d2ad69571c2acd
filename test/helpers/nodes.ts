// Node agents for end-to-end tests: each node is a network namespace on an underlay
// bridge (itself in a namespace), running `weft agent` against a test API server's unix
// socket. Teardown stops the agents and removes every sandbox, namespace and process.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { kubeconfigText } from '../../src/client/kubeconfig.ts'
import { userCredentials } from './apiserver.ts'
import { closeSync, openSync, readdirSync, readFileSync, rmdirSync, rmSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { ipBatch, setSysctl } from '../../src/netlink/index.ts'
import { listSandboxes, removeSandbox } from '../../src/kubelet/runtime/index.ts'
import { onInterrupt, testNetns } from './netns.ts'
import { removeHostCgroupTree } from '../../src/kubelet/cgroups/manager.ts'

const repo = resolve(import.meta.dirname, '../..')
export const weftBin = join(repo, 'bin/weft')

interface T {
  teardown(fn: () => unknown): void
  comment(...args: unknown[]): void
  passing(): boolean
}

export interface TestNode {
  name: string
  netns: string
  ip: string
  dataDir: string
  logFile: string
  /** Starts the agent (again). */
  start(): void
  /** Stops the agent (SIGTERM); the pods keep running. */
  stop(): Promise<void>
  /** Kills the agent with SIGKILL (by its pid): it cleans nothing up. */
  kill(): Promise<void>
  /** The running agent's pid. */
  readonly pid: number | undefined
  exec(cmd: string, args: string[]): ChildProcess
}

export interface NodeOptions {
  /** Flags for this node's agent, after the underlay's. */
  agentArgs?: string[]
  /** Environment of this node's agent (default: the test's). */
  env?: NodeJS.ProcessEnv
  /** Serve the kubelet API over TCP at the agent's default (the node's IP, port 10250); otherwise on its socket only. */
  kubeletTcp?: boolean
  /** Runs in the node's namespace once it is wired, before the agent first starts. */
  beforeStart?: (netns: string) => Promise<void>
}

export interface Underlay {
  netns: string
  addNode(name: string, nodeOptions?: NodeOptions): Promise<TestNode>
}

export async function startUnderlay(t: T, opts: { socketPath: string; dir: string; agentArgs?: string[] }): Promise<Underlay> {
  const underlay = await testNetns(t, 'ul')
  // 172.31.0.1 is the nodes' default gateway and "the outside" (the lab does the same).
  await ipBatch(['link add br0 type bridge', 'addr add 172.31.0.1/24 dev br0', 'link set br0 up'], underlay)
  let count = 0
  return {
    netns: underlay,
    async addNode(name: string, nodeOptions: NodeOptions = {}): Promise<TestNode> {
      const index = ++count
      const netns = await testNetns(t, 'nd', () => teardown())
      const ip = `172.31.0.${index + 1}`
      await ipBatch([`link add ul${index} type veth peer name eth0 netns ${netns}`, `link set ul${index} master br0 up`], underlay)
      await ipBatch([`addr add ${ip}/24 dev eth0`, 'link set eth0 up', 'route add default via 172.31.0.1'], netns)
      await setSysctl('net.ipv4.ip_forward', '1', netns)
      const dataDir = join(opts.dir, name)
      await mkdir(dataDir, { recursive: true, mode: 0o700 })
      // The node's identity: a client certificate from the test CA, as a provisioned host has.
      const kubeconfig = join(dataDir, 'kubeconfig')
      const creds = await userCredentials(`system:node:${name}`, ['system:nodes'])
      await writeFile(kubeconfig, kubeconfigText({ server: 'https://localhost', caPem: creds.caPem!, user: `system:node:${name}`, certPem: creds.certPem, keyPem: creds.keyPem }), { mode: 0o600 })
      const logFile = join(opts.dir, `${name}.log`)
      // Each node's pods in a cgroup tree of its own, removed with it.
      const cgroupRoot = `/${netns}`
      let child: ChildProcess | undefined
      // Interrupted (Ctrl-C) before its teardown: the same, synchronously, before the namespaces go.
      const forget = onInterrupt(() => {
        if (child?.pid !== undefined && child.exitCode === null) process.kill(child.pid, 'SIGKILL')
        removeNodeSync(netns, cgroupRoot, dataDir)
      })
      // Runs before the node's namespace goes: the agent, then its pods.
      async function teardown(): Promise<void> {
        forget()
        await node.stop()
        // A CNI plugin the agent started runs to completion even when the agent is gone (as
        // plugins must, to keep IPAM whole): wait for the node's namespace to be empty.
        for (let waited = 0; waited < 10_000 && (await netnsPids(netns)).length > 0; waited += 100) await new Promise((r) => setTimeout(r, 100))
        if (!t.passing()) t.comment(`--- ${name} agent log ---\n${await readFile(logFile, 'utf8').catch(() => '')}`)
        for (const sandbox of await listSandboxes(dataDir)) await removeSandbox(sandbox).catch(() => undefined)
        // A container the agent (re)started as it stopped has no sandbox record yet: whatever
        // is left in the node's own cgroup tree was started by it, and goes by its pid.
        await killCgroupTree(cgroupRoot)
        await removeHostCgroupTree(cgroupRoot)
        // Removing a sandbox releases its addresses (the IPAM writes under the data dir), which
        // may be after the test server's teardown removed the directory: the node cleans its own.
        await rm(dataDir, { recursive: true, force: true })
      }
      const node: TestNode = {
        name,
        netns,
        ip,
        dataDir,
        logFile,
        start() {
          const fd = openSync(logFile, 'a')
          const env: NodeJS.ProcessEnv = { ...(nodeOptions.env ?? process.env), WEFT_LOG_LEVEL: 'info' }
          delete env.TAP
          // nsenter, not `ip netns exec`: the agent must share the host's mount namespace, or
          // the namespaces it mounts under /run/netns would be visible to it alone.
          child = spawn(
            'nsenter',
            [`--net=/run/netns/${netns}`, '--', weftBin, 'agent', '--socket', opts.socketPath, '--kubeconfig', kubeconfig, '--node-name', name, '--node-ip', ip, '--data-dir', dataDir, '--netns-prefix', `${netns}-pod`, ...(nodeOptions.kubeletTcp ? [] : ['--kubelet-listen', '']), '--host-gw', '--cgroup-root', cgroupRoot, ...(opts.agentArgs ?? []), ...(nodeOptions.agentArgs ?? [])],
            { stdio: ['ignore', fd, fd], env },
          )
          closeSync(fd)
        },
        async stop() {
          const c = child
          child = undefined
          if (!c || c.exitCode !== null) return
          const exited = new Promise((r) => c.once('exit', r))
          c.kill('SIGTERM')
          await exited
        },
        async kill() {
          const c = child
          child = undefined
          if (!c || c.exitCode !== null || c.signalCode !== null || c.pid === undefined) return
          const exited = new Promise((r) => c.once('exit', r))
          // nsenter execs bin/weft, which execs node: the child's pid is the agent's.
          process.kill(c.pid, 'SIGKILL')
          await exited
        },
        get pid() {
          return child?.pid
        },
        exec(cmd, args) {
          return spawn('ip', ['netns', 'exec', netns, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
        },
      }
      await nodeOptions.beforeStart?.(netns)
      node.start()
      return node
    },
  }
}

/**
 * What a node leaves when the test process is interrupted: its pods' processes (by pid, from
 * its own cgroup tree), their network namespaces (`<node netns>-pod-…`), the nsfs mounts under
 * its data dir, its cgroup tree and the data dir.
 */
function removeNodeSync(netns: string, cgroupRoot: string, dataDir: string): void {
  const tops = ['/sys/fs/cgroup', ...safe(() => readdirSync('/sys/fs/cgroup', { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => join('/sys/fs/cgroup', d.name)), [])]
  const dirs = (dir: string): string[] => [dir, ...safe(() => readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory()).flatMap((d) => dirs(join(dir, d.name))), [])]
  const trees = tops.flatMap((top) => dirs(join(top, cgroupRoot)))
  const podNamespaces = safe(() => readdirSync('/run/netns'), []).filter((name) => name.startsWith(`${netns}-pod`))
  // Processes in a pod's namespace outside its cgroup (a probe or a plugin the agent ran) too.
  for (const ns of podNamespaces) for (const pid of safe(() => execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }), '').split('\n').filter(Boolean)) safe(() => process.kill(Number(pid), 'SIGKILL'), undefined)
  for (let round = 0; round < 20; round++) {
    const pids = trees.flatMap((d) => safe(() => readFileSync(join(d, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number), []))
    if (pids.length === 0) break
    for (const pid of pids) safe(() => process.kill(pid, 'SIGKILL'), undefined)
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50)
  }
  for (const name of podNamespaces) safe(() => execFileSync('ip', ['netns', 'delete', name], { stdio: 'ignore' }), undefined)
  const mounts = safe(() => readFileSync('/proc/self/mountinfo', 'utf8'), '').split('\n').map((l) => l.split(' ')[4] ?? '').filter((m) => m.startsWith(`${dataDir}/`))
  for (const m of mounts.reverse()) safe(() => execFileSync('umount', ['-l', m], { stdio: 'ignore' }), undefined)
  for (const d of trees.sort((a, b) => b.length - a.length)) safe(() => rmdirSync(d), undefined)
  safe(() => rmSync(dataDir, { recursive: true, force: true }), undefined)
}

function safe<T>(fn: () => T, fallback: T): T {
  try {
    return fn()
  } catch {
    return fallback
  }
}

/** The processes in a network namespace. */
function netnsPids(netns: string): Promise<string[]> {
  return new Promise((resolvePromise) => {
    const child = spawn('ip', ['netns', 'pids', netns], { stdio: ['ignore', 'pipe', 'ignore'] })
    let out = ''
    child.stdout.on('data', (b: Buffer) => (out += b))
    child.on('close', () => resolvePromise(out.split('\n').filter(Boolean)))
    child.on('error', () => resolvePromise([]))
  })
}

/** Runs a command inside a namespace and returns its stdout (rejects on failure). */
export function execIn(netns: string, cmd: string, args: string[], timeoutMs = 10_000): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn('ip', ['netns', 'exec', netns, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs })
    let out = ''
    let err = ''
    child.stdout.on('data', (b: Buffer) => (out += b))
    child.stderr.on('data', (b: Buffer) => (err += b))
    child.on('close', (code) => (code === 0 ? resolvePromise(out) : reject(new Error(`${cmd} ${args.join(' ')} in ${netns}: exit ${code}: ${err || out}`))))
  })
}

/** SIGKILLs, by pid, every process in the cgroup tree `root` on any mounted hierarchy, until none is left (at most 2 s). */
async function killCgroupTree(root: string): Promise<void> {
  if (!/^\/[^/]+/.test(root)) throw new Error(`refusing to empty the cgroup tree ${JSON.stringify(root)}: not a node's own`)
  const tops = ['/sys/fs/cgroup', ...(await readdir('/sys/fs/cgroup', { withFileTypes: true }).catch(() => [])).filter((d) => d.isDirectory()).map((d) => join('/sys/fs/cgroup', d.name))]
  const pids = async (dir: string): Promise<number[]> => {
    const own = (await readFile(join(dir, 'cgroup.procs'), 'utf8').catch(() => '')).split('\n').filter(Boolean).map(Number)
    const children = (await readdir(dir, { withFileTypes: true }).catch(() => [])).filter((d) => d.isDirectory())
    for (const c of children) own.push(...(await pids(join(dir, c.name))))
    return own
  }
  for (let waited = 0; waited < 2000; waited += 50) {
    const left = new Set<number>()
    for (const top of tops) for (const pid of await pids(join(top, root))) left.add(pid)
    if (left.size === 0) return
    for (const pid of left) {
      try {
        process.kill(pid, 'SIGKILL')
      } catch {}
    }
    await new Promise((r) => setTimeout(r, 50))
  }
}
